// JobMapEngine: the bookkeeping of the simple JobEngines that hold their jobs in a map by id —
// the model-free engine of `zinfer bench --service` and the worker tests' doubles: the
// EngineInfo, idle, live_ids and the running count of stats. Each adds add, cancel and step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/sched/job_engine.h"

namespace zinfer::sched {

template <typename Job>
class JobMapEngine : public JobEngine {
 public:
  const EngineInfo& info() const override { return info_; }
  bool idle() const override { return jobs_.empty(); }
  std::vector<JobId> live_ids() const override {
    std::vector<JobId> ids;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
    return ids;
  }
  SchedulerStats stats() const override {
    SchedulerStats s;
    s.running = static_cast<std::int32_t>(jobs_.size());
    return s;
  }

 protected:
  // A model-free engine on "cpu" named `model`.
  JobMapEngine(std::string model, std::string architecture, std::int32_t context_length,
               std::int32_t vocab_size, std::int32_t capacity) {
    info_.model = std::move(model);
    info_.architecture = std::move(architecture);
    info_.device = "cpu";
    info_.context_length = context_length;
    info_.vocab_size = vocab_size;
    info_.capacity = capacity;
  }

  // The event of a started job with its token counts so far; the caller adds the rest.
  static JobEvent started_event(JobId id, std::int32_t prompt_tokens,
                                std::int32_t completion_tokens) {
    JobEvent ev;
    ev.id = id;
    ev.started = true;
    ev.prompt_tokens = prompt_tokens;
    ev.completion_tokens = completion_tokens;
    return ev;
  }

  EngineInfo info_;
  std::map<JobId, Job> jobs_;
};

}  // namespace zinfer::sched
