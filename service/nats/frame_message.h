// make_frame_msg(): a worker frame as the NATS message published to a job's reply subject —
// the frame with its `attempt` field, and the headers Zinfer-Job-Id, Zinfer-Attempt and
// Zinfer-Worker (schemas/PROTOCOL.md §9.3). Terminal frames also get a Nats-Msg-Id
// (<job>/<attempt>/end) so the results stream drops a retried publish of the same frame.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/error.h"

namespace zinfer::nats {

struct FrameHeaders {
  std::string job_id;
  std::uint64_t attempt = 1;
  std::string worker;
  bool terminal = false;
};

// The caller owns the message (natsMsg_Destroy).
Result<natsMsg*> make_frame_msg(const std::string& subject, const FrameHeaders& h,
                                std::string_view frame);

}  // namespace zinfer::nats
