// EngineLoop: the worker's engine thread. It drives the sched::JobEngine, takes commands (submit,
// cancel, drain) from the I/O thread through a mutex-protected inbox, runs engine steps, turns
// each job's events into encoded wire frames (at most one per job per step, exactly one
// terminal frame per job) and hands them back through an outbox, waking the I/O thread over
// an inproc PAIR socket. It never touches the network and never waits on a client.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/sched/job_engine.h"
#include "service/protocol/messages.h"
#include "service/worker/heartbeat.h"

namespace zinfer::worker {

using JobHandle = std::uint64_t;  // worker-wide job id (also the sched::JobEngine's JobId)

// An accepted job, handed from the I/O thread to the engine thread.
struct SubmitCommand {
  JobHandle handle = 0;
  std::string job_id;   // the client's id, echoed in frames
  std::string client;   // printable client identity, for log lines
  sched::JobSpec spec;  // spec.id == handle
  bool stream = true;
  bool logprobs = false;
};

enum class FrameKind : std::uint8_t { kToken, kDone, kError };

// One encoded worker → client frame for one job.
struct OutFrame {
  JobHandle handle = 0;
  FrameKind kind = FrameKind::kToken;
  std::string payload;  // msgpack WorkerMessage
  // For the I/O thread's accounting of terminal frames:
  sched::FinishReason finish = sched::FinishReason::kNone;  // kDone
  ErrorCode error = ErrorCode::kInternal;                   // kError
  std::uint32_t completion_tokens = 0;                      // terminal frames
  std::int32_t prompt_tokens = 0;                           // kDone (metrics)
  sched::JobTimings timings{};                              // kDone (metrics)
  bool terminal() const { return kind != FrameKind::kToken; }
};

// Accepted jobs not running yet: the jobs live in the worker (accepted, terminal frame not
// yet handled; a job in flight between the threads counts) minus those the engine runs. The
// one definition of the wire's queue_depth (health, stats, accepted.position) and the
// metric zinfer_num_requests_waiting.
inline std::int32_t queue_depth(std::int64_t live_jobs, const sched::SchedulerStats& engine) {
  return static_cast<std::int32_t>(std::max<std::int64_t>(0, live_jobs - engine.running));
}

class EngineLoop {
 public:
  // wake_endpoint: an inproc:// endpoint the I/O thread has bound a PAIR socket to.
  EngineLoop(sched::JobEngine& engine, void* zmq_context, std::string wake_endpoint,
             std::int32_t max_pending_frames);
  ~EngineLoop();
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Before start(): where steps are stamped (health's stall check) and who hears each step's
  // wall time (metrics). Both optional.
  void set_heartbeat(Heartbeat* heartbeat) { heartbeat_ = heartbeat; }
  void set_step_observer(std::function<void(double seconds)> observer) {
    step_observer_ = std::move(observer);
  }

  void start();
  // Stops the thread; live jobs are dropped without frames (use end_all() first).
  void stop();

  // Any thread. Commands are applied in order, before the next engine step.
  void submit(SubmitCommand cmd);
  void cancel(JobHandle handle);  // → done, finish_reason "cancelled" (no-op if not live)
  // Drain timeout: every live job ends now — done "cancelled" if it produced tokens, else
  // error DRAINING (retriable: it never started, another worker can run it).
  void end_all();

  // I/O thread, after a wake-up: the frames produced since the last call, in order.
  std::vector<OutFrame> take_frames();
  // Any thread: the engine's stats as of the last step.
  sched::SchedulerStats stats() const;
  // Any thread: the engine thread hit an unrecoverable error; every live job's error frame has
  // been published and the worker must exit 1.
  bool failed() const { return failed_published_.load(std::memory_order_acquire); }

 private:
  struct CancelCmd {
    JobHandle handle;
  };
  struct EndAllCmd {};
  using Command = std::variant<SubmitCommand, CancelCmd, EndAllCmd>;

  // Per-job wire state (engine thread only).
  struct WireJob {
    std::string job_id;
    std::string client;
    bool stream = true;
    bool logprobs = false;
    bool channels = false;                             // harmony job: frames carry reasoning
    std::uint64_t seq = 0;                             // next frame number
    std::optional<sched::Clock::time_point> deadline;  // submit.deadline_ms, if given
    bool has_token = false;                            // the job's first token was emitted
    std::string held_text;                             // stream = false: text so far
    std::string held_reasoning;                        // stream = false: reasoning so far
    std::vector<std::int32_t> held_tokens;
    std::vector<protocol::TokenLogprob> held_logprobs;
  };

  void push(Command cmd);
  void run();
  void apply(Command& cmd, std::vector<OutFrame>& out);
  // Moves the event's tokens/text out. `step_end`: when the step that made the event returned
  // (the time its tokens exist, for the deadline rule of the first token).
  void emit(sched::JobEvent& ev, std::vector<OutFrame>& out, sched::Clock::time_point step_end);
  void emit_error(JobHandle handle, const Error& error, std::vector<OutFrame>& out);
  void fail_all(const std::string& why, std::vector<OutFrame>& out);
  // Ends every live job with `error` and marks the engine failed (the worker then exits 1).
  void fail_all(const Error& error, std::vector<OutFrame>& out);
  void publish(std::vector<OutFrame>& frames);
  void publish_stats_now();

  sched::JobEngine& engine_;
  void* zmq_context_;
  std::string wake_endpoint_;
  std::int32_t max_pending_frames_;
  std::thread thread_;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::deque<Command> inbox_;
  std::vector<OutFrame> outbox_;
  bool wake_pending_ = false;
  bool stop_ = false;

  mutable std::mutex stats_mu_;
  sched::SchedulerStats stats_;  // guarded by stats_mu_
  std::atomic<bool> failed_published_{false};

  std::unordered_map<JobHandle, WireJob> jobs_;  // engine thread only
  bool failed_ = false;                          // engine thread only (published by failed())
  void* wake_socket_ = nullptr;                  // engine thread only
  Heartbeat* heartbeat_ = nullptr;
  std::function<void(double)> step_observer_;
};

}  // namespace zinfer::worker
