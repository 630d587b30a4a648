// Integer dot products of quantized weight rows with quantized activation rows — the numerics
// of CpuOps's Q8-activation matmul (LlmOptions::exact_matmul = false, `--q8-act`), written for
// a warp: each weight block is split over kLanes lanes, and Q8Traits<T>::dot gives one lane's
// share of one block as a float. The integer sums are exact (dp4a on four int8 pairs at a
// time), so a row's result differs from quant::vec_dot only in how the per-block float terms
// are rounded and added.
//
// Activations are in the GPU layout of q8_act.h (the bits of quantize_act_row: Q8_0, Q8_1 or
// Q8_K blocks, with quants, scales and sums in separate arrays so every quant load is
// aligned). Weights are the GGUF blocks as stored; loads follow each format's alignment
// (Q4_K/Q5_K blocks are 16-byte aligned in a row, Q4_1/Q5_1 4-byte, the others 2-byte).
//
// Q16 activations (`dot16`, GPU only, --q16-act): per 32 elements a float scale d = amax/32639
// and quants q = round(x/d) of 16 bits, kept as two int8 planes q = 256·hi + lo, so the same
// dp4a instructions give Σ w·q = 256·Σ w·hi + Σ w·lo exactly. The activation rounding is
// 1/65278 of a block's largest magnitude (Q8's is 1/254): dot products within ~3e-6 of
// Σ|w·x| of the exact ones (real-model logits within ~1e-2 of the f32 path's).
//
// Everything here is __host__ __device__ so the CPU tests run the same code (with a portable
// dp4a) against the CPU's vec_dot.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "engine/quant/fp16.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/q16.h"
#include "kernels/host_device.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

namespace zinfer::cuda::q8 {

using quant::GgmlType;

// One activation row in the GPU layout (q8_act.h).
struct ActRow {
  const std::int8_t* qs = nullptr;      // k quants, 16-byte aligned
  const float* d = nullptr;             // one scale per block (Q8_0/Q8_1: the fp16 value)
  const float* s = nullptr;             // Q8_1: d · sum(qs) per block (the fp16 value)
  const std::int16_t* bsums = nullptr;  // Q8_K: sum of each 16 quants
};

// One Q16 activation row (q8_act_layout.h, q16 layout).
struct Act16Row {
  const std::int8_t* hi = nullptr;       // k high bytes, 16-byte aligned
  const std::int8_t* lo = nullptr;       // k signed low bytes, 16-byte aligned
  const float* d = nullptr;              // one scale per 32 elements
  const std::int32_t* qsum16 = nullptr;  // sum of each 16 quants
};

using quant::kQ16Max;  // engine/quant/q16.h

struct U2 {
  std::uint32_t x, y;
};
struct U4 {
  std::uint32_t x, y, z, w;
};

ZINFER_HD int dp4a(std::uint32_t a, std::uint32_t b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int>(static_cast<std::int8_t>((a >> (8 * i)) & 0xffu)) *
         static_cast<int>(static_cast<std::int8_t>((b >> (8 * i)) & 0xffu));
  }
  return c;
#endif
}

// Byte-wise a - b (mod 256 per byte): unsigned quants minus their offset as int8.
ZINFER_HD std::uint32_t sub_bytes(std::uint32_t a, std::uint32_t b) {
#ifdef __CUDA_ARCH__
  return __vsub4(a, b);
#else
  std::uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    r |= ((((a >> (8 * i)) & 0xffu) - ((b >> (8 * i)) & 0xffu)) & 0xffu) << (8 * i);
  }
  return r;
#endif
}

ZINFER_HD float half_to_f32(std::uint32_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(static_cast<unsigned short>(h & 0xffffu)));
#else
  return quant::fp16_to_f32(static_cast<std::uint16_t>(h & 0xffffu));
#endif
}

ZINFER_HD std::uint32_t ld_u16(const std::uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const std::uint16_t*>(p);
#else
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
#endif
}
// Four bytes from a 2-byte aligned address.
ZINFER_HD std::uint32_t ld_u32_a2(const std::uint8_t* p) {
  return ld_u16(p) | (ld_u16(p + 2) << 16);
}
// Four bytes from any address (MXFP4's 17-byte blocks): two aligned loads on the device.
ZINFER_HD std::uint32_t ld_u32_a1(const std::uint8_t* p) {
#ifdef __CUDA_ARCH__
  // The aligned word holding p[0] and, where p is not aligned, the next one (which then holds
  // p[3], so it is inside the buffer), joined by a funnel shift: two loads instead of four.
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto* q = reinterpret_cast<const std::uint32_t*>(a & ~std::uintptr_t{3});
  const auto sh = static_cast<unsigned>(a & 3u) * 8u;
  const std::uint32_t w0 = q[0];
  const std::uint32_t w1 = sh != 0 ? q[1] : 0u;
  return __funnelshift_r(w0, w1, sh);
#else
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}
ZINFER_HD std::uint32_t ld_u32(const void* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const std::uint32_t*>(p);
#else
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}

// (hi:lo) >> sh for sh in 0..32 (32: hi), __funnelshift_rc on the device.
ZINFER_HD std::uint32_t funnel_rc(std::uint32_t lo, std::uint32_t hi, unsigned sh) {
#ifdef __CUDA_ARCH__
  return __funnelshift_rc(lo, hi, sh);
#else
  return sh >= 32 ? hi
                  : static_cast<std::uint32_t>(((static_cast<std::uint64_t>(hi) << 32) | lo) >> sh);
#endif
}

// The kN aligned words from the one holding p[0] (a lane's whole block of the few-row kernels:
// the caller makes every word hold a byte of the block, so none lies past its buffer); o is
// p's offset in the first.
template <int kN>
ZINFER_HD void ld_words_from(const std::uint8_t* p, std::uint32_t (&w)[kN], unsigned& o) {
  o = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p) & 3u);
  const std::uint8_t* q = p - o;
  ZINFER_UNROLL
  for (int i = 0; i < kN; ++i) w[i] = ld_u32(q + 4 * i);
}

ZINFER_HD U2 ld_u64(const void* p) {
#ifdef __CUDA_ARCH__
  const uint2 v = *reinterpret_cast<const uint2*>(p);
  return {v.x, v.y};
#else
  U2 v;
  std::memcpy(&v, p, 8);
  return v;
#endif
}
ZINFER_HD U4 ld_u128(const void* p) {
#ifdef __CUDA_ARCH__
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return {v.x, v.y, v.z, v.w};
#else
  U4 v;
  std::memcpy(&v, p, 16);
  return v;
#endif
}
ZINFER_HD std::uint32_t byte_of(std::uint32_t w, int i) { return (w >> (8 * i)) & 0xffu; }

// Float steps with their rounding pinned on the device (host_device.h: no contraction into
// FMAs that could differ between kernel instances — the NR = 1 and NR = 8 kernels must give
// the same bits).
ZINFER_HD float fmul(float a, float b) { return mul_rn(a, b); }
ZINFER_HD float fadd(float a, float b) { return add_rn(a, b); }
ZINFER_HD float fsub(float a, float b) { return sub_rn(a, b); }
// (d · da) · isum: a weight block's scale times an activation block's scale times an integer
// dot product.
ZINFER_HD float scaled(float d, float da, int isum) {
  return fmul(fmul(d, da), static_cast<float>(isum));
}

// Spreads bits 0..3 of h to bit 4 of bytes 0..3 (the fifth bit of four Q5 quants).
ZINFER_HD std::uint32_t spread_bit4(std::uint32_t h) {
  return ((h << 4) & 0x10u) | ((h << 11) & 0x1000u) | ((h << 18) & 0x100000u) |
         ((h << 25) & 0x10000000u);
}

template <GgmlType T>
struct Q8Traits;  // supported: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K

// Legacy 32-element blocks: four lanes, lane `sub` takes elements 8·sub .. 8·sub + 7 (bytes
// 8·(sub & 1) .. of qs, the high nibbles when sub >= 2).
struct LegacySub {
  float d, m;
  std::uint32_t q0, q1;  // eight 4- or 8-bit quants as int8 (offset already removed)
};

// Eight activation quants of block b, lane sub, and their dot with two packed words.
ZINFER_HD int act_dot8(const ActRow& a, std::int64_t b, int sub, std::uint32_t q0,
                       std::uint32_t q1) {
  const U2 x = ld_u64(a.qs + 32 * b + 8 * sub);
  return dp4a(q1, x.y, dp4a(q0, x.x, 0));
}

// Q16: the same eight elements (activation element e..e+7) against two packed words.
ZINFER_HD int act16_dot8(const Act16Row& a, std::int64_t e, std::uint32_t q0, std::uint32_t q1) {
  const U2 h = ld_u64(a.hi + e);
  const U2 l = ld_u64(a.lo + e);
  return 256 * dp4a(q1, h.y, dp4a(q0, h.x, 0)) + dp4a(q1, l.y, dp4a(q0, l.x, 0));
}

// Q16 dot of a legacy block share: d·da·Σ w·q, plus (with a minimum m, lane 0) m·da·Σ q.
template <bool kMin>
ZINFER_HD float legacy_dot16(const LegacySub& w, const Act16Row& a, std::int64_t b, int sub) {
  const float v = scaled(w.d, a.d[b], act16_dot8(a, 32 * b + 8 * sub, w.q0, w.q1));
  if (!kMin || sub != 0) return v;
  return fadd(v, scaled(w.m, a.d[b], a.qsum16[2 * b] + a.qsum16[2 * b + 1]));
}

// dot and dot16 of the legacy formats: d·da·Σ w·q, plus (with a minimum m, lane 0) m·Σ x.
template <bool kMin>
struct LegacyDots {
  ZINFER_HD static float dot(const LegacySub& w, const ActRow& a, std::int64_t b, int sub) {
    const float v = scaled(w.d, a.d[b], act_dot8(a, b, sub, w.q0, w.q1));
    if (!kMin || sub != 0) return v;
    return fadd(v, fmul(w.m, a.s[b]));
  }
  ZINFER_HD static float dot16(const LegacySub& w, const Act16Row& a, std::int64_t b, int sub) {
    return legacy_dot16<kMin>(w, a, b, sub);
  }
};

template <>
struct Q8Traits<GgmlType::kQ4_0> : LegacyDots<false> {
  static constexpr int kBlockElems = 32, kLanes = 4, kBlockBytes = 18;
  static constexpr GgmlType kAct = GgmlType::kQ8_0;
  using W = LegacySub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int sub) {
    const std::uint8_t* p = row + kBlockBytes * b;
    const std::uint8_t* q = p + 2 + 8 * (sub & 1);
    const int sh = 4 * (sub >> 1);
    W w;
    w.d = half_to_f32(ld_u16(p));
    w.m = 0.0f;
    w.q0 = sub_bytes((ld_u32_a2(q) >> sh) & 0x0f0f0f0fu, 0x08080808u);
    w.q1 = sub_bytes((ld_u32_a2(q + 4) >> sh) & 0x0f0f0f0fu, 0x08080808u);
    return w;
  }
};

template <>
struct Q8Traits<GgmlType::kQ4_1> : LegacyDots<true> {
  static constexpr int kBlockElems = 32, kLanes = 4, kBlockBytes = 20;
  static constexpr GgmlType kAct = GgmlType::kQ8_1;
  using W = LegacySub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int sub) {
    const std::uint8_t* p = row + kBlockBytes * b;
    const std::uint32_t dm = ld_u32(p);
    const int sh = 4 * (sub >> 1);
    W w;
    w.d = half_to_f32(dm);
    w.m = half_to_f32(dm >> 16);
    w.q0 = (ld_u32(p + 4 + 8 * (sub & 1)) >> sh) & 0x0f0f0f0fu;
    w.q1 = (ld_u32(p + 8 + 8 * (sub & 1)) >> sh) & 0x0f0f0f0fu;
    return w;
  }
  // d·da·Σ q·qa over the lane's eight, plus (lane 0 only) m · s: the block's Σ x.
};

// Q5_0 / Q5_1: the fifth bits (qh, one per element) are merged into the nibbles at load.
template <bool kMin>
struct Q5Legacy {
  static constexpr int kBlockElems = 32, kLanes = 4, kBlockBytes = kMin ? 24 : 22;
  using W = LegacySub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int sub) {
    const std::uint8_t* p = row + kBlockBytes * b;
    W w;
    int off = 2;
    if constexpr (kMin) {
      const std::uint32_t dm = ld_u32(p);
      w.d = half_to_f32(dm);
      w.m = half_to_f32(dm >> 16);
      off = 4;
    } else {
      w.d = half_to_f32(ld_u16(p));
      w.m = 0.0f;
    }
    const std::uint32_t h8 = (ld_u32_a2(p + off) >> (8 * sub)) & 0xffu;
    const std::uint8_t* q = p + off + 4 + 8 * (sub & 1);
    const int sh = 4 * (sub >> 1);
    w.q0 = ((ld_u32_a2(q) >> sh) & 0x0f0f0f0fu) | spread_bit4(h8);
    w.q1 = ((ld_u32_a2(q + 4) >> sh) & 0x0f0f0f0fu) | spread_bit4(h8 >> 4);
    if constexpr (!kMin) {
      w.q0 = sub_bytes(w.q0, 0x10101010u);
      w.q1 = sub_bytes(w.q1, 0x10101010u);
    }
    return w;
  }
};

template <>
struct Q8Traits<GgmlType::kQ5_0> : Q5Legacy<false>, LegacyDots<false> {
  static constexpr GgmlType kAct = GgmlType::kQ8_0;
};

template <>
struct Q8Traits<GgmlType::kQ5_1> : Q5Legacy<true>, LegacyDots<true> {
  static constexpr GgmlType kAct = GgmlType::kQ8_1;
};

template <>
struct Q8Traits<GgmlType::kQ8_0> : LegacyDots<false> {
  static constexpr int kBlockElems = 32, kLanes = 4, kBlockBytes = 34;
  static constexpr GgmlType kAct = GgmlType::kQ8_0;
  using W = LegacySub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int sub) {
    const std::uint8_t* p = row + kBlockBytes * b;
    W w;
    w.d = half_to_f32(ld_u16(p));
    w.m = 0.0f;
    w.q0 = ld_u32_a2(p + 2 + 8 * sub);
    w.q1 = ld_u32_a2(p + 6 + 8 * sub);
    return w;
  }
};

// The 6-bit scale and min of group g of a Q4_K/Q5_K super-block (unpack_k4_scales), from the
// 12 scale bytes as three words.
ZINFER_HD void k4_scale_min(std::uint32_t s0, std::uint32_t s1, std::uint32_t s2, int g, int& sc,
                            int& mn) {
  if (g < 4) {
    sc = static_cast<int>(byte_of(s0, g) & 63u);
    mn = static_cast<int>(byte_of(s1, g) & 63u);
  } else {
    const int j = g - 4;
    sc = static_cast<int>((byte_of(s2, j) & 0x0fu) | ((byte_of(s0, j) >> 6) << 4));
    mn = static_cast<int>((byte_of(s2, j) >> 4) | ((byte_of(s1, j) >> 6) << 4));
  }
}

// k4_scale_min of groups 4·half .. 4·half + 3 at once: byte i of sc4 / mn4 is group 4·half + i's
// scale / minimum.
ZINFER_HD void k4_scale_min4(std::uint32_t s0, std::uint32_t s1, std::uint32_t s2, int half,
                             std::uint32_t& sc4, std::uint32_t& mn4) {
  if (half == 0) {
    sc4 = s0 & 0x3f3f3f3fu;
    mn4 = s1 & 0x3f3f3f3fu;
  } else {
    sc4 = (s2 & 0x0f0f0f0fu) | ((s0 >> 2) & 0x30303030u);
    mn4 = ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 2) & 0x30303030u);
  }
}

// Q4_K / Q5_K: eight lanes a super-block. Lane t = 2c + h takes bytes 16h .. 16h + 15 of qs
// chunk c: their low nibbles are elements 16h.. of group 2c, their high nibbles the same
// elements of group 2c + 1 (and for Q5_K bits 2c, 2c + 1 of qh bytes 16h..).
struct K4Sub {
  float d, dmin;
  int sc0, sc1, mn0, mn1;
  U4 q;   // 16 quant bytes
  U4 qh;  // Q5_K: the 16 matching qh bytes
};

template <bool kFive>
struct K4Traits {
  static constexpr int kBlockElems = 256, kLanes = 8, kBlockBytes = kFive ? 176 : 144;
  static constexpr GgmlType kAct = GgmlType::kQ8_K;
  using W = K4Sub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int t) {
    const std::uint8_t* p = row + static_cast<std::int64_t>(kBlockBytes) * b;
    const int c = t >> 1, h = t & 1;
    W w;
    const U4 head = ld_u128(p);  // d, dmin and the 12 scale bytes: one 16-byte load
    w.d = half_to_f32(head.x);
    w.dmin = half_to_f32(head.x >> 16);
    k4_scale_min(head.y, head.z, head.w, 2 * c, w.sc0, w.mn0);
    k4_scale_min(head.y, head.z, head.w, 2 * c + 1, w.sc1, w.mn1);
    const int qs_off = kFive ? 48 : 16;
    w.q = ld_u128(p + qs_off + 32 * c + 16 * h);
    if constexpr (kFive) {
      w.qh = ld_u128(p + 16 + 16 * h);
    } else {
      w.qh = {0, 0, 0, 0};
    }
    return w;
  }
  ZINFER_HD static float dot(const W& w, const ActRow& a, std::int64_t b, int t) {
    const int c = t >> 1, h = t & 1;
    const std::int8_t* x0 = a.qs + 256 * b + 32 * (2 * c) + 16 * h;
    const U4 a0 = ld_u128(x0);
    const U4 a1 = ld_u128(x0 + 32);
    const std::uint32_t q[4] = {w.q.x, w.q.y, w.q.z, w.q.w};
    const std::uint32_t qh[4] = {w.qh.x, w.qh.y, w.qh.z, w.qh.w};
    const std::uint32_t x_lo[4] = {a0.x, a0.y, a0.z, a0.w};
    const std::uint32_t x_hi[4] = {a1.x, a1.y, a1.z, a1.w};
    int lo = 0, hi = 0;
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) {
      std::uint32_t v0 = q[i] & 0x0f0f0f0fu;
      std::uint32_t v1 = (q[i] >> 4) & 0x0f0f0f0fu;
      if constexpr (kFive) {
        v0 |= ((qh[i] >> (2 * c)) & 0x01010101u) << 4;
        v1 |= ((qh[i] >> (2 * c + 1)) & 0x01010101u) << 4;
      }
      lo = dp4a(v0, x_lo[i], lo);
      hi = dp4a(v1, x_hi[i], hi);
    }
    const std::int16_t* bs = a.bsums + 16 * b;
    const int isum = w.sc0 * lo + w.sc1 * hi;
    const int msum = w.mn0 * bs[2 * (2 * c) + h] + w.mn1 * bs[2 * (2 * c + 1) + h];
    const float da = a.d[b];
    return fsub(scaled(w.d, da, isum), scaled(w.dmin, da, msum));
  }
  // Q16: each of the lane's two groups has its own activation scale (blocks of 32).
  ZINFER_HD static float dot16(const W& w, const Act16Row& a, std::int64_t b, int t) {
    const int c = t >> 1, h = t & 1;
    const std::int64_t e0 = 256 * b + 32 * (2 * c) + 16 * h;
    const U4 h0 = ld_u128(a.hi + e0), l0 = ld_u128(a.lo + e0);
    const U4 h1 = ld_u128(a.hi + e0 + 32), l1 = ld_u128(a.lo + e0 + 32);
    const std::uint32_t q[4] = {w.q.x, w.q.y, w.q.z, w.q.w};
    const std::uint32_t qh[4] = {w.qh.x, w.qh.y, w.qh.z, w.qh.w};
    const std::uint32_t xh0[4] = {h0.x, h0.y, h0.z, h0.w}, xl0[4] = {l0.x, l0.y, l0.z, l0.w};
    const std::uint32_t xh1[4] = {h1.x, h1.y, h1.z, h1.w}, xl1[4] = {l1.x, l1.y, l1.z, l1.w};
    int sh0 = 0, sl0 = 0, sh1 = 0, sl1 = 0;
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) {
      std::uint32_t v0 = q[i] & 0x0f0f0f0fu;
      std::uint32_t v1 = (q[i] >> 4) & 0x0f0f0f0fu;
      if constexpr (kFive) {
        v0 |= ((qh[i] >> (2 * c)) & 0x01010101u) << 4;
        v1 |= ((qh[i] >> (2 * c + 1)) & 0x01010101u) << 4;
      }
      sh0 = dp4a(v0, xh0[i], sh0);
      sl0 = dp4a(v0, xl0[i], sl0);
      sh1 = dp4a(v1, xh1[i], sh1);
      sl1 = dp4a(v1, xl1[i], sl1);
    }
    const std::int64_t g0 = 8 * b + 2 * c;  // activation blocks of the two groups
    const float da0 = a.d[g0], da1 = a.d[g0 + 1];
    const float t0 =
        fsub(scaled(fmul(w.d, static_cast<float>(w.sc0)), da0, 256 * sh0 + sl0),
             scaled(fmul(w.dmin, static_cast<float>(w.mn0)), da0, a.qsum16[2 * g0 + h]));
    const float t1 =
        fsub(scaled(fmul(w.d, static_cast<float>(w.sc1)), da1, 256 * sh1 + sl1),
             scaled(fmul(w.dmin, static_cast<float>(w.mn1)), da1, a.qsum16[2 * g0 + 2 + h]));
    return fadd(t0, t1);
  }
};
template <>
struct Q8Traits<GgmlType::kQ4_K> : K4Traits<false> {};
template <>
struct Q8Traits<GgmlType::kQ5_K> : K4Traits<true> {};

// Q6_K: eight lanes a super-block. Lane t = 4·half + j takes l = 8j .. 8j + 7 of the four
// groups g = 4·half + gi (gi = 0..3) of that half: ql bytes 64·half + 8j.. (gi 0 low nibbles,
// gi 2 high) and 64·half + 32 + 8j.. (gi 1, gi 3), qh bytes 32·half + 8j.. (bits 2gi, 2gi + 1).
struct Q6Sub {
  float d;
  std::uint32_t l0[2], l1[2], qh[2];
  int sc[4];
};

template <>
struct Q8Traits<GgmlType::kQ6_K> {
  static constexpr int kBlockElems = 256, kLanes = 8, kBlockBytes = 210;
  static constexpr GgmlType kAct = GgmlType::kQ8_K;
  using W = Q6Sub;
  ZINFER_HD static W load(const std::uint8_t* row, std::int64_t b, int t) {
    const std::uint8_t* p = row + static_cast<std::int64_t>(kBlockBytes) * b;
    const int half = t >> 2, j = t & 3;
    W w;
    const std::uint8_t* ql = p + 64 * half + 8 * j;
    const std::uint8_t* qh = p + 128 + 32 * half + 8 * j;
    w.l0[0] = ld_u32_a2(ql);
    w.l0[1] = ld_u32_a2(ql + 4);
    w.l1[0] = ld_u32_a2(ql + 32);
    w.l1[1] = ld_u32_a2(ql + 36);
    w.qh[0] = ld_u32_a2(qh);
    w.qh[1] = ld_u32_a2(qh + 4);
    // scales[2g + (l >= 16)], g = 4·half + gi: byte 2gi + (j >= 2) of scales 8·half ...
    const std::uint32_t s01 = ld_u32_a2(p + 192 + 8 * half);  // scales 8·half .. 8·half + 3
    const std::uint32_t s23 = ld_u32_a2(p + 196 + 8 * half);
    ZINFER_UNROLL
    for (int gi = 0; gi < 4; ++gi) {
      const std::uint32_t word = gi < 2 ? s01 : s23;
      const int idx = 2 * (gi & 1) + (j >> 1);
      // Q6_K's scales are signed bytes.
      w.sc[gi] = static_cast<int>(static_cast<std::int8_t>(byte_of(word, idx)));  // NOLINT
    }
    w.d = half_to_f32(ld_u16(p + 208));
    return w;
  }
  ZINFER_HD static float dot(const W& w, const ActRow& a, std::int64_t b, int t) {
    const int half = t >> 2, j = t & 3;
    int isum = 0;
    ZINFER_UNROLL
    for (int gi = 0; gi < 4; ++gi) {
      const int g = 4 * half + gi;
      const U2 x = ld_u64(a.qs + 256 * b + 32 * g + 8 * j);
      const std::uint32_t x2[2] = {x.x, x.y};
      int s = 0;
      ZINFER_UNROLL
      for (int i = 0; i < 2; ++i) {
        const std::uint32_t l = (gi & 1) ? w.l1[i] : w.l0[i];
        const std::uint32_t lo = (l >> (4 * (gi >> 1))) & 0x0f0f0f0fu;
        const std::uint32_t hi = ((w.qh[i] >> (2 * gi)) & 0x03030303u) << 4;
        s = dp4a(sub_bytes(lo | hi, 0x20202020u), x2[i], s);
      }
      isum += w.sc[gi] * s;
    }
    return scaled(w.d, a.d[b], isum);
  }
  // Q16: one activation scale per group (blocks of 32).
  ZINFER_HD static float dot16(const W& w, const Act16Row& a, std::int64_t b, int t) {
    const int half = t >> 2, j = t & 3;
    float sum = 0.0f;
    ZINFER_UNROLL
    for (int gi = 0; gi < 4; ++gi) {
      const std::int64_t g = 8 * b + 4 * half + gi;  // activation block
      const std::int64_t e = 32 * g + 8 * j;
      std::uint32_t v[2];
      ZINFER_UNROLL
      for (int i = 0; i < 2; ++i) {
        const std::uint32_t l = (gi & 1) ? w.l1[i] : w.l0[i];
        const std::uint32_t lo = (l >> (4 * (gi >> 1))) & 0x0f0f0f0fu;
        const std::uint32_t hi = ((w.qh[i] >> (2 * gi)) & 0x03030303u) << 4;
        v[i] = sub_bytes(lo | hi, 0x20202020u);
      }
      const int isum = act16_dot8(a, e, v[0], v[1]);
      sum = fadd(sum, scaled(fmul(w.d, static_cast<float>(w.sc[gi])), a.d[g], isum));
    }
    return sum;
  }
};

// Whether the Q8-activation path has a kernel for this weight type.
inline bool q8_dot_supported(GgmlType t) { return quant::has_q8_dot(t); }

// Calls f(std::integral_constant<GgmlType, T>{}) for a supported type; false otherwise.
template <typename F>
bool dispatch_q8_type(GgmlType t, F&& f) {
  switch (t) {
#define ZINFER_Q8_CASE(X)                               \
  case GgmlType::X:                                     \
    f(std::integral_constant<GgmlType, GgmlType::X>{}); \
    return true;
    ZINFER_Q8_CASE(kQ4_0)
    ZINFER_Q8_CASE(kQ4_1)
    ZINFER_Q8_CASE(kQ5_0)
    ZINFER_Q8_CASE(kQ5_1)
    ZINFER_Q8_CASE(kQ8_0)
    ZINFER_Q8_CASE(kQ4_K)
    ZINFER_Q8_CASE(kQ5_K)
    ZINFER_Q8_CASE(kQ6_K)
#undef ZINFER_Q8_CASE
    default:
      return false;
  }
}

}  // namespace zinfer::cuda::q8
