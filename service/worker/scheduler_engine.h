// SchedulerEngine: the production JobEngine — a loaded Llm driven by sched::Scheduler.
#pragma once

#include <memory>

#include "engine/model/llm.h"
#include "engine/sched/scheduler.h"
#include "service/worker/job_engine.h"

namespace zinfer::worker {

class SchedulerEngine final : public JobEngine {
 public:
  // Loads the model and builds the scheduler; errors are the engine's (MODEL_LOAD_FAILED,
  // INVALID_DEVICE, INVALID_PARAMETER naming the option, ...).
  static Result<std::unique_ptr<SchedulerEngine>> create(
      const LlmOptions& llm_options, const sched::SchedulerConfig& sched_config);

  const EngineInfo& info() const override { return info_; }
  Status add(sched::JobSpec spec) override { return sched_->add(std::move(spec)); }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    return sched_->cancel(id, reason);
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point now) override {
    return sched_->step(now);
  }
  bool idle() const override { return sched_->idle(); }
  std::vector<sched::JobId> live_ids() const override {
    std::vector<sched::JobId> ids = sched_->waiting_ids();
    for (sched::JobId id : sched_->running_ids()) ids.push_back(id);
    return ids;
  }
  sched::SchedulerStats stats() const override { return sched_->stats(); }

 private:
  std::unique_ptr<Llm> llm_;
  std::unique_ptr<sched::Scheduler> sched_;
  EngineInfo info_;
};

}  // namespace zinfer::worker
