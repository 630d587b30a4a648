// make_frame_msg() (see frame_message.h).
#include "service/nats/frame_message.h"

#include "service/nats/frame_attempt.h"
#include "service/nats/jetstream_config.h"
#include "service/nats/jetstream_connection.h"

namespace zinfer::nats {

Result<natsMsg*> make_frame_msg(const std::string& subject, const FrameHeaders& h,
                                std::string_view frame) {
  const std::string body = with_attempt(frame, h.attempt);
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  const std::string attempt = std::to_string(h.attempt);
  if (s == NATS_OK && !h.job_id.empty()) s = natsMsgHeader_Set(msg, kHeaderJobId, h.job_id.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, kHeaderAttempt, attempt.c_str());
  if (s == NATS_OK && !h.worker.empty())
    s = natsMsgHeader_Set(msg, kHeaderWorker, h.worker.c_str());
  if (s == NATS_OK && h.terminal) {
    const std::string id = h.job_id + "/" + attempt + "/end";
    s = natsMsgHeader_Set(msg, kHeaderMsgId, id.c_str());
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return nats_error(s, static_cast<jsErrCode>(0), "frame message for " + subject);
  }
  return msg;
}

}  // namespace zinfer::nats
