// The kernels behind q8_mma.h: q8_mma_kernel<T, kQ16, NT, kGated>, its wide variant, and
// q8_mma_vec_kernel for the smallest batches.
//
// q8_mma_kernel — grid: (tiles of 8·NT activation rows) × (tiles of 16 weight rows); a block
// has one warp per part of K (q8mma::mma_parts: set by K alone); each warp runs its part's
// blocks through mma.sync for its 16 × 8·NT outputs, adding the unit terms in K order, and
// the parts' sums meet in shared memory, added in part order by the thread that writes the
// output. Enough blocks for small batches, since K is split.
// q8_mma_wide_kernel — for large batches: four warps a block, each 16 weight rows of the same
// 8·NT activation rows, each over all of K (its parts in turn, each part's sum from 0, added in
// part order): the same float steps, so the same bits; no shared memory, activations read
// once per block through L1.
// q8_mma_vec_kernel — for a few activation rows (decode at small batch), without tensor cores:
// one warp a weight row, its lanes in one group a part, each group walking its part's units
// (q8mma::unit_term, dp4a; Q4_K / Q5_K with Q16: k4_unit_term16, 16-byte loads) L·kW at a
// time, a lane of the group a product (gate, up; activation row) adding its terms in K order
// from shared memory, the products' chains side by side; the parts' sums
// added in part order through shuffles. The same float steps again, so the same bits; the
// weight bytes are read once, by lanes next to each other.
// NT (1, 2 or 4 column tiles a warp) and the kernel follow the batch size; they change which
// rows share a warp, never an output's order. Weights and activations are read straight from
// global memory (L1/L2): a first version to measure, not yet staged through shared memory.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "engine/core/env_switch.h"
#include "kernels/activation.cuh"
#include "kernels/cuda_check.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma.h"
#include "kernels/q8_mma_launch.cuh"

namespace zinfer::cuda {
namespace {

using q8mma::Family;
using q8mma::kMaxParts;
using quant::GgmlType;

// C = A·B of sub-block s of block b for the tile's rows (rg, rg8) and one activation plane q
// (quants, or Q16's hi or lo bytes) of column row qcol.
template <GgmlType T>
__device__ __forceinline__ void sub_product(int (&c)[4], const std::uint32_t (&a)[4],
                                            const std::int8_t* q, std::int64_t e, int t) {
  using Tr = q8mma::MmaTraits<T>;
  std::uint32_t b0 = 0, b1 = 0;
  q8mma::act_words(q, e, t, Tr::kSubK == 32, b0, b1);
  if constexpr (Tr::kSubK == 32) {
    mma_k32(c, a, b0, b1);
  } else {
    mma_k16(c, a, b0);
  }
}

template <GgmlType T>
__device__ __forceinline__ void a_fragment(std::uint32_t (&a)[4], const std::uint8_t* rg,
                                           const std::uint8_t* rg8, std::int64_t b, int s, int t) {
  using Tr = q8mma::MmaTraits<T>;
  Tr::words(rg, b, s, t, a[0], a[2]);
  Tr::words(rg8, b, s, t, a[1], a[3]);
}

// Per-column pointers of a Q8 / Q16 activation row.
struct Cols {
  const std::uint8_t* row;
  __device__ const float* d(const q8::Q8ActLayout& l) const {
    return reinterpret_cast<const float*>(row + l.d_off);
  }
  __device__ const float* s(const q8::Q8ActLayout& l) const {
    return reinterpret_cast<const float*>(row + l.s_off);
  }
  __device__ const std::int16_t* bsums(const q8::Q8ActLayout& l) const {
    return reinterpret_cast<const std::int16_t*>(row + l.bsums_off);
  }
  __device__ const std::int32_t* qsum16(const q8::Q8ActLayout& l) const {
    return reinterpret_cast<const std::int32_t*>(row + l.qsum_off);
  }
};

// Q8 activations of the K-quants: isum[nt][i] = Σ over the block's sub-blocks s of the row's
// scale(s, row g / g + 8) times the sub-block's exact integer dot.
template <GgmlType T, int NT, typename Scale>
__device__ __forceinline__ void scaled_isums(int (&isum)[NT][4], const std::uint8_t* rg,
                                             const std::uint8_t* rg8, std::int64_t wb,
                                             std::int64_t b, int t,
                                             const std::uint8_t* const (&bcol)[NT], Scale scale) {
  using Tr = q8mma::MmaTraits<T>;
#pragma unroll
  for (int s = 0; s < Tr::kSubs; ++s) {
    std::uint32_t a[4];
    a_fragment<T>(a, rg, rg8, wb, s, t);
    const int sc0 = scale(s, 0), sc1 = scale(s, 1);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      int c[4];
      sub_product<T>(c, a, reinterpret_cast<const std::int8_t*>(bcol[nt]),
                     static_cast<std::int64_t>(Tr::kBlockElems) * b + Tr::kSubK * s, t);
      isum[nt][0] += sc0 * c[0];
      isum[nt][1] += sc0 * c[1];
      isum[nt][2] += sc1 * c[2];
      isum[nt][3] += sc1 * c[3];
    }
  }
}

// Adds block b's unit terms of one matrix to acc[nt][i] (i: C fragment position). The weight
// rows' block b is block wb of rg / rg8 (b itself, or a block staged in shared memory).
template <GgmlType T, bool kQ16, int NT>
__device__ __forceinline__ void block_step(float (&acc)[NT][4], const std::uint8_t* rg,
                                           const std::uint8_t* rg8, std::int64_t wb, std::int64_t b,
                                           int t, const std::uint8_t* const (&bcol)[NT],
                                           const std::uint8_t* const (&ccol)[NT][2],
                                           const q8::Q8ActLayout& l) {
  using Tr = q8mma::MmaTraits<T>;
  constexpr Family kFam = q8mma::family<T>();
  constexpr std::int64_t kE = Tr::kBlockElems;
  const auto hg = Tr::head(rg, wb);
  const auto hg8 = Tr::head(rg8, wb);
  if constexpr (kFam == Family::kLegacy) {
    std::uint32_t a[4];
    a_fragment<T>(a, rg, rg8, wb, 0, t);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const auto* q = reinterpret_cast<const std::int8_t*>(bcol[nt]);
      int c[4];
      int cl[4] = {0, 0, 0, 0};
      sub_product<T>(c, a, q, kE * b, t);
      if constexpr (kQ16) sub_product<T>(cl, a, q + l.lo_off, kE * b, t);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const Cols col{ccol[nt][i & 1]};
        const q8mma::LegacyHead& w = i < 2 ? hg : hg8;
        float term;
        if constexpr (kQ16) {
          const std::int32_t* qs = col.qsum16(l);
          term = q8mma::legacy_term_q16(w, Tr::kMin, col.d(l)[b], 256 * c[i] + cl[i],
                                        qs[2 * b] + qs[2 * b + 1]);
        } else {
          const float sa = Tr::kMin ? col.s(l)[b] : 0.0f;
          term = q8mma::legacy_term_q8(w, Tr::kMin, col.d(l)[b], sa, c[i]);
        }
        acc[nt][i] = q8::fadd(acc[nt][i], term);
      }
    }
  } else if constexpr (kQ16 && kFam == Family::kK4) {
#pragma unroll
    for (int s = 0; s < 8; ++s) {
      std::uint32_t a[4];
      a_fragment<T>(a, rg, rg8, wb, s, t);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const auto* q = reinterpret_cast<const std::int8_t*>(bcol[nt]);
        const std::int64_t e = kE * b + 32 * s;
        int c[4], cl[4];
        sub_product<T>(c, a, q, e, t);
        sub_product<T>(cl, a, q + l.lo_off, e, t);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const Cols col{ccol[nt][i & 1]};
          const std::int64_t ab = 8 * b + s;
          const std::int32_t* qs = col.qsum16(l);
          const float term = q8mma::k4_term_q16(i < 2 ? hg : hg8, s, col.d(l)[ab],
                                                256 * c[i] + cl[i], qs[2 * ab] + qs[2 * ab + 1]);
          acc[nt][i] = q8::fadd(acc[nt][i], term);
        }
      }
    }
  } else if constexpr (kQ16) {  // Q6_K
#pragma unroll
    for (int g = 0; g < 8; ++g) {
      std::uint32_t a0[4], a1[4];
      a_fragment<T>(a0, rg, rg8, wb, 2 * g, t);
      a_fragment<T>(a1, rg, rg8, wb, 2 * g + 1, t);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const auto* q = reinterpret_cast<const std::int8_t*>(bcol[nt]);
        const std::int64_t e = kE * b + 32 * g;
        int h0[4], l0[4], h1[4], l1[4];
        sub_product<T>(h0, a0, q, e, t);
        sub_product<T>(l0, a0, q + l.lo_off, e, t);
        sub_product<T>(h1, a1, q, e + 16, t);
        sub_product<T>(l1, a1, q + l.lo_off, e + 16, t);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const Cols col{ccol[nt][i & 1]};
          const float term = q8mma::q6_term_q16(i < 2 ? hg : hg8, g, col.d(l)[8 * b + g],
                                                256 * h0[i] + l0[i], 256 * h1[i] + l1[i]);
          acc[nt][i] = q8::fadd(acc[nt][i], term);
        }
      }
    }
  } else {  // Q4_K, Q5_K, Q6_K with Q8_K activations: one term a super-block
    int isum[NT][4] = {};
    scaled_isums<T, NT>(isum, rg, rg8, wb, b, t, bcol, [&](int s, int row8) {
      if constexpr (kFam == Family::kK4) {
        return q8mma::k4_scale(row8 != 0 ? hg8 : hg, s);
      } else {
        return q8mma::q6_scale(row8 != 0 ? hg8 : hg, s);
      }
    });
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const Cols col{ccol[nt][i & 1]};
        const auto& w = i < 2 ? hg : hg8;
        float term;
        if constexpr (kFam == Family::kK4) {
          const std::int16_t* bs = col.bsums(l) + 16 * b;
          int msum = 0;
#pragma unroll
          for (int g = 0; g < 8; ++g) msum += q8mma::k4_min(w, g) * (bs[2 * g] + bs[2 * g + 1]);
          term = q8mma::k4_term_q8(w, col.d(l)[b], isum[nt][i], msum);
        } else {
          term = q8mma::q6_term_q8(w, col.d(l)[b], isum[nt][i]);
        }
        acc[nt][i] = q8::fadd(acc[nt][i], term);
      }
    }
  }
}

// The activation rows a lane reads: B's column g of each column tile (bcol) and C's columns
// 2t, 2t + 1 (ccol). Rows past the end are clamped to the last one: their outputs are
// computed, never stored (each output depends on its own weight and activation rows only).
template <int NT>
struct ColRows {
  const std::uint8_t* b[NT];
  const std::uint8_t* c[NT][2];
  __device__ ColRows(const MmaParams& p, std::int64_t n0, int g, int t) {
    const std::size_t arb = p.layout.row_bytes;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      const std::int64_t nb0 = n0 + 8 * nt;
      b[nt] = p.act + static_cast<std::size_t>(min(nb0 + g, p.rows - 1)) * arb;
      c[nt][0] = p.act + static_cast<std::size_t>(min(nb0 + 2 * t, p.rows - 1)) * arb;
      c[nt][1] = p.act + static_cast<std::size_t>(min(nb0 + 2 * t + 1, p.rows - 1)) * arb;
    }
  }
};

// Stores a warp's 16 × 8·NT outputs (rows j0.., columns n0..; lane g, t).
template <bool kGated, int kM, int NT>
__device__ __forceinline__ void store_tile(const MmaParams& p, std::int64_t j0, std::int64_t n0,
                                           int g, int t, const float (&out)[kM][NT][4]) {
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::int64_t j = j0 + g + 8 * (i >> 1), n = n0 + 8 * nt + 2 * t + (i & 1);
      if (j < p.ne1 && n < p.rows) store_output<kGated>(p, n, j, out[0][nt][i], out[kM - 1][nt][i]);
    }
  }
}

// f(m, nt, i) for every accumulator of a warp: matrix m, column tile nt, C position i.
template <int kM, int NT, typename F>
__device__ __forceinline__ void each_output(F f) {
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int i = 0; i < 4; ++i) f(m, nt, i);
    }
  }
}

// The sums of part `part` of the tile's outputs (rows jg, jg8 of each matrix): its blocks'
// unit terms added in K order from 0.
template <GgmlType T, bool kQ16, int NT, int kM>
__device__ __forceinline__ void part_sums(float (&acc)[kM][NT][4], const MmaParams& p, int part,
                                          std::int64_t jg, std::int64_t jg8, int t,
                                          const ColRows<NT>& cols) {
  const std::int64_t nb = p.layout.k / q8mma::MmaTraits<T>::kBlockElems;
  const std::int64_t b_end = q8mma::part_begin(nb, p.parts, part + 1);
  for (std::int64_t b = q8mma::part_begin(nb, p.parts, part); b < b_end; ++b) {
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      const std::uint8_t* rg = p.w[m] + static_cast<std::size_t>(jg) * p.row_bytes;
      const std::uint8_t* rg8 = p.w[m] + static_cast<std::size_t>(jg8) * p.row_bytes;
      block_step<T, kQ16, NT>(acc[m], rg, rg8, b, b, t, cols.b, cols.c, p.layout);
    }
  }
}

// One warp a part: the parts of a tile meet in shared memory.
template <GgmlType T, bool kQ16, int NT, bool kGated>
__global__ void __launch_bounds__(kMaxParts * 32) q8_mma_kernel(MmaParams p) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int kM = kGated ? 2 : 1;
  constexpr int kCols = 8 * NT;
  __shared__ float red[kMaxParts][kM][16][kCols];
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int part = static_cast<int>(threadIdx.x) >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t j0 = static_cast<std::int64_t>(blockIdx.y) * 16;
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.x) * kCols;
  const std::int64_t jg = min(j0 + g, p.ne1 - 1), jg8 = min(j0 + g + 8, p.ne1 - 1);
  const ColRows<NT> cols(p, n0, g, t);
  float acc[kM][NT][4] = {};
  part_sums<T, kQ16, NT, kM>(acc, p, part, jg, jg8, t, cols);
  each_output<kM, NT>([&](int m, int nt, int i) {
    red[part][m][g + 8 * (i >> 1)][8 * nt + 2 * t + (i & 1)] = acc[m][nt][i];
  });
  __syncthreads();
  for (int idx = static_cast<int>(threadIdx.x); idx < 16 * kCols;
       idx += static_cast<int>(blockDim.x)) {
    const int r = idx & 15, c = idx >> 4;
    const std::int64_t j = j0 + r, n = n0 + c;
    if (j >= p.ne1 || n >= p.rows) continue;
    float v[kM];
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      float s = red[0][m][r][c];
      for (int q = 1; q < p.parts; ++q) s = __fadd_rn(s, red[q][m][r][c]);
      v[m] = s;
    }
    store_output<kGated>(p, n, j, v[0], v[kM - 1]);
  }
}

// Wide tiles for large batches: kWideWarps warps a block, each 16 weight rows of the same
// 8·NT activation rows (which they read at the same time: L1 serves the repeats), each warp
// over all of K — its parts in turn, every part's sum started from 0 and added to the running
// output in part order: the same float steps as q8_mma_kernel, so the same bits.
constexpr int kWideWarps = 4;

template <GgmlType T, bool kQ16, int NT, bool kGated>
__global__ void __launch_bounds__(kWideWarps * 32) q8_mma_wide_kernel(MmaParams p) {
  pdl_wait();
  pdl_launch_dependents();
  constexpr int kM = kGated ? 2 : 1;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t j0 = (static_cast<std::int64_t>(blockIdx.y) * kWideWarps + warp) * 16;
  if (j0 >= p.ne1) return;  // no block-wide barrier below
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.x) * 8 * NT;
  const std::int64_t jg = min(j0 + g, p.ne1 - 1), jg8 = min(j0 + g + 8, p.ne1 - 1);
  const ColRows<NT> cols(p, n0, g, t);
  float out[kM][NT][4] = {};
  for (int part = 0; part < p.parts; ++part) {
    float acc[kM][NT][4] = {};
    part_sums<T, kQ16, NT, kM>(acc, p, part, jg, jg8, t, cols);
    each_output<kM, NT>([&](int m, int nt, int i) {
      out[m][nt][i] = part == 0 ? acc[m][nt][i] : __fadd_rn(out[m][nt][i], acc[m][nt][i]);
    });
  }
  store_tile<kGated, kM, NT>(p, j0, n0, g, t, out);
}

// Staged wide tiles: the wide tiles' rows, columns and order, but the block's 64 weight rows
// are first copied into shared memory a stage at a time (256 elements: one K-quant super-block
// or eight legacy blocks) by all its threads, with loads next to each other (16, 4 or 2 bytes
// by alignment), and the fragments built from there. block_step runs on the staged copy: the
// same float steps in the same order as the wide tiles, so the same bits.
constexpr int kStageElems = 256;

// Widest copy unit (16, 4 or 2 bytes) that divides every address and length of a stage.
__device__ __forceinline__ int copy_width(const MmaParams& p, int kM, std::size_t offset,
                                          int bytes) {
  std::size_t bits = p.row_bytes | offset | static_cast<std::size_t>(bytes);
  for (int m = 0; m < kM; ++m) bits |= reinterpret_cast<std::uintptr_t>(p.w[m]);
  return bits % 16 == 0 ? 16 : (bits % 4 == 0 ? 4 : 2);
}

template <GgmlType T, bool kQ16, int NT, bool kGated>
__global__ void __launch_bounds__(kWideWarps * 32) q8_mma_staged_kernel(MmaParams p) {
  pdl_wait();
  pdl_launch_dependents();
  using Tr = q8mma::MmaTraits<T>;
  constexpr int kM = kGated ? 2 : 1;
  constexpr int kRows = 16 * kWideWarps;
  constexpr int kG = kStageElems / Tr::kBlockElems;  // blocks a stage
  constexpr int kStride = (kG * Tr::kBlockBytes + 15) / 16 * 16;
  __shared__ __align__(16) std::uint8_t sw[kM][kRows][kStride];
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t jb = static_cast<std::int64_t>(blockIdx.y) * kRows;
  const std::int64_t j0 = jb + 16 * warp;
  const bool live = j0 < p.ne1;  // warps past the last row only copy (barriers below)
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.x) * 8 * NT;
  const ColRows<NT> cols(p, n0, g, t);
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;
  float out[kM][NT][4] = {};
  float acc[kM][NT][4] = {};
  int part = 0;
  std::int64_t part_end = q8mma::part_begin(nb, p.parts, 1);
  for (std::int64_t b0 = 0; b0 < nb; b0 += kG) {
    const int gn = static_cast<int>(min(static_cast<std::int64_t>(kG), nb - b0));
    const int bytes = gn * Tr::kBlockBytes;
    const std::size_t offset = static_cast<std::size_t>(b0) * Tr::kBlockBytes;
    const int w = copy_width(p, kM, offset, bytes);
    const int units = bytes / w;
    __syncthreads();  // the previous stage is consumed
    for (int m = 0; m < kM; ++m) {
      for (int idx = static_cast<int>(threadIdx.x); idx < kRows * units;
           idx += static_cast<int>(blockDim.x)) {
        const int r = idx / units, c = idx % units;
        const std::int64_t row = min(jb + r, p.ne1 - 1);
        const std::uint8_t* src =
            p.w[m] + static_cast<std::size_t>(row) * p.row_bytes + offset + c * w;
        std::uint8_t* dst = &sw[m][r][c * w];
        if (w == 16) {
          *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
        } else if (w == 4) {
          *reinterpret_cast<std::uint32_t*>(dst) = *reinterpret_cast<const std::uint32_t*>(src);
        } else {
          *reinterpret_cast<std::uint16_t*>(dst) = *reinterpret_cast<const std::uint16_t*>(src);
        }
      }
    }
    __syncthreads();
    if (!live) continue;
#pragma unroll 1
    for (int bi = 0; bi < gn; ++bi) {
      const std::int64_t b = b0 + bi;
      if (b == part_end) {  // a part ends: its sum joins the output, in part order
        each_output<kM, NT>([&](int m, int nt, int i) {
          out[m][nt][i] = part == 0 ? acc[m][nt][i] : __fadd_rn(out[m][nt][i], acc[m][nt][i]);
          acc[m][nt][i] = 0.0f;
        });
        ++part;
        part_end = q8mma::part_begin(nb, p.parts, part + 1);
      }
#pragma unroll
      for (int m = 0; m < kM; ++m) {
        block_step<T, kQ16, NT>(acc[m], &sw[m][16 * warp + g][0], &sw[m][16 * warp + g + 8][0], bi,
                                b, t, cols.b, cols.c, p.layout);
      }
    }
  }
  if (!live) return;
  each_output<kM, NT>([&](int m, int nt, int i) {
    out[m][nt][i] = part == 0 ? acc[m][nt][i] : __fadd_rn(out[m][nt][i], acc[m][nt][i]);
  });
  store_tile<kGated, kM, NT>(p, j0, n0, g, t, out);
}

// Vec kernel: one warp a weight row (kVecWarps a block), up to kVecRows activation rows a
// block (more rows take more blocks along y).
// kStage (one activation row whose bytes fit kVecStageBytes): the row is first copied into
// shared memory by the block (kVecStageWarps warps), so the dp4a chains read it from there
// rather than from L2, where the streaming weights keep evicting it from L1.
constexpr int kVecWarps = 4;
constexpr int kVecRows = 4;
constexpr int kVecStageWarps = 8;
constexpr std::size_t kVecStageBytes = 48 * 1024;

// wide (Q4_K / Q5_K weights with Q16 activations, weights 16-byte aligned): each unit's
// weight and activation bytes through 16-byte loads (q8mma::k4_unit_term16; the same bits).
template <GgmlType T, bool kQ16, int R, bool kGated, bool kStage>
__global__ void __launch_bounds__(kVecStageWarps * 32) q8_mma_vec_kernel(MmaParams p, bool wide) {
  using Tr = q8mma::MmaTraits<T>;
  constexpr bool kK4Wide = kQ16 && q8mma::family<T>() == Family::kK4;
  constexpr int kM = kGated ? 2 : 1;
  constexpr int kU = q8mma::units_per_block<T, kQ16>();
  constexpr int kWarps = kStage ? kVecStageWarps : kVecWarps;
  static_assert(!kStage || R == 1, "one staged activation row");
  extern __shared__ __align__(16) std::uint8_t vec_act[];
  prefetch_weight_rows<kGated>(
      p, static_cast<std::int64_t>(blockIdx.x) * kWarps + (static_cast<int>(threadIdx.x) >> 5),
      static_cast<int>(threadIdx.x) & 31);
  pdl_wait();
  pdl_launch_dependents();
  if constexpr (kStage) {
    const auto* src = reinterpret_cast<const uint4*>(p.act);
    auto* dst = reinterpret_cast<uint4*>(vec_act);
    for (std::size_t i = threadIdx.x; i < p.layout.row_bytes / 16; i += blockDim.x) dst[i] = src[i];
    __syncthreads();
  }
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const std::int64_t j =
      static_cast<std::int64_t>(blockIdx.x) * kWarps + (static_cast<int>(threadIdx.x) >> 5);
  if (j >= p.ne1) return;  // whole warps; no block-wide barrier below
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.y) * R;
  // Lanes a part (a power of two, L · parts <= 32); lanes of groups past the last part idle.
  const int L = p.parts == 1 ? 32 : (p.parts == 2 ? 16 : (p.parts <= 4 ? 8 : 4));
  const int part = lane / L, sub = lane % L;
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;
  const bool live = part < p.parts;
  const std::int64_t u0 = live ? kU * q8mma::part_begin(nb, p.parts, part) : 0;
  const std::int64_t u1 = live ? kU * q8mma::part_begin(nb, p.parts, part + 1) : 0;
  const std::int64_t most = kU * ((nb + p.parts - 1) / p.parts);  // units of the largest part
  // This warp's weight row of each matrix (a Q/K/V stack: its row of the matrix holding j).
  const std::uint8_t* wrow[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) wrow[m] = weight_row<kGated>(p, m, j);
  const std::uint8_t* act[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    act[r] = kStage
                 ? vec_act
                 : p.act + static_cast<std::size_t>(min(n0 + r, p.rows - 1)) * p.layout.row_bytes;
  }
  // Units a lane computes before its group adds them: more loads in flight at one row, fewer
  // with more activation rows (registers).
  constexpr int kW = R == 1 ? 4 : (R == 2 ? 2 : 1);
  // This warp's terms of one pass, [m][r][part][w][i]: part q's kW·L terms in unit order.
  __shared__ float vec_terms[kWarps][kM * R * 32 * kW];
  float* terms = vec_terms[threadIdx.x >> 5];
  float acc[kM][R] = {};
  for (std::int64_t base = 0; base < most; base += kW * L) {
    float term[kW][kM][R] = {};
#pragma unroll
    for (int w = 0; w < kW; ++w) {
      const std::int64_t u = u0 + base + w * L + sub;
      if (u < u1) {
        const std::int64_t b = u / kU;
        const int g = static_cast<int>(u % kU);
        if constexpr (kK4Wide) {
          if (wide) {
            q8mma::K4Act16 a[R];
#pragma unroll
            for (int r = 0; r < R; ++r) a[r] = q8mma::k4_act16(act[r], p.layout, b, g);
#pragma unroll
            for (int m = 0; m < kM; ++m) {
              const std::uint8_t* row = wrow[m];
              const q8mma::K4Head h = Tr::head(row, b);
              std::uint32_t wv[8];
              q8mma::k4_words16<T>(row, b, g, wv);
#pragma unroll
              for (int r = 0; r < R; ++r) term[w][m][r] = q8mma::k4_unit_term16(h, g, wv, a[r]);
            }
            continue;
          }
        }
#pragma unroll
        for (int m = 0; m < kM; ++m) {
#pragma unroll
          for (int r = 0; r < R; ++r) {
            term[w][m][r] = q8mma::unit_term<T, kQ16>(wrow[m], b, g, act[r], p.layout);
          }
        }
      }
    }
    // The group's terms in K order (lane i of the group holds unit base + w·L + i), added from
    // shared memory by the lane that owns the product: a 32-long shuffle chain per w would cost
    // four times the issue slots of these loads and adds.
    __syncwarp();
#pragma unroll
    for (int w = 0; w < kW; ++w) {
#pragma unroll
      for (int m = 0; m < kM; ++m) {
#pragma unroll
        for (int r = 0; r < R; ++r)
          terms[((m * R + r) * 32 + part * L) * kW + w * L + sub] = term[w][m][r];
      }
    }
    __syncwarp();
    if (live) {  // output o = m·R + r of the group: summed by its lane o % L, the chains side by
                 // side
      const int n = static_cast<int>(min(static_cast<std::int64_t>(kW * L), u1 - u0 - base));
#pragma unroll
      for (int m = 0; m < kM; ++m) {
#pragma unroll
        for (int r = 0; r < R; ++r) {
          if ((m * R + r) % L != sub) continue;
          const float* t = &terms[((m * R + r) * 32 + part * L) * kW];
          for (int i = 0; i < n; ++i) acc[m][r] = q8::fadd(acc[m][r], t[i]);
        }
      }
    }
  }
  // The parts' sums in part order (every lane ends with the same values; a group's sum of
  // output o is in its lane o % L).
  float out[kM][R];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const int o = (m * R + r) % L;
      out[m][r] = __shfl_sync(0xffffffffu, acc[m][r], o);
      for (int q = 1; q < p.parts; ++q) {
        out[m][r] = __fadd_rn(out[m][r], __shfl_sync(0xffffffffu, acc[m][r], q * L + o));
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (lane == r && n0 + r < p.rows) store_output<kGated>(p, n0 + r, j, out[0][r], out[kM - 1][r]);
  }
}

// -2: not set by set_q8_mma_kernel; then ZINFER_MMA_KERNEL (a measurement switch: the same
// bits whichever kernel runs): split, wide, vec, staged, tile, lane, lane-tile or lane-stage;
// unset: by shape (-1).
std::atomic<int> g_kernel{-2};

int kernel_setting() {
  const int v = g_kernel.load(std::memory_order_relaxed);
  if (v != -2) return v;
  // kMmaSplit ... kMmaTileParts
  static const int env = env_choice("ZINFER_MMA_KERNEL",
                                    {"split", "wide", "vec", "staged", "tile", "lane", "lane-tile",
                                     "lane-stage", "vec-block", "tile-parts"},
                                    -1, -1);
  return env;
}

// Whether the lane kernel stages its one-row products' weight rows: ZINFER_MMA_STAGE_W=1 (a
// measurement switch), or always with lane-stage.
bool stage_w_wanted() {
  static const bool env = env_flag("ZINFER_MMA_STAGE_W", false);
  return env || kernel_setting() == kMmaLaneStage;
}

// Whether lane-stage gives one activation row of k columns (the Q16 layout, the larger) times
// weights of type t to the lane kernel: where the block's weight rows fit its staging.
bool lane_stage_fits(GgmlType t, std::int64_t k, bool gated) {
  const std::int64_t block = quant::traits(t).block_size;
  return q8_mma_lane_stage_w_fits(q8::q16_act_layout(k).row_bytes, quant::row_size(t, k),
                                  q8mma::mma_parts(k / block, static_cast<int>(block)), gated);
}

template <bool kGated>
bool launch_vec(GgmlType type, const MmaParams& p, cudaStream_t stream) {
  // One Q16 row times Q4_K / Q5_K (and Q6_K) weights: the vec-block kernel by default (an H100,
  // 2026-12-06: 7B batch 1 +23%); times Q8_0 / Q4_0: the lane-a-block kernel;
  // ZINFER_MMA_KERNEL=vec keeps the vec kernel.
  const int setting = kernel_setting();
  if ((setting == -1 || setting == kMmaVecBlock) &&
      (launch_q8_mma_vecblock(type, p, kGated, stream) ||
       launch_q8_mma_vecleg(type, p, kGated, stream))) {
    return true;
  }
  const int r = p.rows == 1 ? 1 : (p.rows == 2 ? 2 : kVecRows);
  const bool stage = p.rows == 1 && p.layout.row_bytes <= kVecStageBytes;
  const dim3 grid(static_cast<unsigned>((p.ne1 + kVecWarps - 1) / kVecWarps),
                  static_cast<unsigned>((p.rows + r - 1) / r));
  const bool wide = mma_args(p, kGated).wide_loads;
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    auto go = [&](auto q16, auto rc) {
      launch_pdl(q8_mma_vec_kernel<T, decltype(q16)::value, decltype(rc)::value, kGated, false>,
                 grid, dim3(kVecWarps * 32), 0, stream, p, wide);
    };
    auto with_r = [&](auto q16) {
      if (stage) {
        const dim3 sgrid(static_cast<unsigned>((p.ne1 + kVecStageWarps - 1) / kVecStageWarps));
        // Beside its static terms, up to kVecStageBytes of dynamic shared memory: past the
        // default 48 KB in all, so opted in once per kernel (a failure shows as the launch's).
        static const bool opted_in =
            cudaFuncSetAttribute(q8_mma_vec_kernel<T, decltype(q16)::value, 1, kGated, true>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(kVecStageBytes)) == cudaSuccess;
        (void)opted_in;
        launch_pdl(q8_mma_vec_kernel<T, decltype(q16)::value, 1, kGated, true>, sgrid,
                   dim3(kVecStageWarps * 32), p.layout.row_bytes, stream, p, wide);
      } else if (r == 1) {
        go(q16, std::integral_constant<int, 1>{});
      } else if (r == 2) {
        go(q16, std::integral_constant<int, 2>{});
      } else {
        go(q16, std::integral_constant<int, kVecRows>{});
      }
    };
    if (p.layout.q16) {
      with_r(std::true_type{});
    } else {
      with_r(std::false_type{});
    }
  });
}

// Whether the staged tiles split over K take p (their scratch aside): forced, or by shape past
// four rows where the whole tiles make fewer than 132 blocks (a wave) — the 7B shape's Q, K, V,
// O and down products at 32 sequences, which the split kernel's 16-row blocks took at 0.2 TB/s
// (each block re-reading all 32 activation rows for its 16 weight rows). Past 8 rows with the
// 8- and 16-column tiles (q8_mma_small_tiles: at 8 rows the split kernel measured faster);
// with them off, past 16 rows only: the 32-column tiles at 8 rows wasted three quarters of
// their products (an H100, 2026-12-06: 0.5B 8 sequences 4,588 -> 2,816 tok/s on them).
//
// Past 16 rows also where they make fewer than three waves and the parts' sums take no more
// bytes than the product's weights: the 7B gate/up tiles at 32 rows (296 blocks, ~9 warps an
// SM) split, +18% a step on an H200; not the 0.5B gate/up at 128 rows (35 MB of sums for 6 MB
// of weights: -3% split). kernels/README.md has the profile. ZINFER_TILE_PARTS_WAVES=N (a
// measurement switch, 1 to 16) replaces that rule: split below N waves (N = 1: the old rule).
int tile_parts_waves() {
  static const int env = [] {
    const char* e = std::getenv("ZINFER_TILE_PARTS_WAVES");
    const int v = e != nullptr ? std::atoi(e) : 0;
    return v >= 1 && v <= 16 ? v : 0;
  }();
  return env;
}

bool tile_parts_shape(const MmaParams& p, bool gated) {
  const int ks = kernel_setting();
  if (p.src != nullptr || p.parts < 2 || !q8_mma_tile_fits(p, gated)) return false;
  if (ks == kMmaTileParts) return true;
  const std::int64_t min_rows = q8_mma_small_tiles() == 2 ? 8 : 16;
  if (ks >= 0 || p.rows <= min_rows) return false;
  const std::int64_t blocks = q8_mma_tile_blocks(p, gated);
  if (tile_parts_waves() > 0) return blocks < 132 * tile_parts_waves();
  if (blocks < 132) return true;
  const std::int64_t sum_bytes = q8_mma_tile_parts_floats(p, gated) * 4;
  const auto w_bytes = static_cast<std::int64_t>(p.row_bytes) * p.ne1 * (gated ? 2 : 1);
  return p.rows > 16 && blocks < 3 * 132 && sum_bytes <= w_bytes;
}

template <bool kGated>
bool launch_typed(GgmlType type, const MmaParams& p, cudaStream_t stream) {
  // Gated tiles hold two matrices' accumulators: at most two column tiles (four spill).
  const int nt = p.rows <= 8 ? 1 : (p.rows <= 16 || kGated ? 2 : 4);
  const std::int64_t cols = 8 * nt;
  const std::int64_t col_tiles = (p.rows + cols - 1) / cols;
  // Wide tiles once the batch fills whole column tiles and there are enough blocks to fill
  // the GPU without splitting K (about two per SM on an H200).
  const std::int64_t wide_blocks = (p.ne1 + 16 * kWideWarps - 1) / (16 * kWideWarps) * col_tiles;
  int ks = kernel_setting();
  const bool stage_w = stage_w_wanted();
  if (p.src != nullptr) return launch_q8_mma_lane(type, p, kGated, stream, stage_w);  // quantized
  if (ks == kMmaLaneStage) {  // one row with staged weights where they fit, else by shape
    if (p.rows == 1 && lane_stage_fits(type, p.layout.k, kGated)) {
      return launch_q8_mma_lane(type, p, kGated, stream, true);
    }
    ks = -1;
  }
  if (ks == kMmaLaneTile) {  // the by-shape choice with the kernels still to be measured
    if (p.rows <= kVecRows) return launch_q8_mma_lane(type, p, kGated, stream, stage_w);
    if (q8_mma_tile_fits(p, kGated) && q8_mma_tile_blocks(p, kGated) >= 132) {
      return launch_q8_mma_tile(type, p, kGated, stream);
    }
    ks = -1;
  }
  if (ks == kMmaTile) {  // opt-in until measured; Q8 activations take the choice by shape
    if (q8_mma_tile_fits(p, kGated)) return launch_q8_mma_tile(type, p, kGated, stream);
    ks = -1;
  }
  if (ks == kMmaLane) return launch_q8_mma_lane(type, p, kGated, stream, stage_w);  // opt-in
  if (ks == kMmaVecBlock) ks = p.rows <= kVecRows ? kMmaVec : -1;  // launch_vec picks it
  if (ks == kMmaVec || (ks < 0 && p.rows <= kVecRows)) return launch_vec<kGated>(type, p, stream);
  // By shape past four rows: the staged tiles split over K where their blocks make fewer than
  // tile_parts_waves() waves (with the scratch for it), else whole where they make one (one
  // block an SM, as their shared memory allows) — on an H100 7B prefill +55%, 32 sequences +11%.
  if (tile_parts_shape(p, kGated) && p.part_ws != nullptr &&
      p.part_ws_floats >= q8_mma_tile_parts_floats(p, kGated)) {
    return launch_q8_mma_tile_parts(type, p, kGated, stream);
  }
  if (ks < 0 && q8_mma_tile_fits(p, kGated) && q8_mma_tile_blocks(p, kGated) >= 132) {
    return launch_q8_mma_tile(type, p, kGated, stream);
  }
  const bool staged = ks == kMmaStaged;  // opt-in until measured
  const bool wide = staged || ks == kMmaWide || (ks < 0 && wide_blocks >= 264);
  // Column tiles along x, the fastest-changing block index: the blocks resident at one time
  // share weight tiles (read from HBM once, then from L2) instead of each reading its own —
  // a 7B layer's matrices (~150 MB) do not stay in L2 for the next column tile.
  const dim3 grid(static_cast<unsigned>(col_tiles),
                  static_cast<unsigned>(wide ? (p.ne1 + 16 * kWideWarps - 1) / (16 * kWideWarps)
                                             : (p.ne1 + 15) / 16));
  const dim3 block(static_cast<unsigned>(wide ? 32 * kWideWarps : 32 * p.parts));
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    auto go = [&](auto q16, auto ntc) {
      constexpr bool kQ16 = decltype(q16)::value;
      constexpr int kNT = decltype(ntc)::value;
      if (staged) {
        launch_pdl(q8_mma_staged_kernel<T, kQ16, kNT, kGated>, grid, block, 0, stream, p);
      } else if (wide) {
        launch_pdl(q8_mma_wide_kernel<T, kQ16, kNT, kGated>, grid, block, 0, stream, p);
      } else {
        launch_pdl(q8_mma_kernel<T, kQ16, kNT, kGated>, grid, block, 0, stream, p);
      }
    };
    auto with_nt = [&](auto q16) {
      if (nt == 1) {
        go(q16, std::integral_constant<int, 1>{});
      } else if constexpr (kGated) {
        go(q16, std::integral_constant<int, 2>{});
      } else if (nt == 2) {
        go(q16, std::integral_constant<int, 2>{});
      } else {
        go(q16, std::integral_constant<int, 4>{});
      }
    };
    if (p.layout.q16) {
      with_nt(std::true_type{});
    } else {
      with_nt(std::false_type{});
    }
  });
}

std::string shape(const QuantMatrixView& w) {
  return "[" + std::to_string(w.ne1) + "," + std::to_string(w.ne0) + "] " +
         std::string(quant::type_name(w.type));
}

MmaParams params(const Q8Act& a, const QuantMatrixView& w) {
  MmaParams p;
  p.act = a.data;
  p.layout = a.layout;
  p.rows = a.rows;
  p.row_bytes = quant::row_size(w.type, w.ne0);
  p.ne1 = w.ne1;
  const std::int64_t block = quant::traits(w.type).block_size;
  p.parts = q8mma::mma_parts(w.ne0 / block, static_cast<int>(block));
  p.src = a.src;
  p.norm = a.norm;
  p.norm_w = a.norm_w;
  p.eps = a.eps;
  p.part_ws = a.part_ws;
  p.part_ws_floats = a.part_ws_floats;
  return p;
}

// The parameters of mats (2 or 3 plain products of a, one type and K) as one stack.
MmaParams stack_params(const Q8Act& a, const Q8MatvecOut* mats, int n_mats) {
  MmaParams p = params(a, mats[0].w);
  p.w[0] = static_cast<const std::uint8_t*>(mats[0].w.data);
  p.w[1] = p.w[0];
  p.n_stack = n_mats;
  for (int i = 0; i < n_mats; ++i) {
    p.stack_w[i] = static_cast<const std::uint8_t*>(mats[i].w.data);
    p.stack_out[i] = mats[i].out.data;
    p.stack_stride[i] = mats[i].out.stride;
    p.stack_bias[i] = mats[i].bias;
    p.stack_end[i] = (i == 0 ? 0 : p.stack_end[i - 1]) + mats[i].w.ne1;
  }
  p.ne1 = p.stack_end[n_mats - 1];
  return p;
}

// Whether mats (2 or 3 plain products of a, added to nothing) can run as one stack: each a
// product the tensor-core kernels take, all of one type and K, each output [a.rows, its ne1].
bool stackable(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate) {
  if (accumulate || n_mats < 2 || n_mats > 3) return false;
  for (int i = 0; i < n_mats; ++i) {
    if (!q8_mma_supported(a, mats[i].w) || mats[i].w.type != mats[0].w.type ||
        mats[i].w.ne0 != mats[0].w.ne0 || mats[i].out.rows != a.rows ||
        mats[i].out.cols != mats[i].w.ne1) {
      return false;
    }
  }
  return true;
}

// Whether Q, K and V go to the staged tiles as one launch (past kVecRows rows, by shape; p is
// then the stack's parameters). The tiles take it whole where their blocks make a wave, else
// split over K (when tile_parts_shape allows; its scratch the stack's), never the split or wide
// kernels, which read one matrix — so the stack is only built where the tiles will take it.
// Measured on an H100 (2026-12-06, bench_variants.sh, tok/s, three launches → one): 0.5B
// prefill 38,341 → 43,644, 16 / 32 / 128 sequences 7,539 → 8,760 / 12,954 → 14,605 / 25,596 →
// 27,214; 7B 16 / 32 / 128 sequences 2,390 → 2,512 / 2,715 → 2,899 / 4,769 → 4,866.
bool tile_stack_params(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate,
                       MmaParams& p) {
  if (kernel_setting() >= 0 || a.rows <= kVecRows || a.data == nullptr || a.src != nullptr ||
      !stackable(a, mats, n_mats, accumulate)) {
    return false;
  }
  p = stack_params(a, mats, n_mats);
  return q8_mma_tile_fits(p, false) &&
         (tile_parts_shape(p, false) || q8_mma_tile_blocks(p, false) >= 132);
}

}  // namespace

std::int64_t q8_mma_part_ws_floats(const Q8Act& a, const Q8MatvecOut* mats, int n_mats,
                                   bool accumulate) {
  MmaParams p;
  if (tile_stack_params(a, mats, n_mats, accumulate, p) && tile_parts_shape(p, false)) {
    return q8_mma_tile_parts_floats(p, false);
  }
  std::int64_t need = 0;
  for (int i = 0; i < n_mats; ++i) {
    const std::int64_t n = q8_mma_part_ws_floats(a, mats[i].w, false);
    need = n > need ? n : need;
  }
  return need;
}

std::int64_t q8_mma_part_ws_floats(const Q8Act& a, const QuantMatrixView& w, bool gated) {
  if (a.layout.k != w.ne0 || !q8_matvec_supported(w)) return 0;
  MmaParams p = params(a, w);
  p.w[0] = static_cast<const std::uint8_t*>(w.data);
  p.w[1] = p.w[0];
  return tile_parts_shape(p, gated) ? q8_mma_tile_parts_floats(p, gated) : 0;
}

namespace {

// Row tiles of 16 go along y (split and wide kernels), activation rows in fours along y (vec).
bool grid_fits(std::int64_t ne1, std::int64_t rows) {
  return (ne1 + 15) / 16 <= 65535 && (rows + kVecRows - 1) / kVecRows <= 65535;
}

}  // namespace

void set_q8_mma_kernel(int kernel) { g_kernel.store(kernel, std::memory_order_relaxed); }

bool q8_mma_enabled() {
  static const bool on = env_flag("ZINFER_MMA", false);
  return on;
}

bool q8_mma_prologue(std::int64_t rows, GgmlType w_type, std::int64_t k, bool gated) {
  const int ks = kernel_setting();
  return rows == 1 && (ks == kMmaLane || ks == kMmaLaneTile ||
                       (ks == kMmaLaneStage && q8::q8_dot_supported(w_type) &&
                        lane_stage_fits(w_type, k, gated)));
}

bool q8_mma_supported(const Q8Act& a, const QuantMatrixView& w) {
  // Quantized rows in a buffer, or one f32 row the lane kernel quantizes in each block.
  const bool source =
      a.data == nullptr && a.src != nullptr && q8_mma_prologue(a.rows, w.type, w.ne0, false) &&
      reinterpret_cast<std::uintptr_t>(a.src) % 16 == 0 && a.layout.row_bytes <= kMaxPrologueBytes;
  return (source || (a.data != nullptr && a.src == nullptr)) && a.rows >= 1 &&
         a.layout.k == w.ne0 && (a.layout.q16 || a.layout.type == q8_act_type(w.type)) &&
         q8_matvec_supported(w) && (source || reinterpret_cast<std::uintptr_t>(a.data) % 16 == 0) &&
         a.layout.row_bytes % 16 == 0 && w.ne1 >= 1 && grid_fits(w.ne1, a.rows);
}

Status launch_q8_mma(const Q8Act& a, const Q8MatvecOut& m, bool accumulate, cudaStream_t stream) {
  if (!q8_mma_supported(a, m.w) || m.out.rows != a.rows || m.out.cols != m.w.ne1) {
    return make_error(ErrorCode::kInferenceFailed,
                      "q8_mma: bad shapes (act [" + std::to_string(a.rows) + "," +
                          std::to_string(a.layout.k) + "], w " + shape(m.w) + ")");
  }
  MmaParams p = params(a, m.w);
  p.w[0] = static_cast<const std::uint8_t*>(m.w.data);
  p.out = m.out.data;
  p.out_stride = m.out.stride;
  p.bias = m.bias;
  p.accumulate = accumulate;
  if (!launch_typed<false>(m.w.type, p, stream)) {
    return make_error(ErrorCode::kInferenceFailed, "q8_mma: unsupported " + shape(m.w));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_mma<plain>");
  return ok_status();
}

Status launch_q8_mma_each(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate,
                          cudaStream_t stream) {
  {
    MmaParams p;
    if (tile_stack_params(a, mats, n_mats, accumulate, p) &&
        (!tile_parts_shape(p, false) ||
         (p.part_ws != nullptr && p.part_ws_floats >= q8_mma_tile_parts_floats(p, false)))) {
      if (!launch_typed<false>(mats[0].w.type, p, stream)) {
        return make_error(ErrorCode::kInferenceFailed, "q8_mma: unsupported " + shape(mats[0].w));
      }
      ZINFER_CUDA_LAUNCH_CHECK("q8_mma<tile stack>");
      return ok_status();
    }
  }
  const int ks = kernel_setting();
  const bool lane =
      ks == kMmaLane || (ks == kMmaLaneTile && a.rows <= kVecRows) ||
      (ks == kMmaLaneStage && a.rows == 1 && n_mats >= 1 && q8::q8_dot_supported(mats[0].w.type) &&
       lane_stage_fits(mats[0].w.type, mats[0].w.ne0, false));
  // The vec kernel where launch_typed would take it for each matrix (quantized rows, a few).
  const bool vec = !lane &&
                   (ks == kMmaVec || ks < 0 || ks == kMmaLaneStage || ks == kMmaVecBlock) &&
                   a.rows <= kVecRows && a.data != nullptr && a.src == nullptr;
  const bool one = (lane || vec) && stackable(a, mats, n_mats, accumulate);
  std::int64_t weight_rows = 0;  // of the whole stack
  for (int i = 0; one && i < n_mats; ++i) weight_rows += mats[i].w.ne1;
  if (!one || !grid_fits(weight_rows, a.rows)) {
    for (int i = 0; i < n_mats; ++i)
      ZINFER_RETURN_IF_ERROR(launch_q8_mma(a, mats[i], accumulate, stream));
    return ok_status();
  }
  const MmaParams p = stack_params(a, mats, n_mats);
  if (!(lane ? launch_q8_mma_lane(mats[0].w.type, p, false, stream, stage_w_wanted())
             : launch_vec<false>(mats[0].w.type, p, stream))) {
    return make_error(ErrorCode::kInferenceFailed, "q8_mma: unsupported " + shape(mats[0].w));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_mma<stack>");
  return ok_status();
}

Status launch_q8_mma_gated(MatrixView out, const Q8Act& a, const QuantMatrixView& gate,
                           const QuantMatrixView& up, GatedAct act, cudaStream_t stream) {
  if (!q8_mma_supported(a, gate) || up.type != gate.type || up.ne0 != gate.ne0 ||
      up.ne1 != gate.ne1 || out.rows != a.rows || out.cols != gate.ne1 ||
      reinterpret_cast<std::uintptr_t>(up.data) % 16 != 0) {
    return make_error(ErrorCode::kInferenceFailed,
                      "q8_mma_gated: bad shapes (gate " + shape(gate) + ", up " + shape(up) + ")");
  }
  MmaParams p = params(a, gate);
  p.w[0] = static_cast<const std::uint8_t*>(gate.data);
  p.w[1] = static_cast<const std::uint8_t*>(up.data);
  p.out = out.data;
  p.out_stride = out.stride;
  p.gact = act;
  if (!launch_typed<true>(gate.type, p, stream)) {
    return make_error(ErrorCode::kInferenceFailed, "q8_mma_gated: unsupported " + shape(gate));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_mma<gated>");
  return ok_status();
}

}  // namespace zinfer::cuda
