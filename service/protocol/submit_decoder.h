// Internal to the codec: the fields of a "submit" map → SubmitMsg, each type- and range-checked.
#pragma once

#include <string>
#include <string_view>

#include "engine/core/error.h"
#include "service/protocol/codec.h"
#include "service/protocol/messages.h"
#include "service/protocol/msgpack_reader.h"

namespace zinfer::protocol::detail {

// `m` is the frame's top-level map (path "submit"), frame-wide rules already checked and
// `job_id` already validated. Error codes as documented in schemas/PROTOCOL.md.
Result<SubmitMsg> decode_submit(const MapReader& m, std::string job_id, const DecodeLimits& limits);

// A client-sent string quoted for an error message, cut at `max_bytes` on a character boundary.
std::string quote_for_message(std::string_view s, std::size_t max_bytes = 64);

}  // namespace zinfer::protocol::detail
