// StopMatcher: earliest complete stop string wins; the longest suffix that is a proper
// prefix of some stop string is held back.
#include "engine/sample/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace zinfer::sample {
namespace {

// A UTF-8 continuation byte (10xxxxxx) never starts a character.
bool is_char_start(char c) { return (static_cast<unsigned char>(c) & 0xC0u) != 0x80u; }

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (s.empty()) continue;
    max_stop_size_ = std::max(max_stop_size_, s.size());
    stops_.push_back(std::move(s));
  }
}

StopMatcher::Out StopMatcher::push(std::string_view delta) {
  Out out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  std::string text = std::move(held_);
  held_.clear();
  text.append(delta);

  // Earliest complete match. Positions before the held text were already proven unable
  // to start a stop string, so searching `text` from 0 is enough; it is short (held text
  // is bounded by the longest stop string, plus one delta).
  std::size_t match = std::string::npos;
  for (const std::string& stop : stops_) {
    for (std::size_t pos = text.find(stop); pos != std::string::npos && pos < match;
         pos = text.find(stop, pos + 1)) {
      if (is_char_start(text[pos])) {
        match = pos;
        break;
      }
    }
  }
  if (match != std::string::npos) {
    text.resize(match);
    out.emit = std::move(text);
    out.stopped = stopped_ = true;
    return out;
  }

  // Hold the longest suffix that is a proper prefix of some stop string: the first
  // position (from the left) whose suffix could still grow into a stop string.
  // Only the last max_stop_size_ - 1 bytes can be a proper prefix.
  std::size_t hold_from = text.size();
  const std::size_t first = text.size() - std::min(text.size(), max_stop_size_ - 1);
  for (std::size_t pos = first; pos < text.size() && hold_from == text.size(); ++pos) {
    if (!is_char_start(text[pos])) continue;
    const std::string_view tail = std::string_view(text).substr(pos);
    for (const std::string& stop : stops_) {
      if (tail.size() < stop.size() && stop.compare(0, tail.size(), tail) == 0) {
        hold_from = pos;
        break;
      }
    }
  }
  held_ = text.substr(hold_from);
  text.resize(hold_from);
  out.emit = std::move(text);
  return out;
}

std::string StopMatcher::flush() {
  if (stopped_) return {};
  return std::exchange(held_, std::string());
}

}  // namespace zinfer::sample
