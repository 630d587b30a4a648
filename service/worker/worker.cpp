// Worker (see worker.h): the I/O thread's loop, request handling and the drain sequence.
#include "service/worker/worker.h"

#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "service/transport/bind_scope.h"
#include "service/transport/curve_keys.h"
#include "service/transport/endpoint.h"
#include "service/transport/socket_options.h"
#include "service/worker/service_log.h"
#include "service/worker/submit_prep.h"

namespace zinfer::worker {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxRequestsPerTurn = 4096;  // fairness between reading and routing frames
constexpr auto kFlushGrace = std::chrono::seconds(5);  // after the drain deadline, for slow peers

Error zmq_error(const std::string& what) {
  return make_error(ErrorCode::kInternal, what + ": " + zmq_strerror(zmq_errno()));
}

}  // namespace

std::string peer_label(const std::string& peer) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(peer.size() * 2);
  for (unsigned char c : peer) {
    s.push_back(kHex[c >> 4]);
    s.push_back(kHex[c & 15]);
  }
  return s;
}

Result<std::unique_ptr<Worker>> Worker::create(const WorkerConfig& config,
                                               std::unique_ptr<sched::JobEngine> engine) {
  ZINFER_RETURN_IF_ERROR(validate(config));
  std::unique_ptr<Worker> w(new Worker());
  w->config_ = config;
  w->engine_ = std::move(engine);
  w->limits_.max_frame_bytes = config.max_frame_bytes;
  w->limits_.max_prompt_tokens = std::min<std::size_t>(
      w->limits_.max_prompt_tokens, static_cast<std::size_t>(w->engine_->info().context_length));
  w->started_at_ = Clock::now();

  w->ctx_ = zmq_ctx_new();
  w->router_ = zmq_socket(w->ctx_, ZMQ_ROUTER);
  const int one = 1;
  const int hwm = config.sndhwm;
  // No transport cap (ZMQ_MAXMSGSIZE): libzmq drops an over-cap frame together with the
  // sender's connection, silently, and the sender's streaming jobs would then end without a
  // terminal frame. Every frame reaches the decoder instead, which answers an oversized one
  // with INVALID_REQUEST (PROTOCOL.md §7); the price is that a frame is held in memory while it
  // is read, so the worker belongs on a network of trusted producers.
  const std::int64_t max_msg = -1;
  const int linger = 2000;
  ZINFER_RETURN_IF_ERROR(
      transport::set_option(w->router_, ZMQ_ROUTER_MANDATORY, one, "ZMQ_ROUTER_MANDATORY"));
  ZINFER_RETURN_IF_ERROR(transport::set_option(w->router_, ZMQ_SNDHWM, hwm, "ZMQ_SNDHWM"));
  ZINFER_RETURN_IF_ERROR(
      transport::set_option(w->router_, ZMQ_MAXMSGSIZE, max_msg, "ZMQ_MAXMSGSIZE"));
  ZINFER_RETURN_IF_ERROR(transport::set_option(w->router_, ZMQ_LINGER, linger, "ZMQ_LINGER"));
  // The probe endpoint is bound before CurveZMQ is switched on: libzmq copies the socket's
  // options into each endpoint when it binds, so this one stays plaintext (and local).
  if (!config.probe_bind.empty()) {
    ZINFER_RETURN_IF_ERROR(transport::bind_endpoint(w->router_, config.probe_bind, "--probe-bind"));
  }
  ZINFER_RETURN_IF_ERROR(w->setup_curve());
  ZINFER_RETURN_IF_ERROR(transport::bind_endpoint(w->router_, config.bind, "--bind"));
  char buf[1024];
  std::size_t len = sizeof(buf);
  if (zmq_getsockopt(w->router_, ZMQ_LAST_ENDPOINT, buf, &len) != 0)
    return zmq_error("ZMQ_LAST_ENDPOINT");
  w->endpoint_ = std::string(buf, len > 0 && buf[len - 1] == '\0' ? len - 1 : len);

  w->wake_ = zmq_socket(w->ctx_, ZMQ_PAIR);
  const std::string wake_ep =
      "inproc://zinfer-engine-wake-" + std::to_string(reinterpret_cast<std::uintptr_t>(w.get()));
  if (zmq_bind(w->wake_, wake_ep.c_str()) != 0) return zmq_error("inproc wake socket");
  w->control_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->control_fd_ < 0)
    return make_error(ErrorCode::kInternal, std::string("eventfd: ") + std::strerror(errno));
  w->sender_ = std::make_unique<RouterSender>(w->router_, config.max_peer_backlog_bytes);
  w->loop_ = std::make_unique<EngineLoop>(*w->engine_, w->ctx_, wake_ep, config.max_pending_frames);
  w->heartbeat_ = std::make_unique<Heartbeat>(config.stall_timeout_s);
  w->loop_->set_heartbeat(w->heartbeat_.get());
  w->client_limits_ = std::make_unique<ClientLimits>(
      config.max_jobs_per_client, config.max_client_bytes_per_s, config.max_frame_bytes);
  if (!config.metrics_bind.empty()) {
    EngineLoop* loop = w->loop_.get();
    auto metrics = WorkerMetrics::create(config.metrics_bind,
                                         {[loop] { return loop->stats(); }, w->heartbeat_.get()});
    if (!metrics.ok()) return metrics.error();
    w->metrics_ = std::move(*metrics);
    w->loop_->set_step_observer([m = w->metrics_.get()](double s) { m->step_finished(s); });
  }
  return w;
}

Worker::~Worker() {
  metrics_.reset();  // its scrape threads read the loop's snapshot
  if (loop_) loop_->stop();
  loop_.reset();
  zap_.reset();  // its socket must close before the context terminates
  if (wake_ != nullptr) zmq_close(wake_);
  if (router_ != nullptr) zmq_close(router_);
  if (ctx_ != nullptr) zmq_ctx_term(ctx_);  // waits up to the ROUTER's linger for queued frames
  if (control_fd_ >= 0) close(control_fd_);
}

void Worker::request_drain() {
  const std::uint64_t v = 1;
  [[maybe_unused]] auto n = write(control_fd_, &v, sizeof(v));
}

void Worker::request_stop() {
  stop_requested_.store(true);
  request_drain();
}

double Worker::uptime_s() const {
  return std::chrono::duration<double>(Clock::now() - started_at_).count();
}

int Worker::run() {
  const sched::EngineInfo& info = engine_->info();
  service_log().info("serving {} ({}, ctx {}, {} concurrent) on {} at {}", info.model,
                     info.architecture, info.context_length, info.capacity, info.device, endpoint_);
  if (metrics_) service_log().info("metrics at {}", metrics_->url());
  loop_->start();
  if (source_) {
    if (Status st = source_->start(info.capacity); !st.ok()) {
      service_log().critical("job source: {}", st.error().message);
      return 1;
    }
  }
  zmq_pollitem_t items[4] = {{router_, 0, ZMQ_POLLIN, 0},
                             {wake_, 0, ZMQ_POLLIN, 0},
                             {nullptr, control_fd_, ZMQ_POLLIN, 0},
                             {nullptr, source_ ? source_->wake_fd() : -1, ZMQ_POLLIN, 0}};
  const int n_items = source_ ? 4 : 3;
  while (true) {
    long timeout_ms = -1;
    if (sender_->has_backlog()) timeout_ms = 1;
    if (draining_) timeout_ms = timeout_ms < 0 ? 20 : std::min<long>(timeout_ms, 20);
    const int rc = zmq_poll(items, n_items, timeout_ms);
    if (rc < 0 && zmq_errno() != EINTR) {
      service_log().critical("zmq_poll: {}", zmq_strerror(zmq_errno()));
      exit_code_ = 1;
      break;
    }
    if (rc > 0) {
      if (items[2].revents & ZMQ_POLLIN) on_control();
      if (items[1].revents & ZMQ_POLLIN) on_wake();
      if (items[0].revents & ZMQ_POLLIN) receive_requests();
      if (n_items == 4 && (items[3].revents & ZMQ_POLLIN)) on_source();
    }
    if (sender_->has_backlog()) flush_backlogs();
    if (!draining_ && loop_->failed()) {
      exit_code_ = 1;
      begin_drain(0.0);
    }
    if (draining_) {
      const auto now = Clock::now();
      if (!end_all_sent_ && now >= drain_deadline_) {
        if (!table_.empty())
          service_log().warn("drain timeout: cancelling {} running jobs", table_.size());
        loop_->end_all();
        end_all_sent_ = true;
      }
      if (table_.empty() && (!sender_->has_backlog() || now >= drain_deadline_ + kFlushGrace)) {
        if (sender_->has_backlog()) {
          service_log().warn("exiting with {} frames undelivered to slow clients",
                             sender_->backlog_frames());
        }
        break;
      }
    }
  }
  loop_->stop();
  if (source_) source_->close(config_.drain_timeout_s + kFlushGrace.count());
  service_log().info(
      "drained: {} accepted, {} completed, {} cancelled, {} failed, {} rejected; exiting",
      counters_.accepted, counters_.completed, counters_.cancelled, counters_.failed,
      counters_.rejected);
  return exit_code_;
}

void Worker::on_control() {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = read(control_fd_, &v, sizeof(v));
  begin_drain(stop_requested_.load() ? 0.0 : config_.drain_timeout_s);
}

void Worker::begin_drain(double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s));
  if (draining_) {
    drain_deadline_ = std::min(drain_deadline_, deadline);  // a stop during a drain shortens it
    return;
  }
  draining_ = true;
  drain_deadline_ = deadline;
  if (source_) source_->begin_drain();
  service_log().info("draining: {} live jobs get up to {:.1f} s to finish", table_.size(),
                     timeout_s);
}

void Worker::on_wake() {
  char byte;
  while (zmq_recv(wake_, &byte, sizeof(byte), ZMQ_DONTWAIT) >= 0) {
  }
  for (OutFrame& f : loop_->take_frames()) {
    JobEntry* e = table_.get(f.handle);
    if (e == nullptr) continue;
    const std::string client = e->client;  // e may be invalidated by client_gone / erase
    // Recorded before the frame leaves: a client that has its terminal frame and then scrapes
    // sees the job counted.
    if (metrics_ && f.terminal()) metrics_->job_ended(f);
    if (e->ticket != 0) {
      source_->on_frame(e->ticket, f);
    } else if (gone_.count(client) == 0) {
      if (sender_->send(client, e->req_style, f.payload) == RouterSender::Outcome::kGone) {
        client_gone(client, "unreachable");
      }
    }
    if (!f.terminal()) continue;
    client_limits_->job_ended(f.handle);
    if (f.kind == FrameKind::kError) {
      ++counters_.failed;
    } else if (f.finish == sched::FinishReason::kCancelled) {
      ++counters_.cancelled;
    } else {
      ++counters_.completed;
    }
    table_.erase(f.handle);
    if (gone_.count(client) != 0 && table_.handles_of(client).empty()) gone_.erase(client);
  }
  for (const std::string& peer : sender_->take_overflowed()) {
    service_log().warn("client {} reads too slowly (backlog over {} bytes): cancelling its jobs",
                       peer_label(peer), config_.max_peer_backlog_bytes);
    for (std::uint64_t h : table_.handles_of(peer)) {
      JobEntry* e = table_.get(h);
      if (!e->cancel_requested) {
        e->cancel_requested = true;
        loop_->cancel(h);
      }
    }
  }
}

void Worker::flush_backlogs() {
  std::vector<std::string> gone;
  sender_->flush(gone);
  for (const auto& peer : gone) client_gone(peer, "unreachable");
}

void Worker::client_gone(const std::string& peer, const char* why) {
  sender_->forget(peer);
  auto handles = table_.handles_of(peer);
  if (handles.empty()) return;
  gone_.insert(peer);
  std::size_t n = 0;
  for (std::uint64_t h : handles) {
    JobEntry* e = table_.get(h);
    if (!e->cancel_requested) {
      e->cancel_requested = true;
      loop_->cancel(h);
      ++n;
    }
  }
  if (n > 0)
    service_log().info("client {} {}: cancelling its {} live jobs", peer_label(peer), why, n);
}

void Worker::receive_requests() {
  for (int i = 0; i < kMaxRequestsPerTurn; ++i) {
    zmq_msg_t parts[3];
    int n = 0;
    bool more = true;
    bool extra = false;
    while (more) {
      zmq_msg_t part;
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, router_, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
        zmq_msg_close(&part);
        for (int k = 0; k < n; ++k) zmq_msg_close(&parts[k]);
        return;  // EAGAIN: nothing more to read
      }
      more = zmq_msg_more(&part) != 0;
      if (n < 3) {
        zmq_msg_init(&parts[n]);
        zmq_msg_move(&parts[n++], &part);
        zmq_msg_close(&part);
      } else {
        extra = true;
        zmq_msg_close(&part);
      }
    }
    const std::string peer(static_cast<const char*>(zmq_msg_data(&parts[0])),
                           zmq_msg_size(&parts[0]));
    // [id, payload] is DEALER-style even when the payload is empty; [id, empty, …] is REQ-style.
    const bool req_style = n == 3 && zmq_msg_size(&parts[1]) == 0;
    if (n == 2 || (req_style && !extra)) {
      zmq_msg_t& body = parts[n - 1];
      // The limits' notion of a client: its CurveZMQ key when authenticated, else the peer.
      const char* user = zap_ ? zmq_msg_gets(&body, "User-Id") : nullptr;
      current_client_ = user != nullptr ? std::string("key:") + user : peer;
      handle_request(peer, req_style,
                     {static_cast<const std::uint8_t*>(zmq_msg_data(&body)), zmq_msg_size(&body)});
    } else {
      reject(peer, req_style,
             make_error(ErrorCode::kInvalidRequest,
                        "envelope: a request is one frame (DEALER) or an empty delimiter and one "
                        "frame (REQ)"),
             std::nullopt);
    }
    for (int k = 0; k < n; ++k) zmq_msg_close(&parts[k]);
  }
}

void Worker::reply(const std::string& peer, bool req_style, const protocol::WorkerMessage& msg) {
  if (sender_->send(peer, req_style, protocol::encode(msg)) == RouterSender::Outcome::kGone) {
    client_gone(peer, "unreachable");
  }
}

void Worker::reject(const std::string& peer, bool req_style, const Error& error,
                    std::optional<std::string> job_id) {
  ++counters_.rejected;
  if (metrics_) metrics_->job_rejected(error.code);
  service_log().debug("client {}: rejected {}: {}: {}", peer_label(peer), job_id.value_or("-"),
                      error_code_name(error.code), error.message);
  reply(peer, req_style, protocol::error_reply(error, std::move(job_id)));
}

void Worker::handle_request(const std::string& peer, bool req_style,
                            std::span<const std::uint8_t> payload) {
  if (auto over = client_limits_->charge_bytes(current_client_, payload.size(), Clock::now())) {
    reject(peer, req_style, *over, std::nullopt);
    return;
  }
  protocol::ClientDecodeResult decoded = protocol::decode_client(payload, limits_);
  if (!decoded.ok()) {
    reject(peer, req_style, decoded.error(), decoded.job_id());
    return;
  }
  protocol::ClientMessage& msg = decoded.value();
  if (auto* s = std::get_if<protocol::SubmitMsg>(&msg)) {
    handle_submit(peer, req_style, std::move(*s));
  } else if (auto* c = std::get_if<protocol::CancelMsg>(&msg)) {
    handle_cancel(peer, c->job_id);
  } else if (std::holds_alternative<protocol::HealthMsg>(msg)) {
    reply(peer, req_style, health());
  } else {
    reply(peer, req_style, stats());
  }
}

void Worker::handle_submit(const std::string& peer, bool req_style, protocol::SubmitMsg&& s) {
  const auto received = Clock::now();
  if (draining_) {
    reject(peer, req_style,
           make_error(ErrorCode::kDraining, "the worker is draining; submit to another worker"),
           s.job_id);
    return;
  }
  if (table_.find(peer, s.job_id)) {
    reject(peer, req_style,
           make_error(ErrorCode::kDuplicateJob,
                      "submit.job_id: \"" + s.job_id + "\" is already live for this client"),
           s.job_id);
    return;
  }
  if (auto over = client_limits_->check_job(current_client_)) {
    reject(peer, req_style, *over, s.job_id);
    return;
  }
  const sched::SchedulerStats engine = loop_->stats();
  const std::int32_t queued = queue_depth(engine);
  if (queued >= config_.max_queued) {
    reject(peer, req_style,
           make_error(ErrorCode::kQueueFull,
                      "the queue holds " + std::to_string(queued) + " jobs (--max-queued " +
                          std::to_string(config_.max_queued) + "); retry later"),
           s.job_id);
    return;
  }
  auto spec = prepare_submit(s, engine_->info());
  if (!spec.ok()) {
    reject(peer, req_style, spec.error(), s.job_id);
    return;
  }

  JobEntry& e = table_.insert(peer, s.job_id, req_style);
  e.prompt_tokens = static_cast<std::int32_t>(spec->prompt().size());
  const std::int32_t free_slots = std::max(0, engine_->info().capacity - engine.running);
  protocol::AcceptedMsg accepted{s.job_id, std::max(0, queued - free_slots)};
  if (sender_->send(peer, req_style, protocol::encode(accepted)) == RouterSender::Outcome::kGone) {
    table_.erase(e.handle);  // nobody to answer: the job is dropped before it exists
    return;
  }
  client_limits_->job_accepted(e.handle, current_client_);
  start_job(e, s, std::move(*spec), received, peer_label(peer));
}

void Worker::start_job(JobEntry& e, const protocol::SubmitMsg& s, sched::JobSpec&& spec,
                       Clock::time_point received, std::string client_label) {
  ++counters_.accepted;
  counters_.prompt_tokens += spec.prompt().size();
  if (metrics_) metrics_->job_accepted(static_cast<std::int32_t>(spec.prompt().size()));
  spec.id = e.handle;
  spec.priority = s.priority;
  spec.arrival = received;
  if (s.deadline_ms) spec.deadline = received + std::chrono::milliseconds(*s.deadline_ms);
  SubmitCommand cmd{e.handle,        s.job_id, std::move(client_label),
                    std::move(spec), s.stream, s.logprobs};
  service_log().debug("job {}/{}: accepted ({} prompt tokens, priority {})", cmd.client, cmd.job_id,
                      cmd.spec.prompt().size(), cmd.spec.priority);
  loop_->submit(std::move(cmd));
}

void Worker::handle_cancel(const std::string& peer, const std::string& job_id) {
  auto h = table_.find(peer, job_id);
  if (!h) return;  // unknown or already finished: nothing to do
  JobEntry* e = table_.get(*h);
  if (e->cancel_requested) return;
  e->cancel_requested = true;
  loop_->cancel(*h);
}

// On the I/O thread the live jobs are the table (metrics, on scrape threads, use the heartbeat's
// count of the same jobs).
std::int32_t Worker::queue_depth(const sched::SchedulerStats& engine) const {
  return worker::queue_depth(static_cast<std::int64_t>(table_.size()), engine);
}

protocol::HealthReply Worker::health() const {
  const sched::EngineInfo& info = engine_->info();
  const sched::SchedulerStats engine = loop_->stats();
  protocol::HealthReply h;
  const HeartbeatView hb = heartbeat_->view(Clock::now());
  // A stalled engine outranks draining: a probe must see that the worker no longer moves.
  h.status = hb.stalled ? "stalled" : draining_ ? "draining" : "ready";
  h.engine_steps = hb.steps_completed;
  h.last_step_age_s = hb.last_step_age_s;
  h.model = info.model;
  h.architecture = info.architecture;
  h.quant_types = info.quant_types;
  h.context_length = info.context_length;
  h.device = info.device;
  h.vram_used_bytes = info.device_bytes_used;
  h.vram_resident = info.vram_resident;
  h.active_jobs = engine.running;
  h.queue_depth = queue_depth(engine);
  h.capacity = info.capacity;
  h.uptime_s = uptime_s();
  return h;
}

protocol::StatsReply Worker::stats() const {
  // The one conversion of the engine's stats (and the I/O thread's counters) to the wire.
  const sched::SchedulerStats engine = loop_->stats();
  protocol::StatsReply s;
  s.jobs_accepted = counters_.accepted;
  s.jobs_completed = counters_.completed;
  s.jobs_cancelled = counters_.cancelled;
  s.jobs_failed = counters_.failed;
  s.jobs_rejected = counters_.rejected;
  s.tokens_generated = engine.tokens_generated;
  s.prompt_tokens = counters_.prompt_tokens;
  s.active_jobs = engine.running;
  s.queue_depth = queue_depth(engine);
  s.kv_blocks_used = engine.kv_used_blocks;
  s.kv_blocks_total = engine.kv_total_blocks;
  s.engine_steps = engine.steps;
  s.prompt_tokens_cached = engine.tokens_reused;
  s.uptime_s = uptime_s();
  return s;
}

// CurveZMQ on the ROUTER (before it binds): the worker's secret key, and a ZAP handler on the
// worker's context that admits only the authorized client keys. Without keys, a bind beyond
// loopback got here only with --insecure (validate_operations): say so loudly.
Status Worker::setup_curve() {
  if (config_.curve_secret_key_file.empty()) {
    if (!transport::is_local_endpoint(config_.bind)) {
      service_log().warn(
          "--insecure: serving plaintext on {}: anyone who can reach it can submit jobs and read "
          "their answers",
          config_.bind);
    }
    return ok_status();
  }
  auto keys = transport::curve_read(config_.curve_secret_key_file, true, "--curve-secret-key");
  if (!keys.ok()) return keys.error();
  auto authorized = transport::curve_read_authorized(config_.curve_authorized_keys_dir,
                                                     "--curve-authorized-keys");
  if (!authorized.ok()) return authorized.error();
  const std::size_t n_keys = authorized->size();
  auto zap = transport::ZapHandler::start(ctx_, std::move(*authorized));
  if (!zap.ok()) return zap.error();
  zap_ = std::move(*zap);
  const int one = 1;
  ZINFER_RETURN_IF_ERROR(transport::set_option(router_, ZMQ_CURVE_SERVER, one, "ZMQ_CURVE_SERVER"));
  if (zmq_setsockopt(router_, ZMQ_CURVE_SECRETKEY, keys->secret_z85.c_str(), 40) != 0 ||
      zmq_setsockopt(router_, ZMQ_ZAP_DOMAIN, "zinfer", 6) != 0) {
    return zmq_error("CurveZMQ socket options");
  }
  service_log().info("CurveZMQ on: server key {}, {} authorized client keys", keys->public_z85,
                     n_keys);
  return ok_status();
}

}  // namespace zinfer::worker
