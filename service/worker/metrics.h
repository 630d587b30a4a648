// WorkerMetrics: the worker's Prometheus metrics (serve --metrics HOST:PORT): prometheus-cpp's
// registry and text format, exposed over HTTP by MetricsHttpServer (cpp-httplib on a thread of
// ours; not prometheus-cpp's civetweb Exposer, which cannot start threads in a CUDA-linked
// binary — see metrics_http_server.h). Names follow vLLM's metrics with the zinfer_ prefix so
// dashboards and alerts carry over:
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
//   with a durable queue attached (serve --nats; watch_queue):
//   counters zinfer_jetstream_deliveries_total, _redeliveries_total (attempt > 1),
//            _acks_total, _naks_total, _terms_total, _in_progress_acks_total,
//            _dead_letters_total, _settle_failures_total
//   gauge    zinfer_jetstream_ack_pending (fetched by this worker, not settled yet)
// Gauges and the engine's own counters are read at scrape time (a Collectable over the
// engine snapshot and the heartbeat); per-job numbers are recorded by the I/O thread as each
// terminal frame passes, so they agree with what clients received.
// Built only where prometheus-cpp is found (ZINFER_HAVE_METRICS, always in CI and the images);
// without it create() refuses --metrics naming the missing library (metrics_unavailable.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "service/worker/engine_loop.h"
#include "service/worker/heartbeat.h"
#include "service/worker/job_source.h"

namespace zinfer::worker {

class WorkerMetrics {
 public:
  // What the scrape-time collector reads (any thread; both must outlive the metrics).
  struct Sources {
    std::function<sched::SchedulerStats()> engine_stats;
    const Heartbeat* heartbeat = nullptr;
  };

  // Binds the HTTP endpoint ("127.0.0.1:9400", "0.0.0.0:9400"; port 0 picks a free one).
  // kInvalidParameter naming --metrics when the address cannot be bound.
  static Result<std::unique_ptr<WorkerMetrics>> create(const std::string& bind, Sources sources);
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // The scrape URL with the port resolved: http://127.0.0.1:41234/metrics.
  const std::string& url() const;
  // I/O thread.
  void job_accepted(std::int32_t prompt_tokens);
  void job_rejected(ErrorCode code);
  void job_ended(const OutFrame& terminal);
  // Engine thread, after each step.
  void step_finished(double seconds);
  // Exports a durable queue's counters, read at scrape time (`read` runs on the scrape
  // threads; what it reads must outlive the metrics). Once, before run().
  void watch_queue(std::function<QueueCounters()> read);

 private:
  struct State;  // the prometheus-cpp registry, families and exposer (metrics.cpp)
  WorkerMetrics();
  std::unique_ptr<State> s_;
};

}  // namespace zinfer::worker
