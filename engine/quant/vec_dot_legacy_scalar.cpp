// Portable dot products of the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4)
// with Q8_0/Q8_1 activations. Integer block sums are exact; the float accumulation copies the
// lane layout of the AVX2 kernels, so both paths return the same bits.
#include <cstring>
#include <type_traits>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"
#include "engine/quant/vec_dot_kernels.h"

namespace zinfer::quant::detail {
namespace {

// Unpacks 16 bytes of nibbles into 32 values: low nibbles first, then high nibbles.
inline void unpack_nibbles(const std::uint8_t* qs, int offset, std::int8_t* out) {
  for (int j = 0; j < kQK / 2; ++j) {
    out[j] = static_cast<std::int8_t>((qs[j] & 0x0f) + offset);
    out[j + kQK / 2] = static_cast<std::int8_t>((qs[j] >> 4) + offset);
  }
}

// Adds the 5th bit from qh (bit j -> element j) to 32 unpacked nibbles.
inline void add_high_bits(const std::uint8_t* qh_bytes, std::int8_t* q) {
  std::uint32_t qh;
  std::memcpy(&qh, qh_bytes, sizeof(qh));
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<std::int8_t>(q[j] | (((qh >> j) & 1u) << 4));
}

// Σ over the blocks of d_w·d_a·(q·q_a) with lane_dots_32's lanes, where q holds the block's 32
// integer weights as unpack(block, q) writes them; weights with a min (Q4_1, Q5_1, against
// Q8_1 activations) add Σ m·s, the minimum times the activation block sum.
template <typename BlockW, typename BlockA, typename Unpack>
float dot_unpacked_blocks(std::int64_t n, const void* w, const void* a, Unpack unpack) {
  constexpr bool kHasMin = std::is_same_v<BlockA, BlockQ8_1>;
  const auto* x = static_cast<const BlockW*>(w);
  const auto* y = static_cast<const BlockA*>(a);
  Lanes8 acc;
  float summs = 0.0f;
  std::int8_t q[kQK];
  std::int32_t lane[8];
  for (std::int64_t i = 0; i < n / kQK; ++i) {
    if constexpr (kHasMin) summs = std::fma(fp16_to_f32(x[i].m), fp16_to_f32(y[i].s), summs);
    unpack(x[i], q);
    lane_dots_32(q, y[i].qs, lane);
    acc.fma_block(fp16_to_f32(x[i].d) * fp16_to_f32(y[i].d), lane);
  }
  if constexpr (kHasMin) return acc.hsum() + summs;
  return acc.hsum();
}

}  // namespace

float dot_q4_0_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_unpacked_blocks<BlockQ4_0, BlockQ8_0>(
      n, w, a, [](const BlockQ4_0& b, std::int8_t* q) { unpack_nibbles(b.qs, -8, q); });
}

float dot_q4_1_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_unpacked_blocks<BlockQ4_1, BlockQ8_1>(
      n, w, a, [](const BlockQ4_1& b, std::int8_t* q) { unpack_nibbles(b.qs, 0, q); });
}

float dot_q5_0_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_unpacked_blocks<BlockQ5_0, BlockQ8_0>(n, w, a, [](const BlockQ5_0& b, std::int8_t* q) {
    unpack_nibbles(b.qs, 0, q);
    add_high_bits(b.qh, q);
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<std::int8_t>(q[j] - 16);
  });
}

float dot_q5_1_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_unpacked_blocks<BlockQ5_1, BlockQ8_1>(n, w, a, [](const BlockQ5_1& b, std::int8_t* q) {
    unpack_nibbles(b.qs, 0, q);
    add_high_bits(b.qh, q);
  });
}

float dot_q8_0_scalar(std::int64_t n, const void* w, const void* a) {
  return dot_unpacked_blocks<BlockQ8_0, BlockQ8_0>(
      n, w, a, [](const BlockQ8_0& b, std::int8_t* q) { std::memcpy(q, b.qs, kQK); });
}

// Pairs of blocks go to two accumulators and an odd last block is added in scalar, the
// structure of ggml's x86 MXFP4 kernel.
float dot_mxfp4_scalar(std::int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockMXFP4*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const std::int64_t nb = n / kQK;
  Lanes8 acc[2];
  std::int8_t q[kQK];
  std::int32_t lane[8];
  std::int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    for (int k = 0; k < 2; ++k) {
      for (int j = 0; j < kQK / 2; ++j) {
        q[j] = kMxfp4Values[x[i + k].qs[j] & 0x0f];
        q[j + kQK / 2] = kMxfp4Values[x[i + k].qs[j] >> 4];
      }
      lane_dots_32(q, y[i + k].qs, lane);
      acc[k].fma_block(fp16_to_f32(y[i + k].d) * e8m0_to_f32_half(x[i + k].e), lane);
    }
  }
  Lanes8 sum;
  for (int l = 0; l < 8; ++l) sum.v[l] = acc[0].v[l] + acc[1].v[l];
  float sumf = sum.hsum();
  for (; i < nb; ++i) sumf = mxfp4_block_fma(x[i], y[i], sumf);
  return sumf;
}

}  // namespace zinfer::quant::detail
