// JetStreamConnection (see jetstream_connection.h).
#include "service/nats/jetstream_connection.h"

#include <chrono>
#include <thread>

#include "service/worker/service_log.h"

namespace zinfer::nats {
void JetStreamConnection::on_disconnected(natsConnection*, void* self) {
  if (!static_cast<JetStreamConnection*>(self)->closing_.load())
    worker::service_log().warn("nats: disconnected; reconnecting");
}

void JetStreamConnection::on_reconnected(natsConnection*, void*) {
  worker::service_log().info("nats: reconnected");
}

void JetStreamConnection::on_closed(natsConnection*, void* self) {
  auto* c = static_cast<JetStreamConnection*>(self);
  // Notified under the lock: the destructor frees the condition variable as soon as it sees
  // closed_.
  std::lock_guard lk(c->closed_mu_);
  c->closed_ = true;
  c->closed_cv_.notify_all();
}

Error nats_error(natsStatus s, jsErrCode js_code, const std::string& what) {
  std::string msg = what + ": " + natsStatus_GetText(s);
  if (js_code != 0) msg += " (JetStream error " + std::to_string(static_cast<int>(js_code)) + ")";
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    msg += ": ";
    msg += last;
  }
  return make_error(ErrorCode::kInternal, msg);
}

Result<std::unique_ptr<JetStreamConnection>> JetStreamConnection::connect(
    const std::string& url, const std::string& client_name) {
  std::unique_ptr<JetStreamConnection> c(new JetStreamConnection());
  natsStatus s = natsOptions_Create(&c->opts_);
  if (s == NATS_OK) s = natsOptions_SetURL(c->opts_, url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(c->opts_, client_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(c->opts_, -1);  // forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(c->opts_, 200);
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(c->opts_, 64 << 20);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(c->opts_, on_disconnected, c.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(c->opts_, on_reconnected, nullptr);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(c->opts_, on_closed, c.get());
  if (s != NATS_OK) return nats_error(s, static_cast<jsErrCode>(0), "nats options");
  s = natsConnection_Connect(&c->nc_, c->opts_);
  if (s != NATS_OK) return nats_error(s, static_cast<jsErrCode>(0), "--nats " + url);
  s = natsConnection_JetStream(&c->js_, c->nc_, nullptr);
  if (s != NATS_OK) return nats_error(s, static_cast<jsErrCode>(0), "JetStream context");
  return c;
}

JetStreamConnection::~JetStreamConnection() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  closing_.store(true);
  if (nc_ != nullptr) {
    natsConnection_FlushTimeout(nc_, 2000);
    // Closing queues on_disconnected and on_closed, with this object as their closure, for the
    // library's callback thread, which runs them when it gets to them: on a busy machine after
    // this object is freed (and while exit() tears down the logger they write to). That thread
    // runs its queue in order and on_closed is a connection's last handler (every close of a
    // connection queues it once), so once it has run no handler refers to this object.
    natsConnection_Close(nc_);
    {
      std::unique_lock lk(closed_mu_);
      closed_cv_.wait(lk, [this] { return closed_; });
    }
    natsConnection_Destroy(nc_);
  }
  if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

Status JetStreamConnection::ensure_stream(const StreamSpec& spec) {
  std::vector<const char*> subjects;
  for (const auto& s : spec.subjects) subjects.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Retention = spec.work_queue ? js_WorkQueuePolicy : js_LimitsPolicy;
  cfg.Storage = js_FileStorage;
  cfg.MaxAge = to_ns(spec.max_age_s);
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, js_, &cfg, nullptr, &code);
  jsStreamInfo_Destroy(info);
  // Another process created it first (perhaps with other limits): use it as it is.
  if (s == NATS_OK || code == JSStreamNameExistErr) return ok_status();
  return nats_error(s, code, "stream " + spec.name);
}

Status JetStreamConnection::ensure_consumer(const ConsumerSpec& spec) {
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = spec.durable.c_str();
  cfg.FilterSubject = spec.filter_subject.c_str();
  cfg.AckPolicy = spec.ack_none ? js_AckNone : js_AckExplicit;
  cfg.AckWait = to_ns(spec.ack_wait_s);
  cfg.MaxDeliver = spec.max_deliver;
  cfg.DeliverPolicy = js_DeliverAll;
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddConsumer(&info, js_, spec.stream.c_str(), &cfg, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (s == NATS_OK) return ok_status();
  info = nullptr;  // it exists with other settings: the newest start-up's settings win
  code = static_cast<jsErrCode>(0);
  s = js_UpdateConsumer(&info, js_, spec.stream.c_str(), &cfg, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (s == NATS_OK) return ok_status();
  return nats_error(s, code, "consumer " + spec.durable + " on stream " + spec.stream);
}

Result<natsSubscription*> JetStreamConnection::bind_pull(const std::string& stream,
                                                         const std::string& durable,
                                                         const std::string& subject) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = durable.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js_, subject.c_str(), durable.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) return nats_error(s, code, "pull subscription " + durable);
  return sub;
}

Result<bool> JetStreamConnection::publish_durable(natsMsg* msg, double timeout_s) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.MaxWait = 2000;
    const natsStatus s = js_PublishMsg(&ack, js_, msg, &o, &code);
    const bool duplicate = s == NATS_OK && ack != nullptr && ack->Duplicate;
    jsPubAck_Destroy(ack);
    if (s == NATS_OK) return duplicate;
    if (std::chrono::steady_clock::now() >= give_up) {
      return nats_error(s, code, std::string("publish to ") + natsMsg_GetSubject(msg));
    }
    // Timeout or no responders: the server is restarting; the message id makes a retry safe.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace zinfer::nats
