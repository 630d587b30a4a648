// StringIdMap (see string_id_map.h).
#include "engine/tokenizer/string_id_map.h"

#include <algorithm>
#include <bit>

namespace zinfer::tok {

std::size_t StringIdMap::build(const std::vector<std::string>& texts) {
  // Load factor <= 0.5 keeps probe runs short.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, texts.size() * 2));
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  std::size_t repeated = 0;
  for (std::size_t id = 0; id < texts.size(); ++id) {
    const std::string& s = texts[id];
    if (s.empty()) continue;
    const std::uint64_t h = hash(s);
    const std::uint64_t tag = h >> 32;
    std::uint64_t i = h & mask_;
    bool seen = false;
    for (; slots_[i] != 0; i = (i + 1) & mask_) {
      if ((slots_[i] >> 32) == tag && texts[(slots_[i] & 0xFFFFFFFFu) - 1] == s) {
        seen = true;
        break;
      }
    }
    if (seen) {
      ++repeated;
      continue;
    }
    slots_[i] = (tag << 32) | (static_cast<std::uint64_t>(id) + 1);
  }
  return repeated;
}

}  // namespace zinfer::tok
