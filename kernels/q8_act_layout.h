// Q8ActLayout: where the parts of one quantized activation row live on the GPU. The values are
// the bits of quant::quantize_act_row (Q8_0, Q8_1 or Q8_K blocks, ggml's SIMD rounding rule),
// rearranged so the kernels' loads are aligned: the k int8 quants first (16-byte aligned),
// then one float scale per block (the fp16 value for Q8_0/Q8_1), then Q8_1's per-block sums
// s = d · Σq (fp16 value) or Q8_K's int16 sums of each 16 quants. Rows follow each other at
// row_bytes (a multiple of 16). Plain C++, so host code (tests, the CPU emulation of the
// kernels) reads the same layout.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/q16.h"
#include "kernels/q8_dot.cuh"

namespace zinfer::cuda::q8 {

struct Q8ActLayout {
  GgmlType type = GgmlType::kQ8_0;  // kQ8_0, kQ8_1 or kQ8_K (q16: unused)
  std::int64_t k = 0;               // elements per row
  std::int64_t nb = 0;              // blocks per row
  std::size_t d_off = 0, s_off = 0, bsums_off = 0, row_bytes = 0;
  // Q16 (q8_dot.cuh): hi bytes at 0, lo bytes at lo_off, a float scale per 32 elements at
  // d_off, int32 sums of each 16 quants at qsum_off.
  bool q16 = false;
  std::size_t lo_off = 0, qsum_off = 0;
};

constexpr std::size_t align16(std::size_t n) { return (n + 15) & ~static_cast<std::size_t>(15); }

// The layout for rows of k elements (k a multiple of the block size: 32, or 256 for Q8_K).
inline Q8ActLayout q8_act_layout(GgmlType act_type, std::int64_t k) {
  Q8ActLayout l;
  l.type = act_type;
  l.k = k;
  l.nb = k / (act_type == GgmlType::kQ8_K ? quant::kQKK : quant::kQK);
  const auto nb = static_cast<std::size_t>(l.nb);
  l.d_off = align16(static_cast<std::size_t>(k));
  std::size_t end = l.d_off + 4 * nb;
  if (act_type == GgmlType::kQ8_1) {
    l.s_off = end;
    end += 4 * nb;
  } else if (act_type == GgmlType::kQ8_K) {
    l.bsums_off = end;
    end += 2 * static_cast<std::size_t>(k / 16);
  }
  l.row_bytes = align16(end);
  return l;
}

// The Q16 layout for rows of k elements (k a multiple of 32).
inline Q8ActLayout q16_act_layout(std::int64_t k) {
  Q8ActLayout l;
  l.q16 = true;
  l.k = k;
  l.nb = k / quant::kQK;
  l.lo_off = align16(static_cast<std::size_t>(k));
  l.d_off = 2 * l.lo_off;
  l.qsum_off = l.d_off + 4 * static_cast<std::size_t>(l.nb);
  l.row_bytes = align16(l.qsum_off + 4 * static_cast<std::size_t>(k / 16));
  return l;
}

// Row r of a Q16 buffer.
ZINFER_HD Act16Row act16_row(const std::uint8_t* base, const Q8ActLayout& l, std::int64_t r) {
  const std::uint8_t* row = base + static_cast<std::size_t>(r) * l.row_bytes;
  Act16Row a;
  a.hi = reinterpret_cast<const std::int8_t*>(row);
  a.lo = reinterpret_cast<const std::int8_t*>(row + l.lo_off);
  a.d = reinterpret_cast<const float*>(row + l.d_off);
  a.qsum16 = reinterpret_cast<const std::int32_t*>(row + l.qsum_off);
  return a;
}

// Host: the Q16 quantization of one row of l.k floats into dst (l.row_bytes bytes) — the
// arithmetic the GPU kernel performs: d = amax / 32639, q = round-half-even(x · (32639 /
// amax)), lo = q's low byte as int8, hi = (q - lo) / 256.
inline void quantize_q16_row(const Q8ActLayout& l, const float* x, std::uint8_t* dst) {
  std::memset(dst, 0, l.row_bytes);
  auto* hi = reinterpret_cast<std::int8_t*>(dst);
  auto* lo = reinterpret_cast<std::int8_t*>(dst + l.lo_off);
  auto* d = reinterpret_cast<float*>(dst + l.d_off);
  auto* qsum = reinterpret_cast<std::int32_t*>(dst + l.qsum_off);
  int q[quant::kQ16Block];
  for (std::int64_t b = 0; b < l.nb; ++b) {
    d[b] = quant::q16_quantize_block(x + quant::kQK * b, q);
    for (int i = 0; i < quant::kQK; ++i) {
      const std::int64_t e = quant::kQK * b + i;
      const auto low = static_cast<std::int8_t>(static_cast<std::uint8_t>(q[i] & 0xff));
      lo[e] = low;
      hi[e] = static_cast<std::int8_t>((q[i] - low) / 256);
      qsum[e / 16] += q[i];
    }
  }
}

// Row r of a buffer in this layout.
ZINFER_HD ActRow act_row(const std::uint8_t* base, const Q8ActLayout& l, std::int64_t r) {
  const std::uint8_t* row = base + static_cast<std::size_t>(r) * l.row_bytes;
  ActRow a;
  a.qs = reinterpret_cast<const std::int8_t*>(row);
  a.d = reinterpret_cast<const float*>(row + l.d_off);
  if (l.type == GgmlType::kQ8_1) a.s = reinterpret_cast<const float*>(row + l.s_off);
  if (l.type == GgmlType::kQ8_K) a.bsums = reinterpret_cast<const std::int16_t*>(row + l.bsums_off);
  return a;
}

// Host: one row of quantize_act_row's blocks (type l.type) rewritten into this layout at dst
// (l.row_bytes bytes; padding zeroed).
inline void pack_act_row(const Q8ActLayout& l, const void* blocks, std::uint8_t* dst) {
  std::memset(dst, 0, l.row_bytes);
  auto* d = reinterpret_cast<float*>(dst + l.d_off);
  for (std::int64_t b = 0; b < l.nb; ++b) {
    if (l.type == GgmlType::kQ8_K) {
      const auto& blk = static_cast<const quant::BlockQ8_K*>(blocks)[b];
      std::memcpy(dst + quant::kQKK * b, blk.qs, quant::kQKK);
      d[b] = blk.d;
      std::memcpy(dst + l.bsums_off + sizeof(blk.bsums) * static_cast<std::size_t>(b), blk.bsums,
                  sizeof(blk.bsums));
    } else if (l.type == GgmlType::kQ8_1) {
      const auto& blk = static_cast<const quant::BlockQ8_1*>(blocks)[b];
      std::memcpy(dst + quant::kQK * b, blk.qs, quant::kQK);
      d[b] = quant::fp16_to_f32(blk.d);
      reinterpret_cast<float*>(dst + l.s_off)[b] = quant::fp16_to_f32(blk.s);
    } else {
      const auto& blk = static_cast<const quant::BlockQ8_0*>(blocks)[b];
      std::memcpy(dst + quant::kQK * b, blk.qs, quant::kQK);
      d[b] = quant::fp16_to_f32(blk.d);
    }
  }
}

}  // namespace zinfer::cuda::q8
