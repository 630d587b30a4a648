// DeadLetterHandler (see dead_letter.h).
#include "service/nats/dead_letter.h"

#include <nlohmann/json.hpp>

#include "service/nats/frame_message.h"
#include "service/protocol/codec.h"
#include "service/worker/service_log.h"

namespace zinfer::nats {
namespace {

constexpr double kPublishTimeoutS = 30.0;

void on_advisory(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  std::string body(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  static_cast<DeadLetterHandler*>(closure)->handle(body);
}

std::string header(natsMsg* msg, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == nullptr) return "";
  return v;
}

}  // namespace

Result<std::unique_ptr<DeadLetterHandler>> DeadLetterHandler::create(
    JetStreamConnection& conn, const JetStreamConfig& config) {
  std::unique_ptr<DeadLetterHandler> h(new DeadLetterHandler(conn, config));
  const std::string subject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + config.stream + ".*";
  natsStatus s = natsConnection_QueueSubscribe(&h->sub_, conn.nc(), subject.c_str(),
                                               "zinfer-dead-letters", on_advisory, h.get());
  if (s != NATS_OK) return nats_error(s, static_cast<jsErrCode>(0), "subscribe " + subject);
  s = natsSubscription_SetOnCompleteCB(h->sub_, on_complete, h.get());
  if (s != NATS_OK) return nats_error(s, static_cast<jsErrCode>(0), "subscribe " + subject);
  h->watching_ = true;
  return h;
}

void DeadLetterHandler::on_complete(void* self) {
  auto* h = static_cast<DeadLetterHandler*>(self);
  // Notified under the lock: the destructor frees the condition variable as soon as it sees
  // complete_.
  std::lock_guard lk(h->complete_mu_);
  h->complete_ = true;
  h->complete_cv_.notify_all();
}

DeadLetterHandler::~DeadLetterHandler() {
  if (sub_ == nullptr) return;
  // Unsubscribing does not wait for the subscription's thread: it may be inside handle() (or
  // about to call it once more) with this object. Closing the subscription, by this call or
  // by the connection's close, makes that thread run on_complete after its last handle().
  natsSubscription_Unsubscribe(sub_);
  if (watching_) {
    std::unique_lock lk(complete_mu_);
    complete_cv_.wait(lk, [this] { return complete_; });
  }
  natsSubscription_Destroy(sub_);
}

void DeadLetterHandler::handle(const std::string& advisory) {
  const nlohmann::json a = nlohmann::json::parse(advisory, nullptr, false);
  if (a.is_discarded() || !a.is_object()) return;
  const std::string consumer = a.value("consumer", "");
  if (consumer.rfind(config_.consumer_name(""), 0) != 0) return;  // another model's queue
  const std::uint64_t seq = a.value("stream_seq", std::uint64_t{0});
  const std::uint64_t deliveries = a.value("deliveries", std::uint64_t{0});
  natsMsg* job = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetMsg(&job, conn_.js(), config_.stream.c_str(), seq, nullptr, &code) != NATS_OK) {
    return;  // already dead-lettered (or settled) by someone else
  }
  const std::string reply = header(job, kHeaderReply);
  std::string job_id = header(job, kHeaderMsgId);
  if (job_id.empty()) job_id = "seq-" + std::to_string(seq);
  const Error error = make_error(ErrorCode::kWorkerLost,
                                 "the job was delivered " + std::to_string(deliveries) +
                                     " times (--nats-max-deliver) without finishing; dead-lettered "
                                     "to " +
                                     config_.dead_subject());
  worker::service_log().warn("job {} (stream seq {}): {}", job_id, seq, error.message);
  if (!reply.empty()) {
    const std::string frame = protocol::encode(protocol::error_reply(error, job_id));
    auto msg =
        make_frame_msg(reply, FrameHeaders{job_id, deliveries, config_.worker_name, true}, frame);
    if (msg.ok()) {
      if (auto st = conn_.publish_durable(*msg, kPublishTimeoutS); !st.ok())
        worker::service_log().error("dead letter {}: {}", job_id, st.error().message);
      natsMsg_Destroy(*msg);
    }
  }
  natsMsg* dead = nullptr;
  const std::string subject = config_.dead_subject();
  natsStatus s = natsMsg_Create(&dead, subject.c_str(), nullptr, natsMsg_GetData(job),
                                natsMsg_GetDataLength(job));
  const std::string attempts = std::to_string(deliveries);
  const std::string code_name(error_code_name(error.code));
  if (s == NATS_OK) s = natsMsgHeader_Set(dead, kHeaderMsgId, job_id.c_str());
  if (s == NATS_OK && !reply.empty()) s = natsMsgHeader_Set(dead, kHeaderReply, reply.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(dead, kHeaderError, code_name.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(dead, kHeaderAttempt, attempts.c_str());
  if (s == NATS_OK) {
    if (auto st = conn_.publish_durable(dead, kPublishTimeoutS); !st.ok()) {
      worker::service_log().error("dead letter {}: {}", job_id, st.error().message);
      s = NATS_ERR;  // keep the job in the stream: nothing is lost
    }
  }
  natsMsg_Destroy(dead);
  natsMsg_Destroy(job);
  if (s != NATS_OK) return;
  dead_lettered_.fetch_add(1, std::memory_order_relaxed);
  js_DeleteMsg(conn_.js(), config_.stream.c_str(), seq, nullptr, &code);
}

}  // namespace zinfer::nats
