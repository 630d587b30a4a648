// msgpack codec of the zinfer protocol (schemas/PROTOCOL.md): bytes ⇄ the structs of
// messages.h. Decoding is bounded (frame size checked before unpacking, msgpack unpack_limit on
// counts, sizes and depth) and strict (every field type- and range-checked, UTF-8 validated);
// errors are typed and name the offending field path ("submit.temperature: ...").
// Worker side: decode_client() + encode(). Client side (zinfer submit, tests): encode_client()
// + decode_worker(). Nothing here throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/error.h"
#include "service/protocol/messages.h"

namespace zinfer::protocol {

// Limits applied to every decode. Defaults are the documented protocol defaults; a worker may
// tighten them (e.g. max_prompt_tokens = its context length) but the spec values are maxima
// that clients can rely on being accepted.
struct DecodeLimits {
  std::size_t max_frame_bytes = 1u << 20;   // whole frame, checked before unpacking
  std::size_t max_depth = 8;                // map/array nesting; the top-level map is depth 1
  std::size_t max_array_elements = 131072;  // any one array (prompt_tokens is the longest)
  std::size_t max_map_entries = 1024;       // any one map (logit_bias is the largest)
  std::size_t max_string_bytes = 1u << 20;  // any one string
  std::size_t max_prompt_bytes = 512u
                                 << 10;    // prompt, or summed message contents → PROMPT_TOO_LONG
  std::size_t max_prompt_tokens = 131072;  // prompt_tokens length → PROMPT_TOO_LONG
  std::size_t max_messages = 1024;         // entries of "messages"
};

// Fixed protocol constants (not tunable: clients code against them).
inline constexpr std::size_t kMaxJobIdBytes = 128;
inline constexpr std::size_t kMaxStopStrings = 16;
inline constexpr std::size_t kMaxStopBytes = 256;
inline constexpr std::size_t kMaxStopTokenIds = 64;
inline constexpr std::size_t kMaxLogitBias = 1024;
inline constexpr std::int32_t kMaxMaxTokens = 1 << 20;
inline constexpr std::int32_t kMaxTopLogprobs = 20;
inline constexpr std::int32_t kMinPriority = -100;
inline constexpr std::int32_t kMaxPriority = 100;
inline constexpr std::int64_t kMaxDeadlineMs = 86'400'000;  // one day
inline constexpr double kMaxTemperature = 100.0;
inline constexpr double kMaxRepetitionPenalty = 10.0;
inline constexpr double kMaxAbsLogitBias = 100.0;

// Result of decode_client(): a Result<ClientMessage> (ok / value / error as usual) that on
// error also carries the frame's job_id when one could be read and was valid, so the worker
// can address its ErrorMsg (error_reply()).
class [[nodiscard]] ClientDecodeResult : public Result<ClientMessage> {
 public:
  ClientDecodeResult(ClientMessage msg)  // NOLINT(google-explicit-constructor)
      : Result<ClientMessage>(std::move(msg)) {}
  ClientDecodeResult(Error error, std::optional<std::string> job_id)
      : Result<ClientMessage>(std::move(error)), job_id_(std::move(job_id)) {}

  // On error: the job_id of the rejected frame, if readable. On success: nullopt.
  const std::optional<std::string>& job_id() const { return job_id_; }

 private:
  std::optional<std::string> job_id_;
};

// Decodes one client → worker frame (the payload, without envelope frames).
// Errors: kInvalidRequest (not msgpack, limits, wrong types, unknown type, bad job_id,
// bad prompt form), kUnsupportedVersion (v ≠ 1), kInvalidParameter (sampling/generation
// values out of range; vocabulary-dependent checks are the worker's), kPromptTooLong.
ClientDecodeResult decode_client(std::span<const std::uint8_t> frame, const DecodeLimits& limits);

// Encodes one worker → client message as one msgpack map.
std::string encode(const WorkerMessage& msg);

// Client side: encodes a request as one msgpack map, and decodes a worker reply (strictly:
// kInvalidRequest / kUnsupportedVersion naming the field on anything malformed).
std::string encode_client(const ClientMessage& msg);
Result<WorkerMessage> decode_worker(std::span<const std::uint8_t> frame,
                                    const DecodeLimits& limits);

// The error frame answering `error` (retriable from error_code_retriable()).
ErrorMsg error_reply(const Error& error, std::optional<std::string> job_id);
inline ErrorMsg error_reply(const ClientDecodeResult& failed) {
  return error_reply(failed.error(), failed.job_id());
}

// Wire "type" of a message ("submit", "token", ...).
std::string_view message_type(const ClientMessage& msg);
std::string_view message_type(const WorkerMessage& msg);

// Convenience for byte containers holding a frame (std::string, zmq::message_t data).
inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace zinfer::protocol
