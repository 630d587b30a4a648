// Row counts a padded decode step runs with. A CUDA graph is captured per step shape, and a
// shape seen once is run eagerly: as a batch of running sequences shrinks one job at a time,
// every step would be a new shape. Padding a decode step of n sequences to one of a few row
// counts (1, 2, 4, 8, 16, 32, then multiples of 32 up to kMaxPaddedDecodeRows) lets the
// graphs of those counts replay; the extra rows are dummy sequences whose outputs are dropped
// (LlmOptions::pad_decode_rows). Every kernel computes a row the same way whatever rows share
// its batch, so padding changes no real row's bits.
#pragma once

#include <cstdint>

namespace zinfer::model {

// Beyond this a step is not padded (the CUDA backend captures steps of at most 512 rows).
inline constexpr std::int64_t kMaxPaddedDecodeRows = 512;

inline std::int64_t padded_decode_rows(std::int64_t n) {
  if (n <= 0 || n > kMaxPaddedDecodeRows) return n;
  if (n <= 32) {
    std::int64_t p = 1;
    while (p < n) p *= 2;
    return p;
  }
  return (n + 31) / 32 * 32;
}

}  // namespace zinfer::model
