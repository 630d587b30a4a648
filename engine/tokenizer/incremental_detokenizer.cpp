// IncrementalDetokenizer (see tokenizer.h): pieces are appended to a pending byte buffer and
// only whole, valid UTF-8 characters leave it. A byte sequence that can no longer become
// valid is replaced at once by U+FFFD (one per maximal invalid subpart, as Python's
// errors="replace" and the WHATWG decoder do); an incomplete tail waits for the next token.
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {
namespace {

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// Moves the decidable prefix of pending to the result; keeps an incomplete tail in pending.
std::string drain(std::string& pending, bool final) {
  std::string out;
  std::size_t i = 0;
  const std::string_view p = pending;
  while (i < p.size()) {
    std::size_t len = 0;
    const Utf8Status st = classify_utf8(p.substr(i), &len);
    if (st == Utf8Status::kComplete) {
      out.append(p.substr(i, len));
    } else if (st == Utf8Status::kInvalid) {
      out.append(kReplacementUtf8);
    } else {  // incomplete: wait for more bytes unless this is the end of the stream
      if (!final) break;
      out.append(kReplacementUtf8);
      len = p.size() - i;
    }
    i += len;
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

std::string IncrementalDetokenizer::push(std::int32_t id) {
  pending_ += tok_.token_to_piece(id, render_special_);
  return drain(pending_, false);
}

std::string IncrementalDetokenizer::flush() { return drain(pending_, true); }

}  // namespace zinfer::tok
