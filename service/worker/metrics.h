// WorkerMetrics: the worker's Prometheus metrics (serve --metrics HOST:PORT), exposed over
// HTTP by prometheus-cpp (its civetweb server, on threads of its own). Names follow vLLM's
// metrics with the zinfer_ prefix so dashboards and alerts carry over:
//   gauges   zinfer_num_requests_running / _waiting, zinfer_kv_cache_usage_perc (a 0..1 ratio,
//            as vLLM's), zinfer_engine_stalled, zinfer_engine_last_step_age_seconds
//   counters zinfer_prompt_tokens_total, zinfer_generation_tokens_total,
//            zinfer_num_preemptions_total, zinfer_prefix_cache_hits_total (tokens),
//            zinfer_engine_steps_total, zinfer_requests_accepted_total,
//            zinfer_request_success_total{finished_reason}, zinfer_request_errors_total{code},
//            zinfer_request_rejected_total{code}
//   histograms zinfer_request_queue_time_seconds, zinfer_time_to_first_token_seconds,
//            zinfer_time_per_output_token_seconds, zinfer_e2e_request_latency_seconds,
//            zinfer_request_prompt_tokens, zinfer_request_generation_tokens,
//            zinfer_engine_step_duration_seconds
// Gauges and the engine's own counters are read at scrape time (a Collectable over the
// engine snapshot and the heartbeat); per-job numbers are recorded by the I/O thread as each
// terminal frame passes, so they agree with what clients received.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "service/worker/engine_loop.h"
#include "service/worker/heartbeat.h"

namespace prometheus {
class Exposer;
}

namespace zinfer::worker {

class WorkerMetrics {
 public:
  // What the scrape-time collector reads (any thread; both must outlive the metrics).
  struct Sources {
    std::function<EngineSnapshot()> snapshot;
    const Heartbeat* heartbeat = nullptr;
  };

  // Binds the HTTP endpoint ("127.0.0.1:9400", "0.0.0.0:9400"; port 0 picks a free one).
  // kInvalidParameter naming --metrics when the address cannot be bound.
  static Result<std::unique_ptr<WorkerMetrics>> create(const std::string& bind, Sources sources);
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // The scrape URL with the port resolved: http://127.0.0.1:41234/metrics.
  const std::string& url() const { return url_; }
  // For other ingress paths (JetStream) to add their own families.
  prometheus::Registry& registry() { return *registry_; }

  // I/O thread.
  void job_accepted(std::int32_t prompt_tokens);
  void job_rejected(ErrorCode code);
  void job_ended(const OutFrame& terminal);
  // Engine thread, after each step.
  void step_finished(double seconds);

 private:
  WorkerMetrics() = default;
  prometheus::Counter& labelled(prometheus::Family<prometheus::Counter>& family,
                                std::map<std::string, prometheus::Counter*>& cache,
                                const std::string& label, const std::string& value);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> engine_collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string url_;

  prometheus::Counter* accepted_ = nullptr;
  prometheus::Counter* prompt_tokens_ = nullptr;
  prometheus::Family<prometheus::Counter>* success_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_ = nullptr;
  std::map<std::string, prometheus::Counter*> success_by_reason_, errors_by_code_,
      rejected_by_code_;  // I/O thread only
  prometheus::Histogram* queue_time_ = nullptr;
  prometheus::Histogram* ttft_ = nullptr;
  prometheus::Histogram* tpot_ = nullptr;
  prometheus::Histogram* e2e_ = nullptr;
  prometheus::Histogram* request_prompt_tokens_ = nullptr;
  prometheus::Histogram* request_generation_tokens_ = nullptr;
  prometheus::Histogram* step_time_ = nullptr;
};

}  // namespace zinfer::worker
