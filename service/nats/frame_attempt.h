// with_attempt(): a worker frame (one msgpack map, as service/protocol encodes it) with the
// field `attempt` added — the JetStream delivery attempt that produced it, so a producer that
// saw part of an earlier attempt can discard it (schemas/PROTOCOL.md §9.3). Only the map
// header is rewritten; the other fields are copied byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace zinfer::nats {

// `frame` must start with a msgpack map header (fixmap, map16 or map32); otherwise it is
// returned unchanged.
std::string with_attempt(std::string_view frame, std::uint64_t attempt);

}  // namespace zinfer::nats
