// Tensor-core tiles of the integer matmuls (q8_mma.h): the operand fragments of
// mma.sync.m16n8k32 / m16n8k16 (.s8 × .s8 → .s32) for every weight type of the Q8 path, the
// per-block float terms, and the one summation order every output follows.
//
// A warp multiplies 16 weight rows (the mma's A, rows g and g + 8 of lane 4g + t) with 8
// activation rows (B's columns) over one sub-block of K at a time: 32 elements (legacy blocks,
// Q4_K/Q5_K groups) or 16 (Q6_K's scale blocks, m16n8k16). Fragment layout (PTX ISA, lane =
// 4g + t):
//   A k32: a0 = A[g][4t..4t+3], a1 = A[g+8][4t..], a2 = A[g][16+4t..], a3 = A[g+8][16+4t..]
//   A k16: a0 = A[g][4t..],     a1 = A[g+8][4t..]
//   B k32: b0 = B[4t..4t+3][g], b1 = B[16+4t..][g];   B k16: b0 = B[4t..][g]
//   C:     c0 = C[g][2t], c1 = C[g][2t+1], c2 = C[g+8][2t], c3 = C[g+8][2t+1]
// The integer sums are exact, so each output's value is fixed by its float steps alone:
//
//   unit terms   one float term per unit of K, from exact integer sums — a unit is a weight
//                block with Q8 activations (32 elements, or 256 for the K-quants, whose group
//                sums are first combined with their 6-bit scales as integers), and 32 elements
//                with Q16 activations (their own scale per 32); the formulas are the *_term
//                functions below.
//   parts        K's blocks are cut into P = mma_parts(nb, block) consecutive parts (P <= 8,
//                set by K alone); a part's sum is its unit terms added in K order from 0.
//   output       the parts' sums added in order (part 0 + part 1 + ...), then the epilogue.
//
// Nothing in that order depends on the batch: an activation row gives the same bits whatever
// rows share its tile, for every batch size (batch invariance by construction). The host
// reference (mma_reference below) computes the same order from the same integers; the GPU
// test holds the kernels to it bit for bit, and the host tests hold the fragments to the
// dequantized weights and the reference to quant::vec_dot / vec_dot_f32.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/mxfp4_block.cuh"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_dot.cuh"

namespace zinfer::cuda::q8mma {

using q8::Act16Row;
using q8::ActRow;
using q8::byte_of;
using q8::fadd;
using q8::fmul;
using q8::fsub;
using q8::half_to_f32;
using q8::ld_u16;
using q8::ld_u32;
using q8::ld_u32_a2;
using q8::scaled;
using q8::spread_bit4;
using q8::sub_bytes;
using q8::U4;
using quant::GgmlType;

inline constexpr int kMaxParts = 8;

// Parts of a row of nb blocks of block_elems elements: at least 128 elements a part, at most
// kMaxParts parts.
ZINFER_HD int mma_parts(std::int64_t nb, int block_elems) {
  const std::int64_t min_blocks = block_elems >= 256 ? 1 : 4;
  const std::int64_t p = (nb + min_blocks - 1) / min_blocks;
  return static_cast<int>(p < kMaxParts ? (p < 1 ? 1 : p) : kMaxParts);
}
// First block of part p of P over nb blocks.
ZINFER_HD std::int64_t part_begin(std::int64_t nb, int parts, int p) { return nb * p / parts; }

// ---- weight fragments -------------------------------------------------------------------
// Traits per weight type: kBlockElems, kBlockBytes, kSubK (32 or 16), kSubs (sub-blocks a
// block); words(row, b, s, t, lo, hi): this row's int8 quants k = 4t..4t+3 of sub-block s of
// block b (lo) and k = 16 + 4t.. (hi, k32 only), offsets removed.

// Q4_0 / Q5_0 / Q8_0 (scale d) and Q4_1 / Q5_1 (scale d, minimum m): one sub-block a block.
struct LegacyHead {
  float d, m;
};

template <GgmlType T>
struct MmaTraits;

template <>
struct MmaTraits<GgmlType::kQ4_0> {
  static constexpr int kBlockElems = 32, kBlockBytes = 18, kSubK = 32, kSubs = 1;
  static constexpr bool kMin = false;
  ZINFER_HD static LegacyHead head(const std::uint8_t* row, std::int64_t b) {
    return {half_to_f32(ld_u16(row + kBlockBytes * b)), 0.0f};
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int /*s*/, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint32_t w = ld_u32_a2(row + kBlockBytes * b + 2 + 4 * t);
    lo = sub_bytes(w & 0x0f0f0f0fu, 0x08080808u);
    hi = sub_bytes((w >> 4) & 0x0f0f0f0fu, 0x08080808u);
  }
};

template <>
struct MmaTraits<GgmlType::kQ4_1> {
  static constexpr int kBlockElems = 32, kBlockBytes = 20, kSubK = 32, kSubs = 1;
  static constexpr bool kMin = true;
  ZINFER_HD static LegacyHead head(const std::uint8_t* row, std::int64_t b) {
    const std::uint32_t dm = ld_u32(row + kBlockBytes * b);
    return {half_to_f32(dm), half_to_f32(dm >> 16)};
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int /*s*/, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint32_t w = ld_u32(row + kBlockBytes * b + 4 + 4 * t);
    lo = w & 0x0f0f0f0fu;
    hi = (w >> 4) & 0x0f0f0f0fu;
  }
};

// Q5_0 / Q5_1: element j's fifth bit is bit j of qh (j = 0..31).
template <bool kHasMin>
struct MmaQ5 {
  static constexpr int kBlockElems = 32, kBlockBytes = kHasMin ? 24 : 22, kSubK = 32, kSubs = 1;
  static constexpr bool kMin = kHasMin;
  static constexpr int kQh = kHasMin ? 4 : 2;
  ZINFER_HD static LegacyHead head(const std::uint8_t* row, std::int64_t b) {
    const std::uint8_t* p = row + kBlockBytes * b;
    if constexpr (kHasMin) {
      const std::uint32_t dm = ld_u32(p);
      return {half_to_f32(dm), half_to_f32(dm >> 16)};
    } else {
      return {half_to_f32(ld_u16(p)), 0.0f};
    }
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int /*s*/, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint8_t* p = row + kBlockBytes * b;
    const std::uint32_t qh = ld_u32_a2(p + kQh);
    const std::uint32_t w = ld_u32_a2(p + kQh + 4 + 4 * t);
    lo = (w & 0x0f0f0f0fu) | spread_bit4(qh >> (4 * t));
    hi = ((w >> 4) & 0x0f0f0f0fu) | spread_bit4(qh >> (16 + 4 * t));
    if constexpr (!kHasMin) {
      lo = sub_bytes(lo, 0x10101010u);
      hi = sub_bytes(hi, 0x10101010u);
    }
  }
};
template <>
struct MmaTraits<GgmlType::kQ5_0> : MmaQ5<false> {};
template <>
struct MmaTraits<GgmlType::kQ5_1> : MmaQ5<true> {};

template <>
struct MmaTraits<GgmlType::kQ8_0> {
  static constexpr int kBlockElems = 32, kBlockBytes = 34, kSubK = 32, kSubs = 1;
  static constexpr bool kMin = false;
  ZINFER_HD static LegacyHead head(const std::uint8_t* row, std::int64_t b) {
    return {half_to_f32(ld_u16(row + kBlockBytes * b)), 0.0f};
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int /*s*/, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint8_t* q = row + kBlockBytes * b + 2 + 4 * t;
    lo = ld_u32_a2(q);
    hi = ld_u32_a2(q + 16);
  }
};

// __byte_perm(x, y, s) without its sign-replicate mode: byte i of the result is byte
// (s >> 4i) & 7 of the eight bytes y:x. The host form lets the CPU tests run the device's steps.
ZINFER_HD std::uint32_t byte_perm(std::uint32_t x, std::uint32_t y, std::uint32_t s) {
#ifdef __CUDA_ARCH__
  return __byte_perm(x, y, s & 0x7777u);
#else
  const std::uint64_t v = (static_cast<std::uint64_t>(y) << 32) | x;
  std::uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    const unsigned b = (s >> (4 * i)) & 7u;
    r |= static_cast<std::uint32_t>((v >> (8 * b)) & 0xffu) << (8 * i);
  }
  return r;
#endif
}

// Four codes (one per byte, 0..15) → their int8 values mxfp4_value(code), one per byte: the
// integer operands of the tensor-core products (d · value is the weight). The magnitudes
// through one byte permute (selector nibble i: the low 3 bits of code i; bytes 0..7 of the
// table {0, 1, 2, 3, 4, 6, 8, 12}), negated where bit 3 is set.
ZINFER_HD std::uint32_t mxfp4_values4(std::uint32_t codes) {
  const std::uint32_t sel =
      (codes & 0x7u) | ((codes >> 4) & 0x70u) | ((codes >> 8) & 0x700u) | ((codes >> 12) & 0x7000u);
  const std::uint32_t mag = byte_perm(0x03020100u, 0x0C080604u, sel);
  const std::uint32_t neg = ((codes >> 3) & 0x01010101u) * 0xffu;
  return (mag & ~neg) | (sub_bytes(0u, mag) & neg);
}

// MXFP4: one sub-block a block, scale d = 2^(e - 127) / 2 and the doubled E2M1 values as int8
// (mxfp4_block.cuh: d · value is the weight, exactly); element j < 16 is the low nibble of
// qs[j], element 16 + j its high nibble. Blocks are 17 bytes: byte loads. Not one of the
// matmul types (dispatch_mma_type): only the expert kernels (moe_mma.cuh) take it.
template <>
struct MmaTraits<GgmlType::kMXFP4> {
  static constexpr int kBlockElems = 32, kBlockBytes = 17, kSubK = 32, kSubs = 1;
  static constexpr bool kMin = false;
  ZINFER_HD static LegacyHead head(const std::uint8_t* row, std::int64_t b) {
    return {mxfp4_scale(row[kBlockBytes * b]), 0.0f};
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int /*s*/, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint32_t w = q8::ld_u32_a1(row + kBlockBytes * b + 1 + 4 * t);
    lo = mxfp4_values4(w & 0x0f0f0f0fu);
    hi = mxfp4_values4((w >> 4) & 0x0f0f0f0fu);
  }
  // The whole block b for a lane that takes it alone (moe_vec.cuh), in two steps so a caller
  // can issue many blocks' loads before it decodes any: load_words reads the five aligned words
  // that hold the block's 17 bytes (from the one holding its first byte; each holds one of its
  // bytes), decode gives its scale d and its 32 int8 values, v[i] = elements 4i..4i+3 (the
  // words of elements 0..15 then 16..31, as the Q16 planes' words of the block lie).
  ZINFER_HD static const std::uint8_t* block(const std::uint8_t* row, std::int64_t b) {
    return row + kBlockBytes * b;
  }
  ZINFER_HD static void load_words(const std::uint8_t* p, std::uint32_t (&w)[5]) {
    unsigned o = 0;
    q8::ld_words_from(p, w, o);
  }
  ZINFER_HD static void decode(const std::uint8_t* p, const std::uint32_t (&w)[5], float& d,
                               std::uint32_t (&v)[8]) {
    const auto o = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p) & 3u);
    d = mxfp4_scale(static_cast<std::uint8_t>(w[0] >> (8 * o)));
    const unsigned sh = 8 * (o + 1);  // 8..32: the codes start at byte o + 1
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) {
      const std::uint32_t c = q8::funnel_rc(w[i], w[i + 1], sh);
      v[i] = mxfp4_values4(c & 0x0f0f0f0fu);
      v[4 + i] = mxfp4_values4((c >> 4) & 0x0f0f0f0fu);
    }
  }
  ZINFER_HD static void values(const std::uint8_t* row, std::int64_t b, float& d,
                               std::uint32_t (&v)[8]) {
    const std::uint8_t* p = block(row, b);
    std::uint32_t w[5];
    load_words(p, w);
    decode(p, w, d, v);
  }
};

// Q4_K / Q5_K: eight groups of 32 (sub-block s = group s) with 6-bit scales and mins. Group
// 2c is the low nibbles of qs[32c .. 32c + 31], group 2c + 1 their high nibbles; Q5_K's fifth
// bit of element l of group s is bit s of qh[l].
struct K4Head {
  float d, dmin;
  std::uint32_t s0, s1, s2;  // the 12 scale bytes (q8::k4_scale_min unpacks group g)
};

template <bool kFive>
struct MmaK4 {
  static constexpr int kBlockElems = 256, kBlockBytes = kFive ? 176 : 144, kSubK = 32, kSubs = 8;
  static constexpr int kQs = kFive ? 48 : 16;
  ZINFER_HD static K4Head head(const std::uint8_t* row, std::int64_t b) {
    const U4 h = q8::ld_u128(row + static_cast<std::int64_t>(kBlockBytes) * b);
    return {half_to_f32(h.x), half_to_f32(h.x >> 16), h.y, h.z, h.w};
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int s, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint8_t* p = row + static_cast<std::int64_t>(kBlockBytes) * b;
    const std::uint8_t* q = p + kQs + 32 * (s >> 1) + 4 * t;
    const int sh = 4 * (s & 1);
    lo = (ld_u32(q) >> sh) & 0x0f0f0f0fu;
    hi = (ld_u32(q + 16) >> sh) & 0x0f0f0f0fu;
    if constexpr (kFive) {
      lo |= ((ld_u32(p + 16 + 4 * t) >> s) & 0x01010101u) << 4;
      hi |= ((ld_u32(p + 32 + 4 * t) >> s) & 0x01010101u) << 4;
    }
  }
};
template <>
struct MmaTraits<GgmlType::kQ4_K> : MmaK4<false> {};
template <>
struct MmaTraits<GgmlType::kQ5_K> : MmaK4<true> {};

ZINFER_HD int k4_scale(const K4Head& h, int g) {
  int sc = 0, mn = 0;
  q8::k4_scale_min(h.s0, h.s1, h.s2, g, sc, mn);
  return sc;
}
ZINFER_HD int k4_min(const K4Head& h, int g) {
  int sc = 0, mn = 0;
  q8::k4_scale_min(h.s0, h.s1, h.s2, g, sc, mn);
  return mn;
}

// Q6_K: sixteen sub-blocks of 16 (m16n8k16), sub-block s with the signed scale scales[s].
// Element e = 128h + 32gi + l (l < 32) is the nibble (gi >> 1) of ql[64h + 32(gi & 1) + l]
// with bits 2gi, 2gi + 1 of qh[32h + l] above it, minus 32; sub-block s covers h = s >> 3,
// gi = (s & 7) >> 1, l = 16(s & 1) ...
struct Q6Head {
  float d;
  std::uint32_t sc[4];  // the 16 signed scale bytes
};

template <>
struct MmaTraits<GgmlType::kQ6_K> {
  static constexpr int kBlockElems = 256, kBlockBytes = 210, kSubK = 16, kSubs = 16;
  ZINFER_HD static Q6Head head(const std::uint8_t* row, std::int64_t b) {
    const std::uint8_t* p = row + static_cast<std::int64_t>(kBlockBytes) * b;
    Q6Head h;
    h.d = half_to_f32(ld_u16(p + 208));
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) h.sc[i] = ld_u32_a2(p + 192 + 4 * i);
    return h;
  }
  ZINFER_HD static void words(const std::uint8_t* row, std::int64_t b, int s, int t,
                              std::uint32_t& lo, std::uint32_t& hi) {
    const std::uint8_t* p = row + static_cast<std::int64_t>(kBlockBytes) * b;
    const int h = s >> 3, gi = (s & 7) >> 1, l = 16 * (s & 1) + 4 * t;
    const std::uint32_t ql = ld_u32_a2(p + 64 * h + 32 * (gi & 1) + l);
    const std::uint32_t qh = ld_u32_a2(p + 128 + 32 * h + l);
    lo =
        sub_bytes(((ql >> (4 * (gi >> 1))) & 0x0f0f0f0fu) | (((qh >> (2 * gi)) & 0x03030303u) << 4),
                  0x20202020u);
    hi = 0;
  }
};

ZINFER_HD int q6_scale(const Q6Head& h, int s) {
  return static_cast<int>(static_cast<std::int8_t>(byte_of(h.sc[s >> 2], s & 3)));  // NOLINT
}

// ---- activation fragments -------------------------------------------------------------
// B words of one activation row: k = 4t.. and 16 + 4t.. of the sub-block starting at element
// e (Q8: the quants; Q16: the hi or lo plane).
ZINFER_HD void act_words(const std::int8_t* q, std::int64_t e, int t, bool k32, std::uint32_t& b0,
                         std::uint32_t& b1) {
  b0 = ld_u32(q + e + 4 * t);
  b1 = k32 ? ld_u32(q + e + 16 + 4 * t) : 0u;
}

// ---- unit terms (the float steps, shared by the kernels and the reference) -----------------
// Legacy block, Q8 activations (da, and with a minimum sa = da·Σq of Q8_1).
ZINFER_HD float legacy_term_q8(const LegacyHead& w, bool has_min, float da, float sa, int isum) {
  const float v = scaled(w.d, da, isum);
  return has_min ? fadd(v, fmul(w.m, sa)) : v;
}
// Q16 terms: per unit a handful of float operations a weight row and activation row share,
// so their count is the tensor-core kernels' cost (their epilogue issues them for every
// accumulator). daq = da · Σq (q = 256·hi + lo; |Σq| < 2^24, so its float is exact), the
// activation's part of a minimum's term: one value per activation unit, which the tile kernel
// stages once for all its weight rows (q16_daq is its one rounding, wherever it is computed).
ZINFER_HD float q16_daq(float da, int qsum) { return fmul(da, static_cast<float>(qsum)); }
// Legacy block, Q16 activations: isum = Σ w·q; (d·da)·isum, + m·daq in the same rounding
// (an fma) when the type has a minimum.
ZINFER_HD float legacy_term_q16f(const LegacyHead& w, bool has_min, float da, int isum, float daq) {
  const float dd = fmul(w.d, da);
  return has_min ? fma_rn(dd, static_cast<float>(isum), fmul(w.m, daq))
                 : fmul(dd, static_cast<float>(isum));
}
ZINFER_HD float legacy_term_q16(const LegacyHead& w, bool has_min, float da, int isum, int qsum) {
  return legacy_term_q16f(w, has_min, da, isum, q16_daq(da, qsum));
}
// Q4_K/Q5_K super-block, Q8_K activations: isum = Σ_g sc_g·Σ w·q, msum = Σ_g mn_g·Σ_g q.
ZINFER_HD float k4_term_q8(const K4Head& w, float da, int isum, int msum) {
  return fsub(scaled(w.d, da, isum), scaled(w.dmin, da, msum));
}
// Q4_K/Q5_K group g, Q16 activations of that group (scale da, daq = q16_daq), from the
// group's scaled weight scales dsc = d·sc_g and dmn = dmin·mn_g: (dsc·da)·isum − dmn·daq in
// one fma (four float operations where daq is staged; six before 2026-12-06).
ZINFER_HD float k4_term_q16f(float dsc, float dmn, float da, int isum, float daq) {
  return fma_rn(fmul(dsc, da), static_cast<float>(isum), -fmul(dmn, daq));
}
ZINFER_HD float k4_dsc(const K4Head& w, int g) {
  return fmul(w.d, static_cast<float>(k4_scale(w, g)));
}
ZINFER_HD float k4_dmn(const K4Head& w, int g) {
  return fmul(w.dmin, static_cast<float>(k4_min(w, g)));
}
ZINFER_HD float k4_term_q16(const K4Head& w, int g, float da, int isum, int qsum) {
  return k4_term_q16f(k4_dsc(w, g), k4_dmn(w, g), da, isum, q16_daq(da, qsum));
}
// Q6_K super-block, Q8_K activations: isum = Σ_s sc_s·Σ w·q.
ZINFER_HD float q6_term_q8(const Q6Head& w, float da, int isum) { return scaled(w.d, da, isum); }
// Q6_K group g (sub-blocks 2g, 2g + 1), Q16 activations of that group, from the sub-blocks'
// scaled weight scales ds0 = d·sc_2g, ds1 = d·sc_2g+1: da · (ds0·i0 + ds1·i1), the inner sum
// one fma (five float operations; seven before 2026-12-06).
ZINFER_HD float q6_term_q16f(float ds0, float ds1, float da, int i0, int i1) {
  return fmul(da, fma_rn(ds0, static_cast<float>(i0), fmul(ds1, static_cast<float>(i1))));
}
ZINFER_HD float q6_ds(const Q6Head& w, int s) {
  return fmul(w.d, static_cast<float>(q6_scale(w, s)));
}
ZINFER_HD float q6_term_q16(const Q6Head& w, int g, float da, int i0, int i1) {
  return q6_term_q16f(q6_ds(w, 2 * g), q6_ds(w, 2 * g + 1), da, i0, i1);
}

// Families of the weight types (which unit terms apply).
enum class Family { kLegacy, kK4, kQ6 };
template <GgmlType T>
constexpr Family family() {
  if constexpr (T == GgmlType::kQ4_K || T == GgmlType::kQ5_K) return Family::kK4;
  if constexpr (T == GgmlType::kQ6_K) return Family::kQ6;
  return Family::kLegacy;
}

// ---- units: one float term each --------------------------------------------------------
// Units a block holds: one with Q8 activations; with Q16, the K-quants' eight groups of 32.
template <GgmlType T, bool kQ16>
ZINFER_HD constexpr int units_per_block() {
  return kQ16 && family<T>() != Family::kLegacy ? 8 : 1;
}

// Σ over sub-block s of block b of the weight row's quants (words(), all four lane slots)
// times the int8 activations at q (4-byte aligned): the integer an mma gives for that pair.
template <GgmlType T>
ZINFER_HD int sub_isum(const std::uint8_t* row, std::int64_t b, int s, const std::int8_t* q) {
  using Tr = MmaTraits<T>;
  int sum = 0;
  ZINFER_UNROLL
  for (int t = 0; t < 4; ++t) {
    std::uint32_t lo = 0, hi = 0;
    Tr::words(row, b, s, t, lo, hi);
    sum = q8::dp4a(lo, ld_u32(q + 4 * t), sum);
    if constexpr (Tr::kSubK == 32) sum = q8::dp4a(hi, ld_u32(q + 16 + 4 * t), sum);
  }
  return sum;
}

// The same over Q16 activations, q = 256·hi + lo: Σ w·q = 256·Σ w·hi + Σ w·lo, the weight
// words read once for both planes.
template <GgmlType T>
ZINFER_HD int sub_isum16(const std::uint8_t* row, std::int64_t b, int s, const std::int8_t* hi,
                         const std::int8_t* lo) {
  using Tr = MmaTraits<T>;
  // The activation bytes through 16-byte loads (hi and lo are 16-byte aligned: the layout's
  // planes start so, and a sub-block starts at a multiple of 16): lanes 32 bytes apart would
  // take an 8-way bank conflict per 4-byte load.
  const U4 h0 = q8::ld_u128(hi), l0 = q8::ld_u128(lo);
  U4 h1{}, l1{};
  if constexpr (Tr::kSubK == 32) {
    h1 = q8::ld_u128(hi + 16);
    l1 = q8::ld_u128(lo + 16);
  }
  const std::uint32_t hw0[4] = {h0.x, h0.y, h0.z, h0.w}, lw0[4] = {l0.x, l0.y, l0.z, l0.w};
  const std::uint32_t hw1[4] = {h1.x, h1.y, h1.z, h1.w}, lw1[4] = {l1.x, l1.y, l1.z, l1.w};
  int sh = 0, sl = 0;
  ZINFER_UNROLL
  for (int t = 0; t < 4; ++t) {
    std::uint32_t w0 = 0, w1 = 0;
    Tr::words(row, b, s, t, w0, w1);
    sh = q8::dp4a(w0, hw0[t], sh);
    sl = q8::dp4a(w0, lw0[t], sl);
    if constexpr (Tr::kSubK == 32) {
      sh = q8::dp4a(w1, hw1[t], sh);
      sl = q8::dp4a(w1, lw1[t], sl);
    }
  }
  return 256 * sh + sl;
}

// The float term of unit g of block b (g < units_per_block) of one weight row and one
// activation row (act: the row's start; l: its layout) — the float steps of the order above,
// shared by every kernel and the host reference.
template <GgmlType T, bool kQ16>
ZINFER_HD float unit_term(const std::uint8_t* row, std::int64_t b, int g, const std::uint8_t* act,
                          const q8::Q8ActLayout& l) {
  using Tr = MmaTraits<T>;
  constexpr int kE = Tr::kBlockElems, kS = Tr::kSubK;
  const auto w = Tr::head(row, b);
  if constexpr (kQ16) {
    const Act16Row a = q8::act16_row(act, l, 0);
    auto isum16 = [&](int s) {  // Σ w·q of sub-block s, q = 256·hi + lo
      const std::int64_t e = kE * b + kS * s;
      return sub_isum16<T>(row, b, s, a.hi + e, a.lo + e);
    };
    if constexpr (family<T>() == Family::kLegacy) {
      return legacy_term_q16(w, Tr::kMin, a.d[b], isum16(0), a.qsum16[2 * b] + a.qsum16[2 * b + 1]);
    } else if constexpr (family<T>() == Family::kK4) {
      const std::int64_t ab = 8 * b + g;
      return k4_term_q16(w, g, a.d[ab], isum16(g), a.qsum16[2 * ab] + a.qsum16[2 * ab + 1]);
    } else {
      return q6_term_q16(w, g, a.d[8 * b + g], isum16(2 * g), isum16(2 * g + 1));
    }
  } else {
    const ActRow a = q8::act_row(act, l, 0);
    if constexpr (family<T>() == Family::kLegacy) {
      const float sa = Tr::kMin ? a.s[b] : 0.0f;
      return legacy_term_q8(w, Tr::kMin, a.d[b], sa, sub_isum<T>(row, b, 0, a.qs + kE * b));
    } else if constexpr (family<T>() == Family::kK4) {
      int isum = 0, msum = 0;
      ZINFER_UNROLL
      for (int s = 0; s < 8; ++s) {
        isum += k4_scale(w, s) * sub_isum<T>(row, b, s, a.qs + kE * b + 32 * s);
        msum += k4_min(w, s) * (a.bsums[16 * b + 2 * s] + a.bsums[16 * b + 2 * s + 1]);
      }
      return k4_term_q8(w, a.d[b], isum, msum);
    } else {
      int isum = 0;
      ZINFER_UNROLL
      for (int s = 0; s < 16; ++s) {
        isum += q6_scale(w, s) * sub_isum<T>(row, b, s, a.qs + kE * b + 16 * s);
      }
      return q6_term_q8(w, a.d[b], isum);
    }
  }
}

// ---- unit terms from 16-byte loads (Q4_K / Q5_K weights, Q16 activations) ----------------
// The vec kernel gives consecutive units to consecutive lanes: 4-byte loads of unit g's
// activation bytes (32 apart from lane to lane) then take 8 shared-memory wavefronts each (an
// 8-way bank conflict) and the weight words 5; the same bytes through 16-byte loads take about
// a quarter of that (H100 ncu: the 4-byte loads held a 7B down projection to ~21% of DRAM
// bandwidth). The float steps are unit_term's: the same bits.

// Unit (b, g)'s activation words: hi/lo bytes of its 32 elements, its scale and quant sum.
struct K4Act16 {
  std::uint32_t hw[8], lw[8];
  float d;
  int qsum;
};
ZINFER_HD K4Act16 k4_act16(const std::uint8_t* act, const q8::Q8ActLayout& l, std::int64_t b,
                           int g) {
  const Act16Row a = q8::act16_row(act, l, 0);
  const std::int64_t e = 256 * b + 32 * g, ab = 8 * b + g;
  const U4 h0 = q8::ld_u128(a.hi + e), h1 = q8::ld_u128(a.hi + e + 16);
  const U4 l0 = q8::ld_u128(a.lo + e), l1 = q8::ld_u128(a.lo + e + 16);
  return {{h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w},
          {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w},
          a.d[ab],
          a.qsum16[2 * ab] + a.qsum16[2 * ab + 1]};
}

// Unit g's weight words from the 32 quant bytes it shares with its pair unit (qw: low nibbles
// for even g, high for odd) and, for Q5_K, the block's 32 high-bit bytes qh: wv[i] = elements
// 4i..4i+3, offsets removed.
template <GgmlType T>
ZINFER_HD void k4_unpack16(const std::uint32_t (&qw)[8], const std::uint32_t (&qh)[8], int g,
                           std::uint32_t (&wv)[8]) {
  const int sh = 4 * (g & 1);
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    wv[i] = (qw[i] >> sh) & 0x0f0f0f0fu;
    if constexpr (T == GgmlType::kQ5_K) wv[i] |= ((qh[i] >> g) & 0x01010101u) << 4;
  }
}

// Unit g of super-block b of a 16-byte aligned weight row: wv[i] = elements 4i..4i+3 (the
// words Tr::words gives as lo for i < 4, hi for i >= 4), offsets removed.
template <GgmlType T>
ZINFER_HD void k4_words16(const std::uint8_t* row, std::int64_t b, int g, std::uint32_t (&wv)[8]) {
  using Tr = MmaTraits<T>;
  const std::uint8_t* p = row + static_cast<std::int64_t>(Tr::kBlockBytes) * b;
  const U4 q0 = q8::ld_u128(p + Tr::kQs + 32 * (g >> 1));
  const U4 q1 = q8::ld_u128(p + Tr::kQs + 32 * (g >> 1) + 16);
  const std::uint32_t qw[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
  std::uint32_t qh[8] = {};
  if constexpr (T == GgmlType::kQ5_K) {
    const U4 h0 = q8::ld_u128(p + 16), h1 = q8::ld_u128(p + 32);
    const std::uint32_t w[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
    ZINFER_UNROLL
    for (int i = 0; i < 8; ++i) qh[i] = w[i];
  }
  k4_unpack16<T>(qw, qh, g, wv);
}

// unit_term<T, true>(row, b, g, ...) from the head of block b, unit g's 6-bit scale sc and
// minimum mn (q8::k4_scale_min of the head's scale bytes), k4_words16 and k4_act16.
ZINFER_HD float k4_unit_term16_sm(const K4Head& h, int sc, int mn, const std::uint32_t (&wv)[8],
                                  const K4Act16& a) {
  int sh = 0, sl = 0;
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    sh = q8::dp4a(wv[i], a.hw[i], sh);
    sl = q8::dp4a(wv[i], a.lw[i], sl);
  }
  return k4_term_q16f(fmul(h.d, static_cast<float>(sc)), fmul(h.dmin, static_cast<float>(mn)), a.d,
                      256 * sh + sl, q16_daq(a.d, a.qsum));
}

// unit_term<T, true>(row, b, g, ...) from the head of block b, k4_words16 and k4_act16.
ZINFER_HD float k4_unit_term16(const K4Head& h, int g, const std::uint32_t (&wv)[8],
                               const K4Act16& a) {
  int sc = 0, mn = 0;
  q8::k4_scale_min(h.s0, h.s1, h.s2, g, sc, mn);
  return k4_unit_term16_sm(h, sc, mn, wv, a);
}

// ---- one lane a half super-block of Q6_K (the vec-block kernel) ---------------------------
// Q6_K rows are 2-byte aligned only (210-byte blocks): a lane takes half h of super-block b —
// units 4h .. 4h + 3, elements 128h .. 128h + 127 — through aligned 4-byte loads joined by
// funnel shifts: its 64 low-nibble bytes ql[64h ..], its 32 high-bit bytes qh[32h ..], its
// eight scales and d.
struct Q6Half {
  float d;
  std::uint32_t sc[2];   // scales[8h .. 8h + 7], a signed byte each
  std::uint32_t ql[16];  // ql[64h + 4i .. 64h + 4i + 3]
  std::uint32_t qh[8];   // qh[32h + 4i ..]
};

// n aligned words from the one holding p[0], joined so out[i] = bytes p[4i .. 4i + 3] (p 2-byte
// aligned: each of the words read holds a byte of p[0 .. 4n - 1]).
template <int kN>
ZINFER_HD void ld_words_a2(const std::uint8_t* p, std::uint32_t (&out)[kN]) {
  const auto o = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p) & 3u);
  const std::uint8_t* q = p - o;
  std::uint32_t w[kN + 1];
  ZINFER_UNROLL
  for (int i = 0; i < kN; ++i) w[i] = ld_u32(q + 4 * i);
  w[kN] = o != 0 ? ld_u32(q + 4 * kN) : 0u;
  ZINFER_UNROLL
  for (int i = 0; i < kN; ++i) out[i] = q8::funnel_rc(w[i], w[i + 1], 8 * o);
}

ZINFER_HD Q6Half q6_half(const std::uint8_t* row, std::int64_t b, int h) {
  const std::uint8_t* p =
      row + static_cast<std::int64_t>(MmaTraits<GgmlType::kQ6_K>::kBlockBytes) * b;
  Q6Half w;
  ld_words_a2<16>(p + 64 * h, w.ql);
  ld_words_a2<8>(p + 128 + 32 * h, w.qh);
  ld_words_a2<2>(p + 192 + 8 * h, w.sc);
  w.d = half_to_f32(ld_u16(p + 208));
  return w;
}

// unit_term<Q6_K, true>(row, b, 4h + gi, ...) from q6_half(row, b, h) and the unit's Q16
// activation words (hw/lw: hi and lo bytes of its 32 elements) and scale da.
ZINFER_HD float q6_unit_term16(const Q6Half& w, int gi, const std::uint32_t (&hw)[8],
                               const std::uint32_t (&lw)[8], float da) {
  const int nsh = 4 * (gi >> 1), hsh = 2 * gi;
  int s0h = 0, s0l = 0, s1h = 0, s1l = 0;
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    const std::uint32_t lo = (w.ql[8 * (gi & 1) + i] >> nsh) & 0x0f0f0f0fu;
    const std::uint32_t hi = ((w.qh[i] >> hsh) & 0x03030303u) << 4;
    const std::uint32_t v = sub_bytes(lo | hi, 0x20202020u);
    if (i < 4) {
      s0h = q8::dp4a(v, hw[i], s0h);
      s0l = q8::dp4a(v, lw[i], s0l);
    } else {
      s1h = q8::dp4a(v, hw[i], s1h);
      s1l = q8::dp4a(v, lw[i], s1l);
    }
  }
  const int s = 2 * gi;  // the unit's first sub-block within the half
  const auto sc0 = static_cast<std::int8_t>(byte_of(w.sc[s >> 2], s & 3));              // NOLINT
  const auto sc1 = static_cast<std::int8_t>(byte_of(w.sc[(s + 1) >> 2], (s + 1) & 3));  // NOLINT
  return q6_term_q16f(fmul(w.d, static_cast<float>(sc0)), fmul(w.d, static_cast<float>(sc1)), da,
                      256 * s0h + s0l, 256 * s1h + s1l);
}

// ---- host reference ---------------------------------------------------------------------
// The product of one weight row with one activation row in the order above (Q8 activations:
// l is q8_act_layout(q8_act_type(T), k); Q16: q16_act_layout(k)).
template <GgmlType T>
inline float mma_reference(const std::uint8_t* row, const std::uint8_t* act,
                           const q8::Q8ActLayout& l) {
  const std::int64_t nb = l.k / MmaTraits<T>::kBlockElems;
  const int parts = mma_parts(nb, MmaTraits<T>::kBlockElems);
  auto run = [&](auto q16) {
    constexpr bool kQ16 = decltype(q16)::value;
    constexpr int kU = units_per_block<T, kQ16>();
    float out = 0.0f;
    for (int p = 0; p < parts; ++p) {
      float acc = 0.0f;
      for (std::int64_t b = part_begin(nb, parts, p); b < part_begin(nb, parts, p + 1); ++b) {
        for (int g = 0; g < kU; ++g) acc = fadd(acc, unit_term<T, kQ16>(row, b, g, act, l));
      }
      out = p == 0 ? acc : fadd(out, acc);
    }
    return out;
  };
  return l.q16 ? run(std::true_type{}) : run(std::false_type{});
}

// What the kernel bodies written against a thread context (q8_mma_tile.cuh, q8_mma_lane.cuh)
// read; outputs go through the context's store().
struct MmaArgs {
  const std::uint8_t* act = nullptr;  // [rows] activation rows in `layout`, 16-byte aligned
  q8::Q8ActLayout layout;
  std::int64_t rows = 0;
  const std::uint8_t* w[2] = {};  // [ne1] weight rows of row_bytes each (w[1]: the gated
                                  // product's up matrix)
  std::size_t row_bytes = 0;
  std::int64_t ne1 = 0;
  int parts = 1;  // mma_parts(K's blocks)
  // The staged tiles split over K (q8_mma_tile.cuh): a block computes only this part's sum
  // (its context's store then keeps it for the parts' ordered sum); -1: every part, in order.
  int only_part = -1;
  bool wide_loads = false;  // weights and row_bytes 16-byte aligned (16-byte weight loads)
  // Up to three matrices of one type and K as one (the lane kernel's Q, K and V): weight row j
  // of the stack is row j - stack_end[m - 1] of matrix m (stack[m]), ne1 = stack_end[n - 1].
  int n_stack = 1;
  const std::uint8_t* stack[3] = {};
  std::int64_t stack_end[3] = {};
};

// Which matrix of a stack of n (rows ending at end[0..n-1]) holds row j.
ZINFER_HD int stack_matrix(const std::int64_t (&end)[3], int n, std::int64_t j) {
  return j < end[0] ? 0 : (j < end[1] || n == 2 ? 1 : 2);
}

// Weight row j of a: (its matrix's rows, j's row in it) — matrix 0 alone unless stacked.
ZINFER_HD const std::uint8_t* stack_row(const MmaArgs& a, int m, std::int64_t j) {
  if (a.n_stack <= 1) return a.w[m] + static_cast<std::size_t>(j) * a.row_bytes;
  const int s = stack_matrix(a.stack_end, a.n_stack, j);
  const std::int64_t first = s == 0 ? 0 : a.stack_end[s - 1];
  return a.stack[s] + static_cast<std::size_t>(j - first) * a.row_bytes;
}

// Calls f(std::integral_constant<GgmlType, T>{}) for a type with tiles; false otherwise.
template <typename F>
bool dispatch_mma_type(GgmlType t, F&& f) {
  return q8::dispatch_q8_type(t, static_cast<F&&>(f));
}

}  // namespace zinfer::cuda::q8mma
