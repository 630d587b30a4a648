// StubEngine: the trivial sched::JobEngine of `zinfer bench --service` (benchmark only): no model;
// each step gives every job one token (id = its position), instantly or at a fixed step period,
// and the text of every event is the step's end time (steady clock, ns), so a client can tell
// how long the frame took to reach it.
#pragma once

#include <chrono>
#include <cstdint>

#include "engine/sched/job_map_engine.h"

namespace zinfer::cli {

// Nanoseconds on the steady clock (shared by the stub's stamps and the bench clients).
std::int64_t steady_now_ns();

struct StubJob {
  std::int32_t max_tokens;
  std::int32_t produced;
  std::int32_t prompt_tokens;
};

class StubEngine final : public sched::JobMapEngine<StubJob> {
 public:
  StubEngine(std::int32_t capacity, std::int64_t step_us)
      : JobMapEngine("service-bench-stub", "none", /*context_length=*/1 << 20,
                     /*vocab_size=*/1 << 20, capacity),
        step_us_(step_us) {}
  Status add(sched::JobSpec spec) override {
    jobs_.emplace(spec.id, StubJob{spec.params().max_tokens, 0,
                                   static_cast<std::int32_t>(spec.prompt().size())});
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
  sched::SchedulerStats stats() const override {
    sched::SchedulerStats s = JobMapEngine::stats();
    s.steps = steps_;
    s.tokens_generated = steps_tokens_;
    return s;
  }

 private:
  static sched::JobEvent terminal(sched::JobId id, const StubJob& j, sched::FinishReason reason) {
    sched::JobEvent ev = started_event(id, j.prompt_tokens, j.produced);
    ev.finish = reason;
    return ev;
  }
  std::int64_t step_us_;
  std::chrono::steady_clock::time_point next_step_ = std::chrono::steady_clock::now();
  std::uint64_t steps_ = 0, steps_tokens_ = 0;
};

}  // namespace zinfer::cli
