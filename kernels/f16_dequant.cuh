// Whole sub-blocks of a quantized weight row dequantized straight to fp16 pairs, for the fp16
// tiles' shared-memory stage (f16_mma_tile.cuh). The values are those of QuantTraits::group8
// (the CPU's quant::dequantize_row: fp32 products and differences, each rounded on its own)
// rounded to fp16 — bit for bit, tests/engine/quant/f16_dequant_test.cpp — but a thread does 32
// elements at once from word loads, where group8 reads 8 bytes one at a time and decodes the
// scales again for every 8 elements (~115 instructions a group in the fp16 tile's SASS).
//
// The integer-to-float step is the exponent trick: the word 0x4B0000qq is the float 2^23 + q,
// and fma(d1, 2^23 + q, -d1·2^23) is d1·q rounded once (the fma's exact sum is d1·q; -d1·2^23
// is exact, a power-of-two scaling), which is what d1 * float(q) gives.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/ggml_type.h"
#include "kernels/host_device.h"
#include "kernels/q8_dot.cuh"

#ifndef __CUDA_ARCH__
#include "engine/quant/fp16.h"
#endif
#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

namespace zinfer::cuda::f16mma {

using quant::GgmlType;

// The fp16 bits of lo and hi (round to nearest even), lo in the low half.
ZINFER_HD std::uint32_t f16_half2_bits(float lo, float hi) {
#ifdef __CUDA_ARCH__
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
#else
  return static_cast<std::uint32_t>(quant::f32_to_fp16(lo)) |
         static_cast<std::uint32_t>(quant::f32_to_fp16(hi)) << 16;
#endif
}

// 2^23 + (byte k of x), as a float.
ZINFER_HD float magic_byte(std::uint32_t x, int k) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(__byte_perm(x, 0x4B000000u, 0x7650u + static_cast<unsigned>(k)));
#else
  return f32_from_bits(0x4B000000u | q8::byte_of(x, k));
#endif
}

ZINFER_HD std::uint32_t f32_bits(float v) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(v);
#else
  std::uint32_t u = 0;
  std::memcpy(&u, &v, sizeof(u));
  return u;
#endif
}

// d1·q - m1 for bytes k0 and k0 + 1 of x (each a quant 0..255), rounded to fp16, as one pair.
// With kNeg (d1's sign bit set) the product is |d1|·q with the sign put back, so that q = 0
// gives d1's signed zero as a plain product does (the fma alone would give +0).
template <bool kNeg>
ZINFER_HD std::uint32_t affine2_f16(std::uint32_t x, int k0, float d1, float m1) {
  const float a = kNeg ? -d1 : d1;
  const float bias = -(a * 8388608.0f);
  float v[2];
  ZINFER_UNROLL
  for (int k = 0; k < 2; ++k) {
    float prod = fma_rn(a, magic_byte(x, k0 + k), bias);
    if constexpr (kNeg) prod = f32_from_bits(f32_bits(prod) ^ 0x80000000u);
    v[k] = sub_rn(prod, m1);
  }
  return f16_half2_bits(v[0], v[1]);
}

// The same for all four bytes of x, as two pairs.
template <bool kNeg>
ZINFER_HD void affine4_f16(std::uint32_t x, float d1, float m1, std::uint32_t& lo,
                           std::uint32_t& hi) {
  lo = affine2_f16<kNeg>(x, 0, d1, m1);
  hi = affine2_f16<kNeg>(x, 2, d1, m1);
}

// The 32 quants q (low nibbles of the bytes at q after >> shift) as d1·q - m1 in fp16 pairs.
template <bool kNeg>
ZINFER_HD void nibbles32_f16(const std::uint8_t* q, int shift, float d1, float m1,
                             std::uint32_t (&h)[16]) {
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    const std::uint32_t x = (q8::ld_u32(q + 4 * i) >> shift) & 0x0f0f0f0fu;
    affine4_f16<kNeg>(x, d1, m1, h[2 * i], h[2 * i + 1]);
  }
}

// Sub-block s (0..7, 32 elements) of the Q4_K super-block at blk (4-byte aligned) as 16 words
// of fp16 pairs, element 2i in the low half of h[i].
// d1 = d·sc and m1 = dmin·mn of sub-block s of a Q4_K super-block whose first 16 bytes are the
// words w0..w3 (d and dmin, then the 12 scale bytes), as dequantize_row computes them.
ZINFER_HD void q4k_scale_min(std::uint32_t w0, std::uint32_t w1, std::uint32_t w2, std::uint32_t w3,
                             int s, float& d1, float& m1) {
  int sc = 0, mn = 0;
  q8::k4_scale_min(w1, w2, w3, s, sc, mn);  // bytes 0..3 of the scales are w1, 4..7 w2, 8..11 w3
  d1 = q8::half_to_f32(w0 & 0xffffu) * static_cast<float>(sc);
  m1 = q8::half_to_f32(w0 >> 16) * static_cast<float>(mn);
}

ZINFER_HD void q4k_sub32_f16(const std::uint8_t* blk, int s, std::uint32_t (&h)[16]) {
  float d1 = 0.0f, m1 = 0.0f;
  q4k_scale_min(q8::ld_u32(blk), q8::ld_u32(blk + 4), q8::ld_u32(blk + 8), q8::ld_u32(blk + 12), s,
                d1, m1);
  const std::uint8_t* q = blk + 16 + 32 * (s >> 1);
  const int shift = 4 * (s & 1);
  if (f32_bits(d1) >> 31 == 0) {
    nibbles32_f16<false>(q, shift, d1, m1, h);
  } else {
    nibbles32_f16<true>(q, shift, d1, m1, h);
  }
}

// d · (q - off) for bytes k0 and k0 + 1 of x (quants q), rounded to fp16, as one pair: the byte's
// float minus off is exact (both integers below 2^24), then the plain product as the CPU's
// d * float(q - off) (a zero difference is +0, so the product's zero takes d's sign there as
// well).
ZINFER_HD std::uint32_t scaled2_f16(std::uint32_t x, int k0, float d, float off) {
  float v[2];
  ZINFER_UNROLL
  for (int k = 0; k < 2; ++k) {
    const float q = sub_rn(magic_byte(x, k0 + k), 8388608.0f + off);
    v[k] = mul_rn(d, q);
  }
  return f16_half2_bits(v[0], v[1]);
}

// The same for all four bytes of x, as two pairs.
ZINFER_HD void scaled4_f16(std::uint32_t x, float d, float off, std::uint32_t& lo,
                           std::uint32_t& hi) {
  lo = scaled2_f16(x, 0, d, off);
  hi = scaled2_f16(x, 2, d, off);
}

// The Q5_0 block at blk (2-byte aligned) as 16 words of fp16 pairs.
ZINFER_HD void q5_0_block_f16(const std::uint8_t* blk, std::uint32_t (&h)[16]) {
  const float d = q8::half_to_f32(q8::ld_u16(blk));
  const std::uint32_t qh = q8::ld_u32_a2(blk + 2);
  ZINFER_UNROLL
  for (int i = 0; i < 4; ++i) {
    const std::uint32_t w = q8::ld_u32_a2(blk + 6 + 4 * i);
    const std::uint32_t lo = (w & 0x0f0f0f0fu) | q8::spread_bit4((qh >> (4 * i)) & 15u);
    const std::uint32_t hi = ((w >> 4) & 0x0f0f0f0fu) | q8::spread_bit4((qh >> (16 + 4 * i)) & 15u);
    scaled4_f16(lo, d, 16.0f, h[2 * i], h[2 * i + 1]);          // elements 4i..4i+3
    scaled4_f16(hi, d, 16.0f, h[8 + 2 * i], h[8 + 2 * i + 1]);  // elements 16+4i..
  }
}

// The Q8_0 block at blk (2-byte aligned) as 16 words of fp16 pairs (signed quants biased by 128).
ZINFER_HD void q8_0_block_f16(const std::uint8_t* blk, std::uint32_t (&h)[16]) {
  const float d = q8::half_to_f32(q8::ld_u16(blk));
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    scaled4_f16(q8::ld_u32_a2(blk + 2 + 4 * i) ^ 0x80808080u, d, 128.0f, h[2 * i], h[2 * i + 1]);
  }
}

// Q6_K: the four 6-bit quants whose low nibbles are the bytes lo (>> ls) and whose high two bits
// are the bytes hi (>> hs), as bytes.
ZINFER_HD std::uint32_t q6k_quants(std::uint32_t lo, std::uint32_t hi, int ls, int hs) {
  return ((lo >> ls) & 0x0f0f0f0fu) | ((hi >> hs) & 0x03030303u) << 4;
}

// d · scales[i] of the Q6_K super-block at blk (2-byte aligned), as dequantize_row computes it.
ZINFER_HD float q6k_scale(const std::uint8_t* blk, int i) {
  const std::uint32_t sw = q8::ld_u16(blk + 192 + (i & ~1));
  const auto sc = static_cast<std::int8_t>(static_cast<std::uint8_t>(sw >> (8 * (i & 1))));
  return q8::half_to_f32(q8::ld_u16(blk + 208)) * static_cast<float>(sc);
}

// Sub-block s (0..7, 32 elements: two 16-element scales) of the Q6_K super-block at blk.
ZINFER_HD void q6k_sub32_f16(const std::uint8_t* blk, int s, std::uint32_t (&h)[16]) {
  const int half = s >> 2, gg = s & 3;
  const std::uint8_t* const ql = blk + 64 * half + 32 * (gg & 1);
  const std::uint8_t* const qh = blk + 128 + 32 * half;
  const float d0 = q6k_scale(blk, 2 * s), d1 = q6k_scale(blk, 2 * s + 1);
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    const std::uint32_t x =
        q6k_quants(q8::ld_u32_a2(ql + 4 * i), q8::ld_u32_a2(qh + 4 * i), 4 * (gg >> 1), 2 * gg);
    scaled4_f16(x, i < 4 ? d0 : d1, 32.0f, h[2 * i], h[2 * i + 1]);
  }
}

// Which types dequantize a 32-element unit at a time (sub32_f16), and that unit: sub-block s of
// the Q4_K super-block at p, or the legacy block at p (s unused).
template <GgmlType T>
inline constexpr bool kSub32 = T == GgmlType::kQ4_K || T == GgmlType::kQ5_0 || T == GgmlType::kQ8_0;

template <GgmlType T>
ZINFER_HD void sub32_f16(const std::uint8_t* p, int s, std::uint32_t (&h)[16]) {
  if constexpr (T == GgmlType::kQ4_K) {
    q4k_sub32_f16(p, s, h);
  } else if constexpr (T == GgmlType::kQ6_K) {
    q6k_sub32_f16(p, s, h);
  } else if constexpr (T == GgmlType::kQ5_0) {
    (void)s;
    q5_0_block_f16(p, h);
  } else {
    static_assert(T == GgmlType::kQ8_0, "kSub32 types only");
    (void)s;
    q8_0_block_f16(p, h);
  }
}

}  // namespace zinfer::cuda::f16mma
