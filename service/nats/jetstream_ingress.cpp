// JetStreamIngress (see jetstream_ingress.h).
#include "service/nats/jetstream_ingress.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "service/nats/frame_message.h"
#include "service/protocol/codec.h"
#include "service/worker/service_log.h"

namespace zinfer::nats {
namespace {

constexpr auto kIdlePoll = std::chrono::milliseconds(50);  // after a round that failed fast
constexpr double kFetchWaitS = 0.02;                       // per priority class and fetch round
constexpr double kPublishTimeoutS = 60.0;  // a terminal frame waits this long for the server

std::string header(natsMsg* msg, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) return "";
  return v;
}

std::string default_worker_name() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

Result<std::unique_ptr<JetStreamIngress>> JetStreamIngress::create(const JetStreamConfig& config) {
  ZINFER_RETURN_IF_ERROR(validate(config));
  std::unique_ptr<JetStreamIngress> in(new JetStreamIngress(config));
  if (in->config_.worker_name.empty()) in->config_.worker_name = default_worker_name();
  const JetStreamConfig& c = in->config_;
  auto conn = JetStreamConnection::connect(c.url, "zinfer-worker " + c.worker_name);
  if (!conn.ok()) return conn.error();
  in->conn_ = std::move(*conn);
  ZINFER_RETURN_IF_ERROR(
      in->conn_->ensure_stream(StreamSpec{c.stream, {c.subject_prefix + ".>"}, true, 0}));
  ZINFER_RETURN_IF_ERROR(in->conn_->ensure_stream(
      StreamSpec{c.results_stream, {c.results_prefix + ".>"}, false, c.results_max_age_s}));
  ZINFER_RETURN_IF_ERROR(
      in->conn_->ensure_stream(StreamSpec{c.dead_stream, {c.dead_prefix + ".>"}, false, 0}));
  for (const std::string& cls : priority_classes()) {
    ZINFER_RETURN_IF_ERROR(in->conn_->ensure_consumer(ConsumerSpec{
        c.stream, c.consumer_name(cls), c.jobs_subject(cls), c.ack_wait_s, c.max_deliver}));
    auto sub = in->conn_->bind_pull(c.stream, c.consumer_name(cls), c.jobs_subject(cls));
    if (!sub.ok()) return sub.error();
    in->subs_.push_back(*sub);
  }
  auto dl = DeadLetterHandler::create(*in->conn_, in->config_);
  if (!dl.ok()) return dl.error();
  in->dead_letters_ = std::move(*dl);
  in->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (in->wake_fd_ < 0)
    return make_error(ErrorCode::kInternal, std::string("eventfd: ") + std::strerror(errno));
  return in;
}

JetStreamIngress::~JetStreamIngress() {
  close(0.0);
  dead_letters_.reset();
  for (natsSubscription* s : subs_) natsSubscription_Destroy(s);  // the consumers stay
  conn_.reset();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status JetStreamIngress::start(std::int32_t capacity) {
  capacity_ = std::max(1, capacity);
  worker::service_log().info(
      "nats: consuming {}.{}.{{high,normal,low}} on stream {} ({} slots, ack wait {:.1f} s, "
      "max deliver {})",
      config_.subject_prefix, config_.model, config_.stream, capacity_, config_.ack_wait_s,
      config_.max_deliver);
  fetcher_ = std::thread([this] { fetch_loop(); });
  publisher_ = std::thread([this] { publish_loop(); });
  return ok_status();
}

std::vector<worker::SourcedJob> JetStreamIngress::take() {
  std::uint64_t v = 0;
  [[maybe_unused]] auto n = read(wake_fd_, &v, sizeof(v));
  std::lock_guard lk(mu_);
  std::vector<worker::SourcedJob> jobs;
  jobs.swap(inbox_);
  return jobs;
}

void JetStreamIngress::on_accepted(std::uint64_t ticket, const std::string& job_id) {
  std::lock_guard lk(mu_);
  if (auto it = live_.find(ticket); it != live_.end()) it->second.job_id = job_id;
}

JetStreamIngress::Settle JetStreamIngress::settle_for_error(ErrorCode code,
                                                            std::uint64_t attempt) const {
  // A fault of this worker, not of the job (a sticky CUDA error, a broken invariant): the worker
  // is going down; another one should run the job.
  const bool worker_fault = code == ErrorCode::kKernelLaunchFailed ||
                            code == ErrorCode::kVramResidencyFailed ||
                            code == ErrorCode::kInvalidDevice || code == ErrorCode::kInternal;
  if (!error_code_retriable(code) && !worker_fault) return Settle::kTerm;
  // Retriable (draining, queue full, out of memory) or the worker's fault: another delivery may
  // succeed — unless
  // this was the last one the consumer allows; then the producer gets the error.
  return static_cast<std::int64_t>(attempt) < config_.max_deliver ? Settle::kNak : Settle::kTerm;
}

void JetStreamIngress::on_frame(std::uint64_t ticket, const worker::OutFrame& f) {
  Outgoing out;
  out.ticket = ticket;
  out.terminal = f.terminal();
  if (!out.terminal) {
    out.payload = f.payload;
    enqueue(std::move(out));
    return;
  }
  std::uint64_t attempt = 1;
  {
    std::lock_guard lk(mu_);
    if (auto it = live_.find(ticket); it != live_.end()) attempt = it->second.attempt;
  }
  if (f.kind == worker::FrameKind::kDone) {
    // A queued job is only ever cancelled by a drain or stop: hand it back unfinished.
    const bool handed_back = f.finish == sched::FinishReason::kCancelled;
    out.settle = handed_back ? Settle::kNak : Settle::kAck;
  } else {
    out.settle = settle_for_error(f.error, attempt);
  }
  if (out.settle != Settle::kNak) out.payload = f.payload;
  enqueue(std::move(out));
}

void JetStreamIngress::on_rejected(std::uint64_t ticket, const Error& error,
                                   const std::optional<std::string>& job_id) {
  Outgoing out;
  out.ticket = ticket;
  out.terminal = true;
  {
    std::lock_guard lk(mu_);
    auto it = live_.find(ticket);
    if (it == live_.end()) return;
    if (job_id) it->second.job_id = *job_id;
    out.settle = settle_for_error(error.code, it->second.attempt);
    if (out.settle != Settle::kNak) {
      out.payload = protocol::encode(protocol::error_reply(error, it->second.job_id));
    }
  }
  enqueue(std::move(out));
}

void JetStreamIngress::enqueue(Outgoing out) {
  {
    std::lock_guard lk(mu_);
    outbox_.push_back(std::move(out));
  }
  cv_.notify_all();
}

void JetStreamIngress::begin_drain() {
  {
    std::lock_guard lk(mu_);
    draining_ = true;
  }
  cv_.notify_all();
}

void JetStreamIngress::close(double timeout_s) {
  {
    std::lock_guard lk(mu_);
    draining_ = true;
    stop_fetch_ = true;
  }
  cv_.notify_all();
  if (fetcher_.joinable()) fetcher_.join();
  {
    std::unique_lock lk(mu_);
    // Fetched but never taken by the worker: back to the queue at once.
    for (worker::SourcedJob& j : inbox_)
      outbox_.push_back(Outgoing{j.ticket, "", true, Settle::kNak});
    inbox_.clear();
    cv_.wait_for(lk, std::chrono::duration<double>(timeout_s), [&] { return outbox_.empty(); });
    stop_publish_ = true;
  }
  cv_.notify_all();
  if (publisher_.joinable()) publisher_.join();
  std::lock_guard lk(mu_);
  for (auto& [ticket, d] : live_) settle(d, Settle::kNak);  // unsettled: hand back
  live_.clear();
  counts_.unsettled.store(0, std::memory_order_relaxed);
  if (conn_) natsConnection_FlushTimeout(conn_->nc(), 2000);
}

worker::QueueCounters JetStreamIngress::counters() const {
  worker::QueueCounters q;
  q.deliveries = counts_.deliveries.load(std::memory_order_relaxed);
  q.redeliveries = counts_.redeliveries.load(std::memory_order_relaxed);
  q.acks = counts_.acks.load(std::memory_order_relaxed);
  q.naks = counts_.naks.load(std::memory_order_relaxed);
  q.terms = counts_.terms.load(std::memory_order_relaxed);
  q.in_progress_acks = counts_.in_progress_acks.load(std::memory_order_relaxed);
  q.settle_failures = counts_.settle_failures.load(std::memory_order_relaxed);
  q.unsettled = counts_.unsettled.load(std::memory_order_relaxed);
  q.dead_letters = dead_letters_ ? dead_letters_->dead_lettered() : 0;
  return q;
}

// ---- fetch thread --------------------------------------------------------------------------

void JetStreamIngress::fetch_loop() {
  pthread_setname_np(pthread_self(), "zinfer-nats-in");
  while (true) {
    int free = 0;
    {
      std::unique_lock lk(mu_);
      if (stop_fetch_) return;
      free = draining_ ? 0 : capacity_ - static_cast<int>(live_.size());
    }
    send_progress();
    const auto round_start = Clock::now();
    std::size_t got = 0;
    for (std::size_t i = 0; i < subs_.size() && free > 0; ++i) {
      const std::size_t n = fetch_class(i, free);
      got += n;
      free -= static_cast<int>(n);
    }
    if (got > 0) {
      const std::uint64_t one = 1;
      [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof(one));
      continue;
    }
    if (free > 0 && Clock::now() - round_start >= kIdlePoll / 5) continue;  // fetches waited
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, kIdlePoll, [&] { return stop_fetch_; });
  }
}

std::size_t JetStreamIngress::fetch_class(std::size_t index, int batch) {
  jsFetchRequest req;
  jsFetchRequest_Init(&req);
  req.Batch = batch;
  // A short long-poll: returns as soon as `batch` jobs are there, else after kFetchWait with
  // what there is (NoWait would hold a partial batch for the whole expiry on this server).
  req.Expires = to_ns(kFetchWaitS);
  natsMsgList list{nullptr, 0};
  const natsStatus s = natsSubscription_FetchRequest(&list, subs_[index], &req);
  if (s != NATS_OK) {
    if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
      worker::service_log().debug("nats fetch {}: {}", priority_classes()[index],
                                  natsStatus_GetText(s));
    }
    natsMsgList_Destroy(&list);
    return 0;
  }
  std::size_t n = 0;
  for (int i = 0; i < list.Count; ++i) {
    natsMsg* msg = list.Msgs[i];
    list.Msgs[i] = nullptr;  // owned by the Delivery from here
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
      natsMsg_Destroy(msg);  // a status message of the pull request, not a job
      continue;
    }
    Delivery d;
    d.msg = msg;
    d.reply = header(msg, kHeaderReply);
    d.job_id = header(msg, kHeaderMsgId);
    if (!d.reply.empty() && d.reply.rfind(config_.results_prefix + ".", 0) != 0) {
      // Frames only go where the results stream keeps them (never back into the job queue).
      worker::service_log().warn("job {}: reply subject '{}' is not under {}.; frames dropped",
                                 d.job_id, d.reply, config_.results_prefix);
      d.reply.clear();
    }
    d.attempt = meta->NumDelivered;
    d.stream_seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    d.progress_at = Clock::now();
    worker::SourcedJob job;
    job.payload.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    std::lock_guard lk(mu_);
    job.ticket = next_ticket_++;
    if (d.attempt > 1) {
      worker::service_log().info("job {}: redelivered (attempt {}, stream seq {})", d.job_id,
                                 d.attempt, d.stream_seq);
    }
    counts_.deliveries.fetch_add(1, std::memory_order_relaxed);
    if (d.attempt > 1) counts_.redeliveries.fetch_add(1, std::memory_order_relaxed);
    live_.emplace(job.ticket, std::move(d));
    counts_.unsettled.store(live_.size(), std::memory_order_relaxed);
    inbox_.push_back(std::move(job));
    ++n;
  }
  natsMsgList_Destroy(&list);
  return n;
}

void JetStreamIngress::send_progress() {
  // Well inside the ack wait, so a long job is never redelivered while this worker lives.
  const auto every = std::chrono::duration<double>(config_.ack_wait_s / 3.0);
  const auto now = Clock::now();
  std::lock_guard lk(mu_);
  for (auto& [ticket, d] : live_) {
    if (now - d.progress_at < every) continue;
    if (natsMsg_InProgress(d.msg, nullptr) == NATS_OK)
      counts_.in_progress_acks.fetch_add(1, std::memory_order_relaxed);
    d.progress_at = now;
  }
}

// ---- publisher thread ----------------------------------------------------------------------

void JetStreamIngress::publish_loop() {
  pthread_setname_np(pthread_self(), "zinfer-nats-out");
  while (true) {
    Outgoing out;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_publish_ || !outbox_.empty(); });
      if (outbox_.empty()) return;
      out = std::move(outbox_.front());
      outbox_.pop_front();
    }
    publish_one(out);
    if (!out.terminal) continue;
    {
      std::lock_guard lk(mu_);
      auto it = live_.find(out.ticket);
      if (it != live_.end()) {
        settle(it->second, out.settle);
        live_.erase(it);
        counts_.unsettled.store(live_.size(), std::memory_order_relaxed);
      }
    }
    cv_.notify_all();  // a free slot (fetch) / an emptier outbox (close)
  }
}

void JetStreamIngress::publish_one(Outgoing& out) {
  if (out.payload.empty()) return;
  FrameHeaders h;
  std::string reply;
  {
    std::lock_guard lk(mu_);
    auto it = live_.find(out.ticket);
    if (it == live_.end()) return;
    reply = it->second.reply;
    h.job_id = it->second.job_id;
    h.attempt = it->second.attempt;
  }
  if (reply.empty()) return;
  h.worker = config_.worker_name;
  h.terminal = out.terminal;
  auto msg = make_frame_msg(reply, h, out.payload);
  if (!msg.ok()) {
    worker::service_log().error("job {}: {}", h.job_id, msg.error().message);
    return;
  }
  if (out.terminal) {
    // Stored before the job is acked: a worker that dies in between only causes a duplicate
    // (the producer keeps the first terminal frame), never a loss.
    if (auto st = conn_->publish_durable(*msg, kPublishTimeoutS); !st.ok()) {
      worker::service_log().error("job {}: terminal frame not stored ({}); handing it back",
                                  h.job_id, st.error().message);
      out.settle = Settle::kNak;
    }
  } else {
    natsConnection_PublishMsg(conn_->nc(), *msg);  // streamed tokens: best effort
  }
  natsMsg_Destroy(*msg);
}

void JetStreamIngress::settle(Delivery& d, Settle how) {
  natsStatus s = NATS_OK;
  switch (how) {
    case Settle::kAck:
      // Not AckSync: this server leaves an ack of a delivery that is no longer pending (one
      // redelivered after a restart) unanswered, and the wait would stall every later frame.
      // A lost ack only means a redelivery, whose terminal frame the producer discards.
      s = natsMsg_Ack(d.msg, nullptr);
      break;
    case Settle::kTerm:
      s = natsMsg_Term(d.msg, nullptr);
      break;
    case Settle::kNak:
      s = natsMsg_NakWithDelay(d.msg, static_cast<std::int64_t>(config_.nak_delay_s * 1000),
                               nullptr);
      break;
    case Settle::kNone:
      break;
  }
  if (s != NATS_OK) {
    counts_.settle_failures.fetch_add(1, std::memory_order_relaxed);
    worker::service_log().warn("job {}: settling stream seq {} failed: {} (it will be redelivered)",
                               d.job_id, d.stream_seq, natsStatus_GetText(s));
  } else if (how != Settle::kNone) {
    std::atomic<std::uint64_t>& n = how == Settle::kAck    ? counts_.acks
                                    : how == Settle::kTerm ? counts_.terms
                                                           : counts_.naks;
    n.fetch_add(1, std::memory_order_relaxed);
  }
  natsMsg_Destroy(d.msg);
  d.msg = nullptr;
}

}  // namespace zinfer::nats
