// The fp16 products for a few activation rows (up to 8·NT ≤ 32): the tiles' order and bits
// (f16_mma.h) without their shared-memory stage. A block owns 16 weight rows and all the
// activation rows; its warp w computes part w of K (parts = q8mma::mma_parts, at most 8) as one
// chain of mma.m16n8k16 steps from C = 0, dequantizing its A fragments straight from the weight
// rows in registers — with the same functions, so the same halves, as the tiles' stage — and
// loading its B fragments from the activation rows; the parts' sums meet in shared memory and
// are added in part order, then scaled, biased and accumulated as in the tiles. Every output is
// the same instruction sequence over the same operands as in a tile: the bits do not depend on
// which kernel ran (tests/engine/quant/f16_mma_tile_host_test.cpp holds them to the tiles).
// Q4_K, Q6_K, Q5_0 and Q8_0 (kSmallType).
#pragma once

#include <cstdint>

#include "kernels/f16_dequant.cuh"
#include "kernels/f16_mma_tile.cuh"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::f16mma {

template <GgmlType T>
inline constexpr bool kSmallType =
    T == GgmlType::kQ4_K || T == GgmlType::kQ6_K || T == GgmlType::kQ5_0 || T == GgmlType::kQ8_0;

// Four Q4_K quants x (bytes: elements e, e + 1, e + 8, e + 9) of a sub-block with d1 and m1 as
// the stage's fp16 pairs: lo = (e, e + 1), hi = (e + 8, e + 9).
ZINFER_HD void q4k_pairs(std::uint32_t x, float d1, float m1, std::uint32_t& lo,
                         std::uint32_t& hi) {
  if (f32_bits(d1) >> 31 == 0) {
    affine4_f16<false>(x, d1, m1, lo, hi);
  } else {
    affine4_f16<true>(x, d1, m1, lo, hi);
  }
}

// A fragment's two pairs from one weight row: elements e, e + 1 (lo) and e + 8, e + 9 (hi) of
// sub-block s of the super-block at blk (of the legacy block at blk: s = 0), e = 16·j + 2·t —
// the halves the stage makes of them. head: the super-block's first 16 bytes (Q4_K: d, dmin,
// scales).
template <GgmlType T>
ZINFER_HD void a_pairs(const std::uint8_t* blk, const std::uint32_t (&head)[4], int s, int e,
                       std::uint32_t& lo, std::uint32_t& hi) {
  if constexpr (T == GgmlType::kQ4_K) {
    float d1 = 0.0f, m1 = 0.0f;
    q4k_scale_min(head[0], head[1], head[2], head[3], s, d1, m1);
    const std::uint8_t* q = blk + 16 + 32 * (s >> 1) + e;
    q4k_pairs((q8::ld_u16(q) | q8::ld_u16(q + 8) << 16) >> (4 * (s & 1)) & 0x0f0f0f0fu, d1, m1, lo,
              hi);
  } else if constexpr (T == GgmlType::kQ5_0) {
    (void)head;
    (void)s;
    // Elements 0..15 are the low nibbles of qs[0..15], 16..31 the high ones; bit e of qh is
    // element e's fifth bit.
    const std::uint8_t* q = blk + 6 + (e & 15);
    const std::uint32_t qh = q8::ld_u32_a2(blk + 2);
    const std::uint32_t fifth = q8::spread_bit4(((qh >> e) & 3u) | ((qh >> (e + 8)) & 3u) << 2);
    const std::uint32_t x =
        ((q8::ld_u16(q) | q8::ld_u16(q + 8) << 16) >> (e >= 16 ? 4 : 0) & 0x0f0f0f0fu) | fifth;
    const float d = q8::half_to_f32(q8::ld_u16(blk));
    lo = scaled2_f16(x, 0, d, 16.0f);
    hi = scaled2_f16(x, 2, d, 16.0f);
  } else if constexpr (T == GgmlType::kQ8_0) {
    (void)head;
    (void)s;
    const std::uint8_t* q = blk + 2 + e;
    const std::uint32_t x = (q8::ld_u16(q) | q8::ld_u16(q + 8) << 16) ^ 0x80808080u;
    const float d = q8::half_to_f32(q8::ld_u16(blk));
    lo = scaled2_f16(x, 0, d, 128.0f);
    hi = scaled2_f16(x, 2, d, 128.0f);
  } else {
    static_assert(T == GgmlType::kQ6_K, "kSmallType types only");
    (void)head;
    const int half = s >> 2, gg = s & 3;
    const std::uint8_t* ql = blk + 64 * half + 32 * (gg & 1) + e;
    const std::uint8_t* qh = blk + 128 + 32 * half + e;
    const std::uint32_t x =
        q6k_quants(q8::ld_u16(ql) | q8::ld_u16(ql + 8) << 16,
                   q8::ld_u16(qh) | q8::ld_u16(qh + 8) << 16, 4 * (gg >> 1), 2 * gg);
    const float d1 = q6k_scale(blk, 2 * s + (e >= 16 ? 1 : 0));  // e and e + 9 share a scale
    lo = scaled2_f16(x, 0, d1, 32.0f);
    hi = scaled2_f16(x, 2, d1, 32.0f);
  }
}

inline constexpr int kSmallWarps = q8mma::kMaxParts;  // one a part
inline constexpr int kSmallRows = 16;                 // weight rows a block

template <int NT>
struct F16SmallShape {
  static constexpr int kThreads = 32 * kSmallWarps;
  static constexpr int kCols = 8 * NT;
  // Each warp's part sums: [NT][32 lanes][4].
  static constexpr std::size_t kSmemBytes =
      static_cast<std::size_t>(kSmallWarps) * NT * 32 * 4 * sizeof(float);
};

// The body, run by each of the block's F16SmallShape<NT>::kThreads threads. Ctx as the tiles'
// (f16_mma_tile.cuh) less the copies and ldmatrix: thread(), block_y(), smem(), sync(), mma_f16.
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, int NT, typename Ctx>
ZINFER_HD void f16_small_body(const F16MmaParams& p, Ctx& x) {
  static_assert(kSmallType<T>, "types with a register dequantization only");
  using Tr = q8mma::MmaTraits<T>;
  const int tid = x.thread();
  const int lane = tid & 31, part = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const F16Sel sel = select_mat(p, x.block_y());
  const std::int64_t jb = sel.tile * kSmallRows;
  float* const sums = reinterpret_cast<float*>(x.smem());
  if (part < p.parts) {
    float acc[NT][4] = {};
    // This lane's A rows (g and g + 8 of the tile, clamped to the matrix) and B columns.
    const std::int64_t r0 = jb + g < sel.ne1 ? jb + g : sel.ne1 - 1;
    const std::int64_t r1 = jb + g + 8 < sel.ne1 ? jb + g + 8 : sel.ne1 - 1;
    const std::uint8_t* const w0 = sel.w + static_cast<std::size_t>(r0) * p.row_bytes;
    const std::uint8_t* const w1 = sel.w + static_cast<std::size_t>(r1) * p.row_bytes;
    const std::uint16_t* act[NT];
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      const std::int64_t n = 8 * nt + g < p.rows ? 8 * nt + g : p.rows - 1;
      act[nt] = p.act + n * p.stride + 2 * t;
    }
    const std::int64_t b_end = q8mma::part_begin(p.nb, p.parts, part + 1);
    for (std::int64_t b = q8mma::part_begin(p.nb, p.parts, part); b < b_end; ++b) {
      const std::uint8_t* const blk0 = w0 + static_cast<std::size_t>(b) * Tr::kBlockBytes;
      const std::uint8_t* const blk1 = w1 + static_cast<std::size_t>(b) * Tr::kBlockBytes;
      std::uint32_t head0[4] = {}, head1[4] = {};
      if constexpr (T == GgmlType::kQ4_K) {
        ZINFER_UNROLL
        for (int i = 0; i < 4; ++i) {
          head0[i] = q8::ld_u32(blk0 + 4 * i);
          head1[i] = q8::ld_u32(blk1 + 4 * i);
        }
      }
      // One mma step: the A pairs (a0 row g, k 2t..2t+1; a1 row g + 8; a2 row g, k + 8; a3 row
      // g + 8, k + 8) times each activation tile's B fragment at element k of the row.
      auto step = [&](const std::uint32_t(&a)[4], std::int64_t k) {
        ZINFER_UNROLL
        for (int nt = 0; nt < NT; ++nt) {
          const std::uint8_t* const bp = reinterpret_cast<const std::uint8_t*>(act[nt] + k);
          x.mma_f16(acc[nt], a, q8::ld_u32(bp), q8::ld_u32(bp + 16));
        }
      };
      if constexpr (T == GgmlType::kQ4_K) {
        // Sub-blocks 2c and 2c + 1 are the low and high nibbles of the same 32 bytes: this
        // lane's bytes of them (e, e + 1, e + 8, e + 9 for e = 16j + 2t) are loaded once for
        // both, each sub-block's scale and min decoded once for its four pairs a row.
        ZINFER_UNROLL
        for (int c = 0; c < 4; ++c) {
          std::uint32_t x0[2], x1[2];
          ZINFER_UNROLL
          for (int j = 0; j < 2; ++j) {
            const int o = 16 + 32 * c + 16 * j + 2 * t;
            x0[j] = q8::ld_u16(blk0 + o) | q8::ld_u16(blk0 + o + 8) << 16;
            x1[j] = q8::ld_u16(blk1 + o) | q8::ld_u16(blk1 + o + 8) << 16;
          }
          ZINFER_UNROLL
          for (int h = 0; h < 2; ++h) {
            const int s = 2 * c + h;
            float d0 = 0.0f, m0 = 0.0f, d1 = 0.0f, m1 = 0.0f;
            q4k_scale_min(head0[0], head0[1], head0[2], head0[3], s, d0, m0);
            q4k_scale_min(head1[0], head1[1], head1[2], head1[3], s, d1, m1);
            const bool plain = (f32_bits(d0) | f32_bits(d1)) >> 31 == 0;  // the usual case
            ZINFER_UNROLL
            for (int j = 0; j < 2; ++j) {
              const std::uint32_t q0 = x0[j] >> (4 * h) & 0x0f0f0f0fu;
              const std::uint32_t q1 = x1[j] >> (4 * h) & 0x0f0f0f0fu;
              std::uint32_t a[4];
              if (plain) {
                affine4_f16<false>(q0, d0, m0, a[0], a[2]);
                affine4_f16<false>(q1, d1, m1, a[1], a[3]);
              } else {
                q4k_pairs(q0, d0, m0, a[0], a[2]);
                q4k_pairs(q1, d1, m1, a[1], a[3]);
              }
              step(a, b * Tr::kBlockElems + 32 * s + 16 * j);
            }
          }
        }
      } else if constexpr (T == GgmlType::kQ6_K) {
        // Each half of the super-block: its two 32-byte runs of low nibbles (sub-blocks gg and
        // gg + 2 share one) and its 32 bytes of high bits (all four sub-blocks) loaded once.
        ZINFER_UNROLL
        for (int hf = 0; hf < 2; ++hf) {
          std::uint32_t l0[2][2], l1[2][2], h0[2], h1[2];  // [run][j], [j]
          ZINFER_UNROLL
          for (int j = 0; j < 2; ++j) {
            const int e = 16 * j + 2 * t;
            ZINFER_UNROLL
            for (int r = 0; r < 2; ++r) {
              const int o = 64 * hf + 32 * r + e;
              l0[r][j] = q8::ld_u16(blk0 + o) | q8::ld_u16(blk0 + o + 8) << 16;
              l1[r][j] = q8::ld_u16(blk1 + o) | q8::ld_u16(blk1 + o + 8) << 16;
            }
            const int o = 128 + 32 * hf + e;
            h0[j] = q8::ld_u16(blk0 + o) | q8::ld_u16(blk0 + o + 8) << 16;
            h1[j] = q8::ld_u16(blk1 + o) | q8::ld_u16(blk1 + o + 8) << 16;
          }
          ZINFER_UNROLL
          for (int gg = 0; gg < 4; ++gg) {
            const int s = 4 * hf + gg;
            ZINFER_UNROLL
            for (int j = 0; j < 2; ++j) {  // elements 16j.. of the sub-block: scale 2s + j
              const std::uint32_t q0 = q6k_quants(l0[gg & 1][j], h0[j], 4 * (gg >> 1), 2 * gg);
              const std::uint32_t q1 = q6k_quants(l1[gg & 1][j], h1[j], 4 * (gg >> 1), 2 * gg);
              std::uint32_t a[4];
              scaled4_f16(q0, q6k_scale(blk0, 2 * s + j), 32.0f, a[0], a[2]);
              scaled4_f16(q1, q6k_scale(blk1, 2 * s + j), 32.0f, a[1], a[3]);
              step(a, b * Tr::kBlockElems + 32 * s + 16 * j);
            }
          }
        }
      } else {
        for (int s = 0; s < Tr::kBlockElems / 32; ++s) {  // 32 elements: two mma steps each
          ZINFER_UNROLL
          for (int j = 0; j < 2; ++j) {
            std::uint32_t a[4];
            a_pairs<T>(blk0, head0, s, 16 * j + 2 * t, a[0], a[2]);
            a_pairs<T>(blk1, head1, s, 16 * j + 2 * t, a[1], a[3]);
            step(a, b * Tr::kBlockElems + 32 * s + 16 * j);
          }
        }
      }
    }
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) sums[((part * NT + nt) * 32 + lane) * 4 + i] = acc[nt][i];
    }
  }
  x.sync();
  if (part != 0) return;
  ZINFER_UNROLL
  for (int nt = 0; nt < NT; ++nt) {
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) {
      const std::int64_t j = jb + g + 8 * (i >> 1);
      const std::int64_t n = 8 * nt + 2 * t + (i & 1);
      if (j >= sel.ne1 || n >= p.rows) continue;
      float v = sums[(nt * 32 + lane) * 4 + i];
      for (int q = 1; q < p.parts; ++q) v = q8::fadd(v, sums[((q * NT + nt) * 32 + lane) * 4 + i]);
      f16_store(p, sel, v, n, j);
    }
  }
}

}  // namespace zinfer::cuda::f16mma
