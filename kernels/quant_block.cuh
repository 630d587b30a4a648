// Device-side dequantization of every weight type the CUDA backend supports, in groups of
// 8 consecutive elements of a row (the unit one thread handles in matvec, embed and the
// GEMM dequant tile). Each formula keeps the operation order and the separate roundings of
// engine/quant/dequant.cpp (__fmul_rn / __fadd_rn stop FMA contraction), so a dequantized
// value is bit-identical to the CPU's quant::dequantize_row.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "engine/quant/block_types.h"
#include "engine/quant/ggml_type.h"
#include "kernels/mxfp4_block.cuh"
#include "kernels/weight_types.h"

namespace zinfer::cuda {

using quant::GgmlType;

__device__ __forceinline__ float fp16_bits_to_f32(std::uint16_t h) {
  return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ float bf16_bits_to_f32(std::uint16_t h) {
  return __uint_as_float(static_cast<std::uint32_t>(h) << 16);
}

// QuantTraits<T>: kBlock elements per block; group8(row, g, v) writes elements [8g, 8g+8)
// of the row; one(row, e) (float types only) element e, for rows not a multiple of 8.
template <GgmlType T>
struct QuantTraits;

template <>
struct QuantTraits<GgmlType::kF32> {
  static constexpr int kBlock = 1;
  static constexpr bool kFloat = true;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const float* p = reinterpret_cast<const float*>(row) + 8 * g;
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = p[i];
  }
  __device__ static float one(const std::uint8_t* row, std::int64_t e) {
    return reinterpret_cast<const float*>(row)[e];
  }
};

template <>
struct QuantTraits<GgmlType::kF16> {
  static constexpr int kBlock = 1;
  static constexpr bool kFloat = true;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const std::uint16_t* p = reinterpret_cast<const std::uint16_t*>(row) + 8 * g;
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = fp16_bits_to_f32(p[i]);
  }
  __device__ static float one(const std::uint8_t* row, std::int64_t e) {
    return fp16_bits_to_f32(reinterpret_cast<const std::uint16_t*>(row)[e]);
  }
};

template <>
struct QuantTraits<GgmlType::kBF16> {
  static constexpr int kBlock = 1;
  static constexpr bool kFloat = true;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const std::uint16_t* p = reinterpret_cast<const std::uint16_t*>(row) + 8 * g;
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = bf16_bits_to_f32(p[i]);
  }
  __device__ static float one(const std::uint8_t* row, std::int64_t e) {
    return bf16_bits_to_f32(reinterpret_cast<const std::uint16_t*>(row)[e]);
  }
};

// Legacy 32-element blocks: group sub = g % 4 covers elements 8*sub .. 8*sub+7, i.e. the
// low nibbles (sub < 2) or high nibbles (sub >= 2) of qs[8*(sub%2) ..].
template <>
struct QuantTraits<GgmlType::kQ4_0> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ4_0*>(row)[g >> 2];
    const int sub = static_cast<int>(g & 3);
    const float d = fp16_bits_to_f32(b.d);
    const std::uint8_t* q = b.qs + 8 * (sub & 1);
    const int shift = 4 * (sub >> 1);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = __fmul_rn(d, static_cast<float>(((q[i] >> shift) & 0x0f) - 8));
  }
};

template <>
struct QuantTraits<GgmlType::kQ4_1> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ4_1*>(row)[g >> 2];
    const int sub = static_cast<int>(g & 3);
    const float d = fp16_bits_to_f32(b.d);
    const float m = fp16_bits_to_f32(b.m);
    const std::uint8_t* q = b.qs + 8 * (sub & 1);
    const int shift = 4 * (sub >> 1);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = __fadd_rn(__fmul_rn(d, static_cast<float>((q[i] >> shift) & 0x0f)), m);
  }
};

__device__ __forceinline__ std::uint32_t load_qh(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

template <>
struct QuantTraits<GgmlType::kQ5_0> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ5_0*>(row)[g >> 2];
    const int sub = static_cast<int>(g & 3);
    const float d = fp16_bits_to_f32(b.d);
    const std::uint32_t qh = load_qh(b.qh);
    const std::uint8_t* q = b.qs + 8 * (sub & 1);
    const int shift = 4 * (sub >> 1);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * sub + i;  // element in the block; its 5th bit is bit e of qh
      const int h = static_cast<int>((qh >> e) & 1u) << 4;
      v[i] = __fmul_rn(d, static_cast<float>((((q[i] >> shift) & 0x0f) | h) - 16));
    }
  }
};

template <>
struct QuantTraits<GgmlType::kQ5_1> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ5_1*>(row)[g >> 2];
    const int sub = static_cast<int>(g & 3);
    const float d = fp16_bits_to_f32(b.d);
    const float m = fp16_bits_to_f32(b.m);
    const std::uint32_t qh = load_qh(b.qh);
    const std::uint8_t* q = b.qs + 8 * (sub & 1);
    const int shift = 4 * (sub >> 1);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * sub + i;
      const int h = static_cast<int>((qh >> e) & 1u) << 4;
      v[i] = __fadd_rn(__fmul_rn(d, static_cast<float>(((q[i] >> shift) & 0x0f) | h)), m);
    }
  }
};

template <>
struct QuantTraits<GgmlType::kQ8_0> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ8_0*>(row)[g >> 2];
    const float d = fp16_bits_to_f32(b.d);
    const std::int8_t* q = b.qs + 8 * (g & 3);
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = __fmul_rn(static_cast<float>(q[i]), d);
  }
};

// K-quants: 256-element super-blocks, 32 groups of 8. e0 = first element of the group in
// the super-block; a group never straddles a 16-element scale boundary.
template <>
struct QuantTraits<GgmlType::kQ2_K> {
  static constexpr int kBlock = quant::kQKK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ2_K*>(row)[g >> 5];
    const int e0 = 8 * static_cast<int>(g & 31);
    const int gg = e0 / 32;
    const float d = fp16_bits_to_f32(b.d);
    const float dmin = fp16_bits_to_f32(b.dmin);
    const std::uint8_t sc = b.scales[e0 / 16];
    const float dl = d * static_cast<float>(sc & 0x0f);
    const float ml = dmin * static_cast<float>(sc >> 4);
    const std::uint8_t* q = b.qs + 32 * (gg / 4) + e0 % 32;
    const int shift = 2 * (gg % 4);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = __fsub_rn(__fmul_rn(dl, static_cast<float>((q[i] >> shift) & 3)), ml);
  }
};

template <>
struct QuantTraits<GgmlType::kQ3_K> {
  static constexpr int kBlock = quant::kQKK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ3_K*>(row)[g >> 5];
    const int e0 = 8 * static_cast<int>(g & 31);
    const int gg = e0 / 32;
    const int l0 = e0 % 32;
    const int is = e0 / 16;  // which of the 16 signed 6-bit scales
    const int lo = (is < 8 ? b.scales[is] : b.scales[is - 8] >> 4) & 0x0f;
    const int hi = (b.scales[8 + (is % 4)] >> (2 * (is / 4))) & 3;
    const float d = fp16_bits_to_f32(b.d);
    const float dl = d * static_cast<float>((lo | (hi << 4)) - 32);
    const std::uint8_t* q = b.qs + 32 * (gg / 4) + l0;
    const int shift = 2 * (gg % 4);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int qv = ((q[i] >> shift) & 3) - (((b.hmask[l0 + i] >> gg) & 1) ? 0 : 4);
      v[i] = __fmul_rn(dl, static_cast<float>(qv));
    }
  }
};

// The 6-bit scale and min of sub-block s (0..7) of a Q4_K/Q5_K super-block.
__device__ __forceinline__ void k4_scale_min(const std::uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

template <>
struct QuantTraits<GgmlType::kQ4_K> {
  static constexpr int kBlock = quant::kQKK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ4_K*>(row)[g >> 5];
    const int e0 = 8 * static_cast<int>(g & 31);
    const int s = e0 / 32;
    int sc = 0, mn = 0;
    k4_scale_min(b.scales, s, sc, mn);
    const float d1 = fp16_bits_to_f32(b.d) * static_cast<float>(sc);
    const float m1 = fp16_bits_to_f32(b.dmin) * static_cast<float>(mn);
    const std::uint8_t* q = b.qs + 32 * (s / 2) + e0 % 32;
    const int shift = 4 * (s % 2);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = __fsub_rn(__fmul_rn(d1, static_cast<float>((q[i] >> shift) & 0x0f)), m1);
  }
};

template <>
struct QuantTraits<GgmlType::kQ5_K> {
  static constexpr int kBlock = quant::kQKK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ5_K*>(row)[g >> 5];
    const int e0 = 8 * static_cast<int>(g & 31);
    const int s = e0 / 32;
    const int l0 = e0 % 32;
    int sc = 0, mn = 0;
    k4_scale_min(b.scales, s, sc, mn);
    const float d1 = fp16_bits_to_f32(b.d) * static_cast<float>(sc);
    const float m1 = fp16_bits_to_f32(b.dmin) * static_cast<float>(mn);
    const std::uint8_t* q = b.qs + 32 * (s / 2) + l0;
    const int shift = 4 * (s % 2);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int qv = ((q[i] >> shift) & 0x0f) | (((b.qh[l0 + i] >> s) & 1) << 4);
      v[i] = __fsub_rn(__fmul_rn(d1, static_cast<float>(qv)), m1);
    }
  }
};

template <>
struct QuantTraits<GgmlType::kQ6_K> {
  static constexpr int kBlock = quant::kQKK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    const auto& b = reinterpret_cast<const quant::BlockQ6_K*>(row)[g >> 5];
    const int e0 = 8 * static_cast<int>(g & 31);
    const int half = e0 / 128;
    const int gg = (e0 % 128) / 32;
    const int l0 = e0 % 32;
    const std::uint8_t* ql = b.ql + 64 * half + 32 * (gg % 2) + l0;
    const std::uint8_t* qh = b.qh + 32 * half + l0;
    const float d1 = fp16_bits_to_f32(b.d) * static_cast<float>(b.scales[e0 / 16]);
    const int lshift = 4 * (gg / 2);
    const int hshift = 2 * gg;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int qv = ((ql[i] >> lshift) & 0x0f) | (((qh[i] >> hshift) & 3) << 4);
      v[i] = __fmul_rn(d1, static_cast<float>(qv - 32));
    }
  }
};

// MXFP4: the same 32-element group layout as Q4_0, an E8M0 scale and E2M1 codes
// (mxfp4_block.cuh, shared with the CPU tests).
template <>
struct QuantTraits<GgmlType::kMXFP4> {
  static constexpr int kBlock = quant::kQK;
  static constexpr bool kFloat = false;
  __device__ static void group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
    mxfp4_group8(row, g, v);
  }
};

// Calls f(std::integral_constant<GgmlType, T>{}) for the runtime type t; returns false
// (without calling) when t is not supported (the types of cuda_weight_type_supported).
template <typename F>
bool dispatch_weight_type(GgmlType t, F&& f) {
  switch (t) {
#define ZINFER_DISPATCH_CASE(T)               \
  case T:                                     \
    f(std::integral_constant<GgmlType, T>{}); \
    return true;
    ZINFER_DISPATCH_CASE(GgmlType::kF32)
    ZINFER_DISPATCH_CASE(GgmlType::kF16)
    ZINFER_DISPATCH_CASE(GgmlType::kBF16)
    ZINFER_DISPATCH_CASE(GgmlType::kQ4_0)
    ZINFER_DISPATCH_CASE(GgmlType::kQ4_1)
    ZINFER_DISPATCH_CASE(GgmlType::kQ5_0)
    ZINFER_DISPATCH_CASE(GgmlType::kQ5_1)
    ZINFER_DISPATCH_CASE(GgmlType::kQ8_0)
    ZINFER_DISPATCH_CASE(GgmlType::kQ2_K)
    ZINFER_DISPATCH_CASE(GgmlType::kQ3_K)
    ZINFER_DISPATCH_CASE(GgmlType::kQ4_K)
    ZINFER_DISPATCH_CASE(GgmlType::kQ5_K)
    ZINFER_DISPATCH_CASE(GgmlType::kQ6_K)
    ZINFER_DISPATCH_CASE(GgmlType::kMXFP4)
#undef ZINFER_DISPATCH_CASE
    default:
      return false;
  }
}

// Dequantizes element e of a row one at a time (any type; slow path for row tails of the
// float types, whose rows need not be a multiple of 8).
template <GgmlType T>
__device__ __forceinline__ float dequant_one(const std::uint8_t* row, std::int64_t e) {
  if constexpr (QuantTraits<T>::kFloat) {
    return QuantTraits<T>::one(row, e);
  } else {
    float v[8];
    QuantTraits<T>::group8(row, e / 8, v);
    return v[e % 8];
  }
}

}  // namespace zinfer::cuda
