// StubEngine: the trivial sched::JobEngine of `zinfer bench --service` (benchmark only): no model;
// each step gives every job one token (id = its position), instantly or at a fixed step period,
// and the text of every event is the step's end time (steady clock, ns), so a client can tell
// how long the frame took to reach it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>

#include "engine/sched/job_engine.h"

namespace zinfer::cli {

// Nanoseconds on the steady clock (shared by the stub's stamps and the bench clients).
std::int64_t steady_now_ns();

class StubEngine final : public sched::JobEngine {
 public:
  StubEngine(std::int32_t capacity, std::int64_t step_us) : step_us_(step_us) {
    info_.model = "service-bench-stub";
    info_.architecture = "none";
    info_.device = "cpu";
    info_.context_length = 1 << 20;
    info_.vocab_size = 1 << 20;
    info_.capacity = capacity;
  }
  const sched::EngineInfo& info() const override { return info_; }
  Status add(sched::JobSpec spec) override {
    jobs_.emplace(
        spec.id, Job{spec.params().max_tokens, 0, static_cast<std::int32_t>(spec.prompt().size())});
    return ok_status();
  }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    sched::JobEvent ev = terminal(id, it->second, reason);
    jobs_.erase(it);
    return ev;
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point) override;
  bool idle() const override { return jobs_.empty(); }
  std::vector<sched::JobId> live_ids() const override {
    std::vector<sched::JobId> ids;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
    return ids;
  }
  sched::SchedulerStats stats() const override {
    sched::SchedulerStats s;
    s.running = static_cast<std::int32_t>(jobs_.size());
    s.steps = steps_;
    s.tokens_generated = steps_tokens_;
    return s;
  }

 private:
  struct Job {
    std::int32_t max_tokens;
    std::int32_t produced;
    std::int32_t prompt_tokens;
  };
  static sched::JobEvent terminal(sched::JobId id, const Job& j, sched::FinishReason reason) {
    sched::JobEvent ev;
    ev.id = id;
    ev.finish = reason;
    ev.started = true;
    ev.prompt_tokens = j.prompt_tokens;
    ev.completion_tokens = j.produced;
    return ev;
  }
  sched::EngineInfo info_;
  std::int64_t step_us_;
  std::chrono::steady_clock::time_point next_step_ = std::chrono::steady_clock::now();
  std::map<sched::JobId, Job> jobs_;
  std::uint64_t steps_ = 0, steps_tokens_ = 0;
};

}  // namespace zinfer::cli
