// WorkerMetrics (see metrics.h).
#include "service/worker/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <map>

#include "engine/sched/sequence.h"
#include "service/worker/metrics_http_server.h"

namespace zinfer::worker {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// vLLM's bucket boundaries (seconds), so percentiles compare across the two.
const prometheus::Histogram::BucketBoundaries kTtftBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const prometheus::Histogram::BucketBoundaries kTpotBuckets = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
    0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const prometheus::Histogram::BucketBoundaries kTokenBuckets = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};
const prometheus::Histogram::BucketBoundaries kStepBuckets = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0};

MetricFamily one(const std::string& name, const std::string& help, MetricType type, double v) {
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return MetricFamily{name, help, type, {m}};
}

// Engine-side numbers, read when Prometheus scrapes: nothing on the engine's step path.
class EngineCollector final : public prometheus::Collectable {
 public:
  explicit EngineCollector(WorkerMetrics::Sources s) : s_(std::move(s)) {}
  std::vector<MetricFamily> Collect() const override {
    const sched::SchedulerStats e = s_.engine_stats();
    const HeartbeatView hb = s_.heartbeat->view(Heartbeat::Clock::now());
    const double kv =
        e.kv_total_blocks > 0 ? static_cast<double>(e.kv_used_blocks) / e.kv_total_blocks : 0.0;
    const double waiting = static_cast<double>(queue_depth(hb.live_jobs, e));
    return {
        one("zinfer_num_requests_running", "Jobs generating (in the running batch).",
            MetricType::Gauge, e.running),
        one("zinfer_num_requests_waiting", "Accepted jobs not running yet.", MetricType::Gauge,
            waiting),
        one("zinfer_kv_cache_usage_perc", "KV-cache blocks in use, as a ratio 0..1.",
            MetricType::Gauge, kv),
        one("zinfer_engine_stalled",
            "1 while work is pending and no engine step has completed for --stall-timeout.",
            MetricType::Gauge, hb.stalled ? 1.0 : 0.0),
        one("zinfer_engine_last_step_age_seconds",
            "Seconds since the last engine step completed (-1 before the first).",
            MetricType::Gauge, hb.last_step_age_s),
        one("zinfer_engine_steps_total", "Engine steps (batched forward passes) completed.",
            MetricType::Counter, static_cast<double>(hb.steps_completed)),
        one("zinfer_generation_tokens_total", "Tokens sampled by the engine.", MetricType::Counter,
            static_cast<double>(e.tokens_generated)),
        one("zinfer_num_preemptions_total", "Jobs preempted (KV blocks released, recomputed).",
            MetricType::Counter, static_cast<double>(e.preemptions)),
        one("zinfer_prefix_cache_hits_total",
            "Prompt tokens whose KV was reused from the prefix cache (--prefix-cache).",
            MetricType::Counter, static_cast<double>(e.tokens_reused)),
    };
  }

 private:
  WorkerMetrics::Sources s_;
};

// A durable queue's counters (JetStream), read when Prometheus scrapes.
class QueueCollector final : public prometheus::Collectable {
 public:
  explicit QueueCollector(std::function<QueueCounters()> read) : read_(std::move(read)) {}
  std::vector<MetricFamily> Collect() const override {
    const QueueCounters q = read_();
    auto counter = [](const char* name, const char* help, std::uint64_t v) {
      return one(name, help, MetricType::Counter, static_cast<double>(v));
    };
    return {
        counter("zinfer_jetstream_deliveries_total",
                "Job messages this worker fetched from JetStream (every delivery attempt).",
                q.deliveries),
        counter("zinfer_jetstream_redeliveries_total",
                "Deliveries with attempt > 1 (a worker died, handed the job back, or missed the "
                "ack wait).",
                q.redeliveries),
        counter("zinfer_jetstream_acks_total", "Jobs acked: finished, result stored.", q.acks),
        counter("zinfer_jetstream_naks_total",
                "Jobs handed back for another delivery (drain, a fault of this worker).", q.naks),
        counter("zinfer_jetstream_terms_total",
                "Jobs terminated: a permanent error (or the last delivery's), never redelivered.",
                q.terms),
        counter("zinfer_jetstream_in_progress_acks_total",
                "In-progress acks that kept running jobs from redelivery.", q.in_progress_acks),
        counter("zinfer_jetstream_dead_letters_total",
                "Jobs out of deliveries (--nats-max-deliver) this worker moved to the dead-letter "
                "subject.",
                q.dead_letters),
        counter("zinfer_jetstream_settle_failures_total",
                "Acks, naks and terms the server did not take (the job is redelivered).",
                q.settle_failures),
        one("zinfer_jetstream_ack_pending",
            "Deliveries fetched by this worker and not settled yet.", MetricType::Gauge,
            static_cast<double>(q.unsettled)),
    };
  }

 private:
  std::function<QueueCounters()> read_;
};

}  // namespace

struct WorkerMetrics::State {
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> engine_collector_;
  std::shared_ptr<prometheus::Collectable> queue_collector_;  // null without a durable queue
  std::unique_ptr<MetricsHttpServer> server_;
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

  // The counter of `family` with label=value, created on first use.
  prometheus::Counter& labelled(prometheus::Family<prometheus::Counter>& family,
                                std::map<std::string, prometheus::Counter*>& cache,
                                const std::string& label, const std::string& value) {
    auto it = cache.find(value);
    if (it == cache.end()) it = cache.emplace(value, &family.Add({{label, value}})).first;
    return *it->second;
  }
};

WorkerMetrics::WorkerMetrics() : s_(std::make_unique<State>()) {}

Result<std::unique_ptr<WorkerMetrics>> WorkerMetrics::create(const std::string& bind,
                                                             Sources sources) {
  std::unique_ptr<WorkerMetrics> m(new WorkerMetrics());
  m->s_->registry_ = std::make_shared<prometheus::Registry>();
  auto& r = *m->s_->registry_;
  m->s_->accepted_ = &prometheus::BuildCounter()
                          .Name("zinfer_requests_accepted_total")
                          .Help("Jobs accepted (answered with an accepted frame).")
                          .Register(r)
                          .Add({});
  m->s_->prompt_tokens_ = &prometheus::BuildCounter()
                               .Name("zinfer_prompt_tokens_total")
                               .Help("Prompt tokens of accepted jobs.")
                               .Register(r)
                               .Add({});
  m->s_->success_ = &prometheus::BuildCounter()
                         .Name("zinfer_request_success_total")
                         .Help("Jobs that ended with a done frame, by finish_reason.")
                         .Register(r);
  m->s_->errors_ = &prometheus::BuildCounter()
                        .Name("zinfer_request_errors_total")
                        .Help("Accepted jobs that ended with an error frame, by error code.")
                        .Register(r);
  m->s_->rejected_ =
      &prometheus::BuildCounter()
           .Name("zinfer_request_rejected_total")
           .Help("Requests answered with an error and never accepted, by error code.")
           .Register(r);
  auto histogram = [&](const char* name, const char* help,
                       const prometheus::Histogram::BucketBoundaries& b) {
    return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, b);
  };
  m->s_->queue_time_ =
      histogram("zinfer_request_queue_time_seconds",
                "Arrival to first admission into the running batch.", kRequestBuckets);
  m->s_->ttft_ =
      histogram("zinfer_time_to_first_token_seconds", "Arrival to first token.", kTtftBuckets);
  m->s_->tpot_ =
      histogram("zinfer_time_per_output_token_seconds",
                "Mean inter-token latency of a job after its first token.", kTpotBuckets);
  m->s_->e2e_ = histogram("zinfer_e2e_request_latency_seconds", "Arrival to the last token.",
                          kRequestBuckets);
  m->s_->request_prompt_tokens_ =
      histogram("zinfer_request_prompt_tokens", "Prompt tokens per finished job.", kTokenBuckets);
  m->s_->request_generation_tokens_ = histogram(
      "zinfer_request_generation_tokens", "Generated tokens per finished job.", kTokenBuckets);
  m->s_->step_time_ =
      histogram("zinfer_engine_step_duration_seconds",
                "Wall time of one engine step (batched forward + sampling).", kStepBuckets);
  // The usual label values exist from the start, at 0, so rate() and dashboards see them
  // before the first occurrence; rarer ones appear when they first happen.
  for (const char* reason : {"stop", "length", "cancelled", "deadline"})
    m->s_->labelled(*m->s_->success_, m->s_->success_by_reason_, "finished_reason", reason);
  for (ErrorCode c : {ErrorCode::kInferenceFailed, ErrorCode::kOutOfMemory,
                      ErrorCode::kDeadlineExceeded, ErrorCode::kDraining, ErrorCode::kInternal})
    m->s_->labelled(*m->s_->errors_, m->s_->errors_by_code_, "code",
                    std::string(error_code_name(c)));
  for (ErrorCode c :
       {ErrorCode::kInvalidRequest, ErrorCode::kInvalidParameter, ErrorCode::kPromptTooLong,
        ErrorCode::kDuplicateJob, ErrorCode::kQueueFull, ErrorCode::kDraining})
    m->s_->labelled(*m->s_->rejected_, m->s_->rejected_by_code_, "code",
                    std::string(error_code_name(c)));
  m->s_->engine_collector_ = std::make_shared<EngineCollector>(std::move(sources));
  auto server = MetricsHttpServer::start(bind);
  if (!server) return server.error();
  m->s_->server_ = std::move(*server);
  m->s_->server_->add(m->s_->registry_);
  m->s_->server_->add(m->s_->engine_collector_);
  std::string host = bind.substr(0, bind.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  m->s_->url_ = "http://" + host + ":" + std::to_string(m->s_->server_->port()) + "/metrics";
  return m;
}

WorkerMetrics::~WorkerMetrics() = default;

const std::string& WorkerMetrics::url() const { return s_->url_; }

void WorkerMetrics::job_accepted(std::int32_t prompt_tokens) {
  s_->accepted_->Increment();
  s_->prompt_tokens_->Increment(prompt_tokens);
}

void WorkerMetrics::job_rejected(ErrorCode code) {
  s_->labelled(*s_->rejected_, s_->rejected_by_code_, "code", std::string(error_code_name(code)))
      .Increment();
}

void WorkerMetrics::job_ended(const OutFrame& f) {
  if (f.kind == FrameKind::kError) {
    s_->labelled(*s_->errors_, s_->errors_by_code_, "code", std::string(error_code_name(f.error)))
        .Increment();
    return;
  }
  s_->labelled(*s_->success_, s_->success_by_reason_, "finished_reason",
               sched::finish_reason_name(f.finish))
      .Increment();
  s_->request_prompt_tokens_->Observe(f.prompt_tokens);
  s_->request_generation_tokens_->Observe(f.completion_tokens);
  if (f.completion_tokens == 0) return;  // cancelled while queued: no latency to speak of
  s_->queue_time_->Observe(f.timings.queue_ms * 1e-3);
  s_->ttft_->Observe(f.timings.ttft_ms * 1e-3);
  s_->e2e_->Observe((f.timings.ttft_ms + f.timings.decode_ms) * 1e-3);
  if (f.completion_tokens > 1)
    s_->tpot_->Observe(f.timings.decode_ms * 1e-3 / (f.completion_tokens - 1));
}

void WorkerMetrics::step_finished(double seconds) { s_->step_time_->Observe(seconds); }

void WorkerMetrics::watch_queue(std::function<QueueCounters()> read) {
  if (s_->queue_collector_) return;
  s_->queue_collector_ = std::make_shared<QueueCollector>(std::move(read));
  s_->server_->add(s_->queue_collector_);
}

}  // namespace zinfer::worker
