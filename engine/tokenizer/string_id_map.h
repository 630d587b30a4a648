// StringIdMap: text → token id lookup over a token table that it does not own. One flat
// open-addressing array of (hash tag, id) words: a lookup costs one probe run plus one string
// compare, which keeps building a 150k-token vocab (and its merges) fast, where a node-based
// std::unordered_map spends most of its time on cache misses.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace zinfer::tok {

class StringIdMap {
 public:
  // Indexes texts[0..n); for a repeated text the lowest id wins. Empty texts are skipped.
  // Returns the number of repeated texts.
  std::size_t build(const std::vector<std::string>& texts);
  // Id of `s` in the texts build() saw (passed again: the map stores only ids), or -1.
  std::int32_t find(std::string_view s, const std::vector<std::string>& texts) const {
    if (slots_.empty()) return -1;
    const std::uint64_t h = hash(s);
    const std::uint64_t tag = h >> 32;
    for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) return -1;
      if ((slot >> 32) == tag) {
        const auto id = static_cast<std::int32_t>((slot & 0xFFFFFFFFu) - 1);
        if (texts[static_cast<std::size_t>(id)] == s) return id;
      }
    }
  }

  static std::uint64_t hash(std::string_view s) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
  }

 private:
  std::vector<std::uint64_t> slots_;  // (hash >> 32) << 32 | (id + 1); 0 marks an empty slot
  std::uint64_t mask_ = 0;
};

}  // namespace zinfer::tok
