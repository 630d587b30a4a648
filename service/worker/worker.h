// Worker: the ZeroMQ service around one sched::JobEngine. The thread calling run() is the I/O
// thread: it owns the ROUTER socket, decodes and validates requests, keeps the job table keyed by
// (client identity, job_id), applies admission (bounded queue, duplicates, draining), answers
// health/stats, and routes the engine thread's frames back to their clients. The engine thread
// (EngineLoop) runs the steps and never blocks on the network.
//
// Guarantees: every accepted job ends with exactly one terminal frame (done or error) — on
// success, cancel, deadline, drain and engine error; when the client is gone there is nobody to
// send it to and the job is cancelled instead. Envelopes: a DEALER frame [payload] is answered
// [payload]; a REQ-style [empty, payload] is answered [empty, payload].
// A cancel is answered by the job's own terminal frame (done, finish_reason "cancelled", or its
// normal end if that came first); cancelling an unknown or finished job is a no-op.
// Client loss is detected when a send to it fails (ROUTER_MANDATORY → EHOSTUNREACH): at the
// next frame for a streaming job, at the terminal frame for stream=false jobs.
// Frames over max_frame_bytes get INVALID_REQUEST, whatever their size: the ROUTER sets no
// ZMQ_MAXMSGSIZE, which would drop the sender's connection (and its jobs' terminal frames).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "engine/core/error.h"
#include "engine/sched/job_engine.h"
#include "service/protocol/codec.h"
#include "service/transport/zap_handler.h"
#include "service/worker/client_limits.h"
#include "service/worker/engine_loop.h"
#include "service/worker/heartbeat.h"
#include "service/worker/job_source.h"
#include "service/worker/job_table.h"
#include "service/worker/metrics.h"
#include "service/worker/router_sender.h"
#include "service/worker/worker_config.h"

namespace zinfer::worker {

// Counters kept by the I/O thread (the stats reply adds the engine's numbers).
struct WorkerCounters {
  std::uint64_t accepted = 0;
  std::uint64_t completed = 0;  // done with stop / length / deadline
  std::uint64_t cancelled = 0;  // done "cancelled" (client cancel, client gone, drain timeout)
  std::uint64_t failed = 0;     // error frames after acceptance (deadline, drain, engine)
  std::uint64_t rejected = 0;   // error replies to frames never accepted
  std::uint64_t prompt_tokens = 0;
};

class Worker {
 public:
  // Validates the config, creates the ROUTER and binds it. Errors name the flag or endpoint.
  static Result<std::unique_ptr<Worker>> create(const WorkerConfig& config,
                                                std::unique_ptr<sched::JobEngine> engine);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The bound endpoint with ephemeral ports resolved (tcp://127.0.0.1:0 → tcp://127.0.0.1:41234).
  const std::string& endpoint() const { return endpoint_; }
  // The Prometheus scrape URL (http://HOST:PORT/metrics), "" without --metrics.
  std::string metrics_url() const { return metrics_ ? metrics_->url() : std::string(); }
  // Serves until a drain completes. Returns 0 after a clean drain, 1 if the engine failed.
  int run();
  // Starts draining: new submits get DRAINING (retriable); accepted jobs keep running for up
  // to drain_timeout_s, then each remaining one ends (done "cancelled" if it has produced
  // tokens, else error DRAINING); once every terminal frame is out, run() returns.
  // Callable from any thread and from a signal handler (it only writes to an eventfd).
  void request_drain();
  // request_drain() with a zero timeout: every live job is cancelled at once.
  void request_stop();
  // Jobs also arrive from `source` (a durable queue); call before run(). With --metrics the
  // source's counters are exported too.
  void attach_source(std::unique_ptr<JobSource> source) {
    source_ = std::move(source);
    if (metrics_ && source_) metrics_->watch_queue([s = source_.get()] { return s->counters(); });
  }

 private:
  Worker() = default;
  void on_control();
  void on_wake();
  void receive_requests();
  void handle_request(const std::string& peer, bool req_style,
                      std::span<const std::uint8_t> payload);
  void handle_submit(const std::string& peer, bool req_style, protocol::SubmitMsg&& s);
  void handle_cancel(const std::string& peer, const std::string& job_id);
  // Hands an admitted job to the engine (both paths).
  void start_job(JobEntry& e, const protocol::SubmitMsg& s, sched::JobSpec&& spec,
                 std::chrono::steady_clock::time_point received, std::string client_label);
  // worker_source.cpp: jobs of the JobSource.
  void on_source();
  void handle_sourced(SourcedJob&& job);
  void reject_sourced(std::uint64_t ticket, const Error& error,
                      const std::optional<std::string>& job_id);
  void reply(const std::string& peer, bool req_style, const protocol::WorkerMessage& msg);
  void reject(const std::string& peer, bool req_style, const Error& error,
              std::optional<std::string> job_id);
  void client_gone(const std::string& peer, const char* why);
  void flush_backlogs();
  void begin_drain(double timeout_s);
  std::int32_t queue_depth(const sched::SchedulerStats& engine) const;
  protocol::HealthReply health() const;
  protocol::StatsReply stats() const;
  double uptime_s() const;
  Status setup_curve();

  WorkerConfig config_;
  protocol::DecodeLimits limits_;
  std::unique_ptr<sched::JobEngine> engine_;
  void* ctx_ = nullptr;
  void* router_ = nullptr;
  void* wake_ = nullptr;  // PAIR, bound; the engine thread's end connects
  int control_fd_ = -1;   // eventfd: drain / stop requests
  std::string endpoint_;
  std::unique_ptr<EngineLoop> loop_;
  std::unique_ptr<RouterSender> sender_;
  std::unique_ptr<JobSource> source_;  // null: ROUTER only
  JobTable table_;
  std::unordered_set<std::string> gone_;  // clients found gone that still have live jobs
  WorkerCounters counters_;
  std::chrono::steady_clock::time_point started_at_;

  std::atomic<bool> stop_requested_{false};
  bool draining_ = false;
  bool end_all_sent_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  int exit_code_ = 0;

  // Operations (README "Operations"): the engine's heartbeat, metrics, CurveZMQ, limits.
  std::unique_ptr<Heartbeat> heartbeat_;
  std::unique_ptr<WorkerMetrics> metrics_;      // null without --metrics
  std::unique_ptr<transport::ZapHandler> zap_;  // null without CurveZMQ
  std::unique_ptr<ClientLimits> client_limits_;
  std::string current_client_;  // who sent the request being handled (limits key)
};

// Printable form of a routing id (hex), for logs.
std::string peer_label(const std::string& peer);

}  // namespace zinfer::worker
