// libFuzzer target for the protocol codec: arbitrary bytes → decode_client and decode_worker.
// Beyond "no crash, no leak, no UB", it checks the promises the worker relies on:
//  - a rejection has one of the documented codes and a non-empty, valid-UTF-8 message, and a
//    returned job_id is valid;
//  - an accepted frame re-encodes to a frame that decodes to the same message (a fixed point:
//    encode(decode(encode(m))) == encode(m)), for both directions;
//  - the error reply for a rejected frame encodes and decodes back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "service/protocol/codec.h"
#include "service/protocol/utf8.h"

namespace {

using namespace zinfer;
using namespace zinfer::protocol;

void check(bool ok) {
  if (!ok) std::abort();
}

bool documented_client_code(ErrorCode c) {
  return c == ErrorCode::kInvalidRequest || c == ErrorCode::kUnsupportedVersion ||
         c == ErrorCode::kInvalidParameter || c == ErrorCode::kPromptTooLong;
}

void check_error(const Error& e) {
  check(!e.message.empty());
  check(utf8_valid(e.message));
}

void fuzz_client(std::span<const std::uint8_t> frame, const DecodeLimits& limits) {
  ClientDecodeResult r = decode_client(frame, limits);
  if (!r.ok()) {
    check(documented_client_code(r.error().code));
    check_error(r.error());
    if (r.job_id()) check(!r.job_id()->empty() && r.job_id()->size() <= kMaxJobIdBytes);
    const std::string reply = encode(WorkerMessage(error_reply(r)));
    auto back = decode_worker(as_bytes(reply), DecodeLimits{});
    check(back.ok());
    check(std::get<ErrorMsg>(*back).message == r.error().message);
    return;
  }
  // The encoder writes every default explicitly, so the frame may grow: lift only the size cap.
  DecodeLimits relaxed = limits;
  relaxed.max_frame_bytes = SIZE_MAX;
  const std::string once = encode_client(r.value());
  ClientDecodeResult again = decode_client(as_bytes(once), relaxed);
  check(again.ok());
  check(again->index() == r->index());
  check(encode_client(again.value()) == once);
}

void fuzz_worker(std::span<const std::uint8_t> frame, const DecodeLimits& limits) {
  Result<WorkerMessage> r = decode_worker(frame, limits);
  if (!r.ok()) {
    check(r.error().code == ErrorCode::kInvalidRequest ||
          r.error().code == ErrorCode::kUnsupportedVersion);
    check_error(r.error());
    return;
  }
  DecodeLimits relaxed = limits;
  relaxed.max_frame_bytes = SIZE_MAX;
  const std::string once = encode(r.value());
  Result<WorkerMessage> again = decode_worker(as_bytes(once), relaxed);
  check(again.ok());
  check(encode(again.value()) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> frame(data, size);
  // Small limits too, so the fuzzer reaches every limit with short inputs.
  DecodeLimits tight;
  tight.max_frame_bytes = 2048;
  tight.max_depth = 4;
  tight.max_array_elements = 64;
  tight.max_map_entries = 32;
  tight.max_string_bytes = 256;
  tight.max_prompt_bytes = 128;
  tight.max_prompt_tokens = 16;
  tight.max_messages = 4;
  for (const DecodeLimits& limits : {DecodeLimits{}, tight}) {
    fuzz_client(frame, limits);
    fuzz_worker(frame, limits);
  }
  return 0;
}
