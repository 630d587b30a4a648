// Heartbeat: the engine thread's proof of forward progress, read by the I/O thread (health)
// and the metrics endpoint. The engine thread stamps the start and end of every step; the I/O
// thread counts jobs in and out. "Stalled" means work is pending and no step has completed
// for the stall timeout: a step running longer than that, or an engine thread that stopped
// taking work (a health check that only asks the I/O thread would still say "ready").
// Lock-free: every field is an atomic, so a wedged engine thread cannot block a reader.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace zinfer::worker {

// What a reader sees at one instant.
struct HeartbeatView {
  std::uint64_t steps_completed = 0;
  double last_step_age_s = -1.0;  // since the last step completed; -1 before the first
  double busy_s = 0.0;            // how long work has been pending without a completed step
  std::int64_t live_jobs = 0;     // accepted, terminal frame not yet handed to the I/O thread
  bool stalled = false;
};

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  // stall_timeout_s ≤ 0 turns detection off (stalled is never reported).
  explicit Heartbeat(double stall_timeout_s) : stall_timeout_s_(stall_timeout_s) {}

  // Engine thread, around every step.
  void step_started(Clock::time_point now);
  void step_finished(Clock::time_point now);
  // I/O thread: a job was handed to the engine / n jobs' terminal frames came back.
  void jobs_added(std::int64_t n, Clock::time_point now);
  void jobs_ended(std::int64_t n);

  HeartbeatView view(Clock::time_point now) const;
  double stall_timeout_s() const { return stall_timeout_s_; }

 private:
  static std::int64_t ns(Clock::time_point t) { return t.time_since_epoch().count(); }

  double stall_timeout_s_;
  std::atomic<std::uint64_t> steps_{0};
  std::atomic<std::int64_t> last_end_ns_{0};       // 0: no step completed yet
  std::atomic<std::int64_t> step_start_ns_{0};     // 0: no step in progress
  std::atomic<std::int64_t> pending_since_ns_{0};  // when live_jobs_ last went 0 → 1
  std::atomic<std::int64_t> live_jobs_{0};
};

}  // namespace zinfer::worker
