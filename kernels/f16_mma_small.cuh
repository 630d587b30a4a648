// The fp16 products for a few activation rows (up to 8·NT ≤ 32): the tiles' order and bits
// (f16_mma.h) without their shared-memory stage. A block owns 16 weight rows and all the
// activation rows; its warp w computes part w of K (parts = q8mma::mma_parts, at most 8) as one
// chain of mma.m16n8k16 steps from C = 0, dequantizing its A fragments straight from the weight
// rows in registers — with the same functions, so the same halves, as the tiles' stage — and
// loading its B fragments from the activation rows; the parts' sums meet in shared memory and
// are added in part order, then scaled, biased and accumulated as in the tiles. Every output is
// the same instruction sequence over the same operands as in a tile: the bits do not depend on
// which kernel ran (tests/engine/quant/f16_mma_tile_host_test.cpp holds them to the tiles).
// Q4_K only for now (kSmallTypes).
#pragma once

#include <cstdint>

#include "kernels/f16_dequant.cuh"
#include "kernels/f16_mma_tile.cuh"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::f16mma {

template <GgmlType T>
inline constexpr bool kSmallType = T == GgmlType::kQ4_K;

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
      const std::uint32_t h00 = load_u32(blk0), h01 = load_u32(blk0 + 4), h02 = load_u32(blk0 + 8),
                          h03 = load_u32(blk0 + 12);
      const std::uint32_t h10 = load_u32(blk1), h11 = load_u32(blk1 + 4), h12 = load_u32(blk1 + 8),
                          h13 = load_u32(blk1 + 12);
      for (int s = 0; s < 8; ++s) {  // sub-blocks of 32 elements: two mma steps each
        float d0 = 0.0f, m0 = 0.0f, d1 = 0.0f, m1 = 0.0f;
        q4k_scale_min(h00, h01, h02, h03, s, d0, m0);
        q4k_scale_min(h10, h11, h12, h13, s, d1, m1);
        const int qoff = 16 + 32 * (s >> 1), shift = 4 * (s & 1);
        ZINFER_UNROLL
        for (int j = 0; j < 2; ++j) {
          // A: a0 row g, k 2t..2t+1; a1 row g + 8; a2 row g, k + 8; a3 row g + 8, k + 8.
          const int e = qoff + 16 * j + 2 * t;
          const std::uint32_t q0 =
              (load_u16(blk0 + e) | load_u16(blk0 + e + 8) << 16) >> shift & 0x0f0f0f0fu;
          const std::uint32_t q1 =
              (load_u16(blk1 + e) | load_u16(blk1 + e + 8) << 16) >> shift & 0x0f0f0f0fu;
          std::uint32_t a[4];
          if ((f32_bits(d0) | f32_bits(d1)) >> 31 == 0) {
            a[0] = affine2_f16<false>(q0, 0, d0, m0);
            a[2] = affine2_f16<false>(q0, 2, d0, m0);
            a[1] = affine2_f16<false>(q1, 0, d1, m1);
            a[3] = affine2_f16<false>(q1, 2, d1, m1);
          } else {
            auto pair = [](std::uint32_t q, int k0, float d, float m) {
              return f32_bits(d) >> 31 == 0 ? affine2_f16<false>(q, k0, d, m)
                                            : affine2_f16<true>(q, k0, d, m);
            };
            a[0] = pair(q0, 0, d0, m0);
            a[2] = pair(q0, 2, d0, m0);
            a[1] = pair(q1, 0, d1, m1);
            a[3] = pair(q1, 2, d1, m1);
          }
          const std::int64_t k = b * Tr::kBlockElems + 32 * s + 16 * j;
          ZINFER_UNROLL
          for (int nt = 0; nt < NT; ++nt) {
            const std::uint8_t* const bp = reinterpret_cast<const std::uint8_t*>(act[nt] + k);
            x.mma_f16(acc[nt], a, load_u32(bp), load_u32(bp + 16));
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
      v = q8::fmul(v, p.scale[n]);
      if (sel.bias != nullptr) v = q8::fadd(v, sel.bias[j]);
      float* o = sel.out + n * sel.out_stride + j;
      *o = p.accumulate ? q8::fadd(*o, v) : v;
    }
  }
}

}  // namespace zinfer::cuda::f16mma
