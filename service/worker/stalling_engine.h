// StallingEngine: a test hook (serve's hidden --test-stall-after-steps N): wraps a sched::JobEngine
// and, after N steps have completed, blocks the next step for --test-stall-seconds, as a wedged
// device call or a deadlock would. Lets the process tests check that `health` turns
// "stalled" and `zinfer health` fails while the I/O thread still answers. Never used otherwise.
#pragma once

#include <chrono>
#include <memory>
#include <thread>

#include "engine/sched/job_engine.h"

namespace zinfer::worker {

class StallingEngine final : public sched::JobEngine {
 public:
  StallingEngine(std::unique_ptr<sched::JobEngine> inner, std::uint64_t stall_after_steps,
                 double stall_s)
      : inner_(std::move(inner)), after_(stall_after_steps), stall_s_(stall_s) {}

  const sched::EngineInfo& info() const override { return inner_->info(); }
  Status add(sched::JobSpec spec) override { return inner_->add(std::move(spec)); }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    return inner_->cancel(id, reason);
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point now) override {
    if (steps_++ == after_) {
      std::this_thread::sleep_for(std::chrono::duration<double>(stall_s_));
      now = sched::Clock::now();
    }
    return inner_->step(now);
  }
  bool idle() const override { return inner_->idle(); }
  std::vector<sched::JobId> live_ids() const override { return inner_->live_ids(); }
  sched::SchedulerStats stats() const override { return inner_->stats(); }

 private:
  std::unique_ptr<sched::JobEngine> inner_;
  std::uint64_t after_;
  double stall_s_;
  std::uint64_t steps_ = 0;
};

}  // namespace zinfer::worker
