// WorkerMetrics in a build without prometheus-cpp or cpp-httplib (see metrics.h): --metrics is
// refused, naming the library the build lacked; nothing else of the worker changes.
#include "service/worker/metrics.h"

#ifndef ZINFER_METRICS_MISSING  // set by service/CMakeLists.txt
#define ZINFER_METRICS_MISSING "prometheus-cpp or cpp-httplib"
#endif

namespace zinfer::worker {

struct WorkerMetrics::State {
  std::string url;
};

WorkerMetrics::WorkerMetrics() : s_(std::make_unique<State>()) {}
WorkerMetrics::~WorkerMetrics() = default;

Result<std::unique_ptr<WorkerMetrics>> WorkerMetrics::create(const std::string& bind,
                                                             Sources /*sources*/) {
  return make_error(
      ErrorCode::kInvalidParameter,
      "--metrics " + bind +
          ": this zinfer was built without Prometheus support (" ZINFER_METRICS_MISSING
          " was not found at build time; scripts/setup.sh installs it)");
}

const std::string& WorkerMetrics::url() const { return s_->url; }
void WorkerMetrics::job_accepted(std::int32_t /*prompt_tokens*/) {}
void WorkerMetrics::job_rejected(ErrorCode /*code*/) {}
void WorkerMetrics::job_ended(const OutFrame& /*terminal*/) {}
void WorkerMetrics::step_finished(double /*seconds*/) {}
void WorkerMetrics::watch_queue(std::function<QueueCounters()> /*read*/) {}

}  // namespace zinfer::worker
