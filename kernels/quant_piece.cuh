// Weight rows in pieces of 32 elements, each read as four 8-element sub-pieces by the matvec
// kernels (four lanes share a piece): PieceTraits<T>::load(row, p, sub) brings into registers
// only the bytes sub-piece sub of piece p needs, dequant(sub-piece, v) writes its 8 values. A
// piece is one 32-element block of the legacy formats, one 32-element sub-block of a K-quant
// super-block, or 32 elements of a float row. The values are bit-identical to
// QuantTraits<T>::group8 (quant_block.cuh) and so to the CPU dequant: the same formulas,
// written again only where the bytes now come from registers. Every register array is
// indexed with compile-time indices only (sub-piece selection is done while loading), so
// nothing spills to local memory.
//
// Types without a register layout here (Q5_1, Q2_K, Q3_K) fall back to group8 reading
// memory; they are correct, just slower.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/quant_block.cuh"

namespace zinfer::cuda {

inline constexpr int kPieceElems = 32;

__device__ __forceinline__ std::uint32_t ld_u16(const std::uint8_t* p) {
  return *reinterpret_cast<const std::uint16_t*>(p);
}
// Two 2-byte-aligned halves as one word (little endian).
__device__ __forceinline__ std::uint32_t ld_u32_a2(const std::uint8_t* p) {
  return ld_u16(p) | (ld_u16(p + 2) << 16);
}
__device__ __forceinline__ std::uint32_t ld_u32(const std::uint8_t* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}
__device__ __forceinline__ uint4 ld_u128(const std::uint8_t* p) {
  return *reinterpret_cast<const uint4*>(p);
}
// Exact small-integer → float without the quarter-rate I2F: 2^23 | q is the float 2^23 + q,
// so subtracting 2^23 + offset gives q - offset exactly (q < 2^23, offset small). The values
// equal static_cast<float>(q - offset) bit for bit.
template <int kOffset = 0>
__device__ __forceinline__ float q_to_f32(std::uint32_t q) {
  return __int_as_float(0x4B000000u | q) - (8388608.0f + static_cast<float>(kOffset));
}

// Default: the sub-piece is a pointer, dequant reads memory through group8.
template <GgmlType T>
struct PieceTraits {
  struct Sub {
    const std::uint8_t* row;
    std::int64_t g;  // 8-element group
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    return {row, 4 * p + sub};
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
    QuantTraits<T>::group8(s.row, s.g, v);
  }
};

template <>
struct PieceTraits<GgmlType::kF32> {
  struct Sub {
    float4 a, b;
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const float4* x = reinterpret_cast<const float4*>(row) + (kPieceElems * p + 8 * sub) / 4;
    return {x[0], x[1]};
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
    v[0] = s.a.x, v[1] = s.a.y, v[2] = s.a.z, v[3] = s.a.w;
    v[4] = s.b.x, v[5] = s.b.y, v[6] = s.b.z, v[7] = s.b.w;
  }
};

template <GgmlType T>
struct HalfPieceTraits {
  struct Sub {
    uint4 w;  // 8 16-bit values
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    return {ld_u128(row + 2 * (kPieceElems * p + 8 * sub))};
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
    const std::uint32_t u[4] = {s.w.x, s.w.y, s.w.z, s.w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const auto lo = static_cast<std::uint16_t>(u[i] & 0xffffu);
      const auto hi = static_cast<std::uint16_t>(u[i] >> 16);
      if constexpr (T == GgmlType::kF16) {
        v[2 * i] = fp16_bits_to_f32(lo);
        v[2 * i + 1] = fp16_bits_to_f32(hi);
      } else {
        v[2 * i] = bf16_bits_to_f32(lo);
        v[2 * i + 1] = bf16_bits_to_f32(hi);
      }
    }
  }
};
template <>
struct PieceTraits<GgmlType::kF16> : HalfPieceTraits<GgmlType::kF16> {};
template <>
struct PieceTraits<GgmlType::kBF16> : HalfPieceTraits<GgmlType::kBF16> {};

// Byte i (0..7) of two little-endian words.
__device__ __forceinline__ std::uint32_t byte8(std::uint32_t w0, std::uint32_t w1, int i) {
  return ((i < 4 ? w0 : w1) >> (8 * (i & 3))) & 0xffu;
}

// Legacy 32-element blocks: qs[16] holds element j in the low nibble of byte j and element
// j + 16 in the high nibble. Sub-piece sub covers elements 8·sub..: bytes 8·(sub & 1).., the
// high nibbles when sub >= 2.
struct NibbleSub {
  float d, m;
  std::uint32_t q0, q1;  // the 8 quant bytes
  int shift;             // 0: low nibbles, 4: high
  std::uint32_t qh8;     // Q5_0: the 8 high bits of these elements
};
__device__ __forceinline__ int nibble(const NibbleSub& s, int i) {
  return static_cast<int>((byte8(s.q0, s.q1, i) >> s.shift) & 0x0fu);
}

template <>
struct PieceTraits<GgmlType::kQ4_0> {
  using Sub = NibbleSub;
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ4_0) * p;  // 2-byte aligned
    Sub s{};
    s.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
    const std::uint8_t* q = b + 2 + 8 * (sub & 1);
    s.q0 = ld_u32_a2(q);
    s.q1 = ld_u32_a2(q + 4);
    s.shift = 4 * (sub >> 1);
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = __fmul_rn(s.d, q_to_f32<8>(nibble(s, i)));
  }
};

template <>
struct PieceTraits<GgmlType::kQ4_1> {
  using Sub = NibbleSub;
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ4_1) * p;  // 4-byte aligned
    Sub s{};
    const std::uint32_t dm = ld_u32(b);
    s.d = fp16_bits_to_f32(static_cast<std::uint16_t>(dm & 0xffffu));
    s.m = fp16_bits_to_f32(static_cast<std::uint16_t>(dm >> 16));
    const std::uint8_t* q = b + 4 + 8 * (sub & 1);
    s.q0 = ld_u32(q);
    s.q1 = ld_u32(q + 4);
    s.shift = 4 * (sub >> 1);
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = __fadd_rn(__fmul_rn(s.d, q_to_f32(nibble(s, i))), s.m);
  }
};

template <>
struct PieceTraits<GgmlType::kQ5_0> {
  using Sub = NibbleSub;
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ5_0) * p;  // 2-byte aligned
    Sub s{};
    s.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
    s.qh8 = (ld_u32_a2(b + 2) >> (8 * sub)) & 0xffu;
    const std::uint8_t* q = b + 6 + 8 * (sub & 1);
    s.q0 = ld_u32_a2(q);
    s.q1 = ld_u32_a2(q + 4);
    s.shift = 4 * (sub >> 1);
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int h = static_cast<int>((s.qh8 >> i) & 1u) << 4;
      v[i] = __fmul_rn(s.d, q_to_f32<16>(nibble(s, i) | h));
    }
  }
};

template <>
struct PieceTraits<GgmlType::kQ8_0> {
  struct Sub {
    float d;
    std::uint32_t q0, q1;
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ8_0) * p;  // 2-byte aligned
    Sub s;
    s.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
    s.q0 = ld_u32_a2(b + 2 + 8 * sub);
    s.q1 = ld_u32_a2(b + 6 + 8 * sub);
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      // The signed byte q as q + 128 (flip the sign bit), then back: exact.
      v[i] = __fmul_rn(q_to_f32<128>(byte8(s.q0, s.q1, i) ^ 0x80u), s.d);
    }
  }
};

// Q4_K / Q5_K: piece p is sub-block sb = p % 8 of super-block p / 8; its quants are the low
// (sb even) or high (sb odd) nibbles of qs[32·(sb/2) ..+32], with scale/min pair sb; sub-piece
// sub reads bytes 8·sub.. of those 32 (and of qh for Q5_K, bit sb).
template <GgmlType T>
struct K4PieceTraits {
  static constexpr bool kQ5 = T == GgmlType::kQ5_K;
  using Block = std::conditional_t<kQ5, quant::BlockQ5_K, quant::BlockQ4_K>;
  struct Sub {
    float d1, m1;
    int shift;
    int sb;
    std::uint32_t q0, q1;
    std::uint32_t h0, h1;  // Q5_K
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(Block) * (p >> 3);  // 16-byte aligned
    const int sb = static_cast<int>(p & 7);
    Sub s{};
    const std::uint32_t dm = ld_u32(b);
    const std::uint32_t w[3] = {ld_u32(b + 4), ld_u32(b + 8), ld_u32(b + 12)};
    // k4_scale_min on bytes held in registers (sb is a run-time index).
    const auto byte = [&](int k) {
      const std::uint32_t word = k < 4 ? w[0] : (k < 8 ? w[1] : w[2]);
      return static_cast<int>((word >> (8 * (k & 3))) & 0xffu);
    };
    int sc = 0, mn = 0;
    if (sb < 4) {
      sc = byte(sb) & 63;
      mn = byte(sb + 4) & 63;
    } else {
      sc = (byte(sb + 4) & 0x0f) | ((byte(sb - 4) >> 6) << 4);
      mn = (byte(sb + 4) >> 4) | ((byte(sb) >> 6) << 4);
    }
    s.d1 = fp16_bits_to_f32(static_cast<std::uint16_t>(dm & 0xffffu)) * static_cast<float>(sc);
    s.m1 = fp16_bits_to_f32(static_cast<std::uint16_t>(dm >> 16)) * static_cast<float>(mn);
    s.shift = 4 * (sb & 1);
    s.sb = sb;
    const uint2 q =
        *reinterpret_cast<const uint2*>(b + offsetof(Block, qs) + 32 * (sb >> 1) + 8 * sub);
    s.q0 = q.x;
    s.q1 = q.y;
    if constexpr (kQ5) {
      const uint2 h = *reinterpret_cast<const uint2*>(b + offsetof(Block, qh) + 8 * sub);
      s.h0 = h.x;
      s.h1 = h.y;
    }
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      int qv = static_cast<int>((byte8(s.q0, s.q1, i) >> s.shift) & 0x0fu);
      if constexpr (kQ5) qv |= static_cast<int>((byte8(s.h0, s.h1, i) >> s.sb) & 1u) << 4;
      v[i] = __fsub_rn(__fmul_rn(s.d1, q_to_f32(static_cast<std::uint32_t>(qv))), s.m1);
    }
  }
};
template <>
struct PieceTraits<GgmlType::kQ4_K> : K4PieceTraits<GgmlType::kQ4_K> {};
template <>
struct PieceTraits<GgmlType::kQ5_K> : K4PieceTraits<GgmlType::kQ5_K> {};

// Q6_K: piece p covers elements e0 = 32·(p % 8) .. of its super-block: low bits from
// ql[64·half + 32·(gg % 2) + l], high bits from qh[32·half + l] >> 2·gg, one int8 scale per
// 16 elements (sub-piece sub uses scale (e0 + 8·sub) / 16). The block is only 2-byte aligned
// (210 bytes).
template <>
struct PieceTraits<GgmlType::kQ6_K> {
  struct Sub {
    float d1;
    int lshift, hshift;
    std::uint32_t l0, l1, h0, h1;
  };
  __device__ static Sub load(const std::uint8_t* row, std::int64_t p, int sub) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ6_K) * (p >> 3);
    const int e0 = 32 * static_cast<int>(p & 7);
    const int half = e0 / 128;
    const int gg = (e0 % 128) / 32;
    Sub s;
    const std::uint8_t* ql =
        b + offsetof(quant::BlockQ6_K, ql) + 64 * half + 32 * (gg % 2) + 8 * sub;
    const std::uint8_t* qh = b + offsetof(quant::BlockQ6_K, qh) + 32 * half + 8 * sub;
    s.l0 = ld_u32_a2(ql);
    s.l1 = ld_u32_a2(ql + 4);
    s.h0 = ld_u32_a2(qh);
    s.h1 = ld_u32_a2(qh + 4);
    const auto sc =
        static_cast<std::int8_t>(b[offsetof(quant::BlockQ6_K, scales) + (e0 + 8 * sub) / 16]);
    const float d =
        fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b + offsetof(quant::BlockQ6_K, d))));
    s.d1 = d * static_cast<float>(sc);
    s.lshift = 4 * (gg / 2);
    s.hshift = 2 * gg;
    return s;
  }
  __device__ static void dequant(const Sub& s, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int qv = static_cast<int>((byte8(s.l0, s.l1, i) >> s.lshift) & 0x0fu) |
                     (static_cast<int>((byte8(s.h0, s.h1, i) >> s.hshift) & 3u) << 4);
      v[i] = __fmul_rn(s.d1, q_to_f32<32>(static_cast<std::uint32_t>(qv)));
    }
  }
};

}  // namespace zinfer::cuda
