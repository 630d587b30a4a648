// StopMatcher: text-level stop strings over a stream of UTF-8 deltas, with hold-back.
//
// Text that could still turn into a stop string is held back until it is decided; on a
// full match the text before the stop string is emitted and the stop string itself is
// not (OpenAI / vLLM behaviour). Matching and hold-back start only at UTF-8 character
// boundaries, so every emitted piece is valid UTF-8 when the deltas are.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zinfer::sample {

class StopMatcher {
 public:
  struct Out {
    std::string emit;      // text now safe to send to the client
    bool stopped = false;  // a stop string completed; nothing follows
  };

  // Empty stop strings are ignored (they would match before any text).
  explicit StopMatcher(std::vector<std::string> stops);

  // Feeds the next delta. After a stop every push returns {"", true}.
  Out push(std::string_view delta);
  // End of generation without a stop: releases the held-back text (empty once stopped).
  std::string flush();

  bool stopped() const { return stopped_; }
  // Bytes currently held back (at most the longest stop string minus one).
  std::size_t held_size() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::size_t max_stop_size_ = 1;  // longest stop string (1 when there are none)
  bool stopped_ = false;
};

}  // namespace zinfer::sample
