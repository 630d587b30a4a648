// Weight rows in pieces of 32 elements, for the matvec kernels that hand each lane whole
// pieces: load(row, p) brings the bytes of piece p into registers with the widest loads the
// block layout's alignment allows, dequant8(piece, sub, v) then writes elements
// [8·sub, 8·sub + 8) of the piece. A piece is one 32-element block of the legacy formats, one
// 32-element sub-block of a K-quant super-block, or 32 elements of a float row. The values
// are bit-identical to QuantTraits<T>::group8 (quant_block.cuh) and so to the CPU dequant:
// the same formulas, written again only where the bytes now come from registers.
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
__device__ __forceinline__ std::uint32_t byte_of(const std::uint32_t (&w)[4], int i) {
  return (w[i >> 2] >> (8 * (i & 3))) & 0xffu;
}
__device__ __forceinline__ std::uint32_t byte_of8(const std::uint32_t (&w)[8], int i) {
  return (w[i >> 2] >> (8 * (i & 3))) & 0xffu;
}

// Exact small-integer → float without the quarter-rate I2F: 2^23 | q is the float 2^23 + q,
// so subtracting 2^23 + offset gives q - offset exactly (q < 2^23, offset small). The values
// equal static_cast<float>(q - offset) bit for bit.
template <int kOffset = 0>
__device__ __forceinline__ float q_to_f32(std::uint32_t q) {
  return __int_as_float(0x4B000000u | q) - (8388608.0f + static_cast<float>(kOffset));
}

// Default: the piece is a pointer, dequant8 reads memory through group8.
template <GgmlType T>
struct PieceTraits {
  struct Piece {
    const std::uint8_t* row;
    std::int64_t p;
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) { return {row, p}; }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
    QuantTraits<T>::group8(pc.row, 4 * pc.p + sub, v);
  }
};

template <>
struct PieceTraits<GgmlType::kF32> {
  struct Piece {
    const float* x;
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    return {reinterpret_cast<const float*>(row) + kPieceElems * p};
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
    const float4 a = reinterpret_cast<const float4*>(pc.x)[2 * sub];
    const float4 b = reinterpret_cast<const float4*>(pc.x)[2 * sub + 1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  }
};

template <GgmlType T>
struct HalfPieceTraits {
  struct Piece {
    uint4 w[4];  // 32 16-bit values
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    Piece pc;
    const std::uint8_t* b = row + 2 * kPieceElems * p;
#pragma unroll
    for (int i = 0; i < 4; ++i) pc.w[i] = ld_u128(b + 16 * i);
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
    const std::uint32_t u[4] = {pc.w[sub].x, pc.w[sub].y, pc.w[sub].z, pc.w[sub].w};
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

// Legacy 32-element blocks: qs[16] holds element j in the low nibble of byte j and element
// j + 16 in the high nibble. Sub-piece sub covers elements 8·sub..: bytes 8·(sub & 1).., the
// high nibbles when sub >= 2.
__device__ __forceinline__ int nib(const std::uint32_t (&qs)[4], int sub, int i) {
  return static_cast<int>((byte_of(qs, 8 * (sub & 1) + i) >> (4 * (sub >> 1))) & 0x0fu);
}

template <>
struct PieceTraits<GgmlType::kQ4_0> {
  struct Piece {
    float d;
    std::uint32_t qs[4];
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ4_0) * p;  // 2-byte aligned
    Piece pc;
    pc.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
#pragma unroll
    for (int i = 0; i < 4; ++i) pc.qs[i] = ld_u32_a2(b + 2 + 4 * i);
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = __fmul_rn(pc.d, q_to_f32<8>(nib(pc.qs, sub, i)));
  }
};

template <>
struct PieceTraits<GgmlType::kQ4_1> {
  struct Piece {
    float d, m;
    std::uint32_t qs[4];
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ4_1) * p;  // 4-byte aligned
    Piece pc;
    const std::uint32_t dm = ld_u32(b);
    pc.d = fp16_bits_to_f32(static_cast<std::uint16_t>(dm & 0xffffu));
    pc.m = fp16_bits_to_f32(static_cast<std::uint16_t>(dm >> 16));
#pragma unroll
    for (int i = 0; i < 4; ++i) pc.qs[i] = ld_u32(b + 4 + 4 * i);
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = __fadd_rn(__fmul_rn(pc.d, q_to_f32(nib(pc.qs, sub, i))), pc.m);
  }
};

template <>
struct PieceTraits<GgmlType::kQ5_0> {
  struct Piece {
    float d;
    std::uint32_t qh;
    std::uint32_t qs[4];
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ5_0) * p;  // 2-byte aligned
    Piece pc;
    pc.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
    pc.qh = ld_u32_a2(b + 2);
#pragma unroll
    for (int i = 0; i < 4; ++i) pc.qs[i] = ld_u32_a2(b + 6 + 4 * i);
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * sub + i;
      const int h = static_cast<int>((pc.qh >> e) & 1u) << 4;
      v[i] = __fmul_rn(pc.d, q_to_f32<16>(nib(pc.qs, sub, i) | h));
    }
  }
};

template <>
struct PieceTraits<GgmlType::kQ8_0> {
  struct Piece {
    float d;
    std::uint32_t qs[8];
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ8_0) * p;  // 2-byte aligned
    Piece pc;
    pc.d = fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b)));
#pragma unroll
    for (int i = 0; i < 8; ++i) pc.qs[i] = ld_u32_a2(b + 2 + 4 * i);
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      // The signed byte q as q + 128 (flip the sign bit), then back: exact.
      v[i] = __fmul_rn(q_to_f32<128>(byte_of8(pc.qs, 8 * sub + i) ^ 0x80u), pc.d);
    }
  }
};

// Q4_K / Q5_K: piece p is sub-block s = p % 8 of super-block p / 8; its quants are the low
// (s even) or high (s odd) nibbles of qs[32·(s/2) ..+32], with scale/min pair s.
template <GgmlType T>
struct K4PieceTraits {
  static constexpr bool kQ5 = T == GgmlType::kQ5_K;
  using Block = std::conditional_t<kQ5, quant::BlockQ5_K, quant::BlockQ4_K>;
  struct Piece {
    float d1, m1;
    int shift;
    int s;
    uint4 q[2];   // 32 bytes of qs
    uint4 qh[2];  // Q5_K: the 32 high-bit bytes
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(Block) * (p >> 3);  // 16-byte aligned
    const int s = static_cast<int>(p & 7);
    Piece pc;
    const std::uint32_t dm = ld_u32(b);
    const std::uint32_t w[3] = {ld_u32(b + 4), ld_u32(b + 8), ld_u32(b + 12)};
    // k4_scale_min on bytes held in registers (s is a run-time index).
    const auto byte = [&](int k) {
      const std::uint32_t word = k < 4 ? w[0] : (k < 8 ? w[1] : w[2]);
      return static_cast<int>((word >> (8 * (k & 3))) & 0xffu);
    };
    int sc = 0, mn = 0;
    if (s < 4) {
      sc = byte(s) & 63;
      mn = byte(s + 4) & 63;
    } else {
      sc = (byte(s + 4) & 0x0f) | ((byte(s - 4) >> 6) << 4);
      mn = (byte(s + 4) >> 4) | ((byte(s) >> 6) << 4);
    }
    pc.d1 = fp16_bits_to_f32(static_cast<std::uint16_t>(dm & 0xffffu)) * static_cast<float>(sc);
    pc.m1 = fp16_bits_to_f32(static_cast<std::uint16_t>(dm >> 16)) * static_cast<float>(mn);
    pc.shift = 4 * (s & 1);
    pc.s = s;
    const std::uint8_t* qs = b + offsetof(Block, qs) + 32 * (s >> 1);
    pc.q[0] = ld_u128(qs);
    pc.q[1] = ld_u128(qs + 16);
    if constexpr (kQ5) {
      pc.qh[0] = ld_u128(b + offsetof(Block, qh));
      pc.qh[1] = ld_u128(b + offsetof(Block, qh) + 16);
    }
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
    const uint4& q = pc.q[sub >> 1];
    const std::uint32_t w0 = (sub & 1) ? q.z : q.x;
    const std::uint32_t w1 = (sub & 1) ? q.w : q.y;
    std::uint32_t h0 = 0, h1 = 0;
    if constexpr (kQ5) {
      const uint4& h = pc.qh[sub >> 1];
      h0 = (sub & 1) ? h.z : h.x;
      h1 = (sub & 1) ? h.w : h.y;
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const std::uint32_t byte = ((i < 4 ? w0 : w1) >> (8 * (i & 3))) & 0xffu;
      int qv = static_cast<int>((byte >> pc.shift) & 0x0fu);
      if constexpr (kQ5) {
        const std::uint32_t hb = ((i < 4 ? h0 : h1) >> (8 * (i & 3))) & 0xffu;
        qv |= static_cast<int>((hb >> pc.s) & 1u) << 4;
      }
      v[i] = __fsub_rn(__fmul_rn(pc.d1, q_to_f32(static_cast<std::uint32_t>(qv))), pc.m1);
    }
  }
};
template <>
struct PieceTraits<GgmlType::kQ4_K> : K4PieceTraits<GgmlType::kQ4_K> {};
template <>
struct PieceTraits<GgmlType::kQ5_K> : K4PieceTraits<GgmlType::kQ5_K> {};

// Q6_K: piece p covers elements e0 = 32·(p % 8) .. of its super-block: low bits from
// ql[64·half + 32·(gg % 2) + l], high bits from qh[32·half + l] >> 2·gg, two 16-element
// scales. The block is only 2-byte aligned (210 bytes).
template <>
struct PieceTraits<GgmlType::kQ6_K> {
  struct Piece {
    float d1[2];
    int lshift, hshift;
    std::uint32_t ql[8];
    std::uint32_t qh[8];
  };
  __device__ static Piece load(const std::uint8_t* row, std::int64_t p) {
    const std::uint8_t* b = row + sizeof(quant::BlockQ6_K) * (p >> 3);
    const int e0 = 32 * static_cast<int>(p & 7);
    const int half = e0 / 128;
    const int gg = (e0 % 128) / 32;
    Piece pc;
    const std::uint8_t* ql = b + offsetof(quant::BlockQ6_K, ql) + 64 * half + 32 * (gg % 2);
    const std::uint8_t* qh = b + offsetof(quant::BlockQ6_K, qh) + 32 * half;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      pc.ql[i] = ld_u32_a2(ql + 4 * i);
      pc.qh[i] = ld_u32_a2(qh + 4 * i);
    }
    const std::uint32_t sc2 = ld_u16(b + offsetof(quant::BlockQ6_K, scales) + e0 / 16);
    const float d =
        fp16_bits_to_f32(static_cast<std::uint16_t>(ld_u16(b + offsetof(quant::BlockQ6_K, d))));
    pc.d1[0] = d * static_cast<float>(static_cast<std::int8_t>(sc2 & 0xffu));
    pc.d1[1] = d * static_cast<float>(static_cast<std::int8_t>(sc2 >> 8));
    pc.lshift = 4 * (gg / 2);
    pc.hshift = 2 * gg;
    return pc;
  }
  __device__ static void dequant8(const Piece& pc, int sub, float (&v)[8]) {
    const float d1 = pc.d1[sub >> 1];
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int l = 8 * sub + i;
      const int qv = static_cast<int>((byte_of8(pc.ql, l) >> pc.lshift) & 0x0fu) |
                     (static_cast<int>((byte_of8(pc.qh, l) >> pc.hshift) & 3u) << 4);
      v[i] = __fmul_rn(d1, q_to_f32<32>(static_cast<std::uint32_t>(qv)));
    }
  }
};

}  // namespace zinfer::cuda
