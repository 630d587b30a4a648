// What the tensor-core matmul kernels share between their .cu files (q8_mma.cu, the split,
// wide, staged and vec kernels; q8_mma_tile.cu, the staged Q16 tiles; q8_mma_lane.cu, one lane
// a part): the launch parameters, the one output epilogue, and the launchers of the kernels in
// their own files. Device code only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/quant/ggml_type.h"
#include "kernels/activation.cuh"
#include "kernels/fused_matvec.h"
#include "kernels/pdl.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_quantize.cuh"

namespace zinfer::cuda {

struct MmaParams {
  const std::uint8_t* act = nullptr;  // [rows] quantized activation rows in `layout`
  q8::Q8ActLayout layout;
  std::int64_t rows = 0;
  std::size_t row_bytes = 0;      // one weight row
  const std::uint8_t* w[2] = {};  // [ne1] weight rows (w[1]: the gated product's up matrix)
  std::int64_t ne1 = 0;
  float* out = nullptr;  // [rows, out_stride]
  std::int64_t out_stride = 0;
  const float* bias = nullptr;  // [ne1] or null
  bool accumulate = false;
  GatedAct gact = GatedAct::kSilu;
  int parts = 1;
  // One activation row quantized by each block itself (act null; the lane kernel only):
  // src [layout.k] f32, RMSNorm first when norm (weights norm_w or none, eps).
  const float* src = nullptr;
  bool norm = false;
  const float* norm_w = nullptr;
  float eps = 0.0f;
  // The staged tiles split over K (q8_mma_tile.cu): [parts][matrices][rows][ne1] partial sums.
  float* part_ws = nullptr;
  std::int64_t part_ws_floats = 0;
  // Plain products of up to three matrices in one launch (the lane kernel: Q, K and V): rows
  // [stack_end[m - 1], stack_end[m]) are matrix m's, written to its own output and bias;
  // ne1 = stack_end[n_stack - 1].
  int n_stack = 1;
  const std::uint8_t* stack_w[3] = {};
  float* stack_out[3] = {};
  std::int64_t stack_stride[3] = {};
  const float* stack_bias[3] = {};
  std::int64_t stack_end[3] = {};
};

// Output (n, j) from its sum(s): the epilogue of every kernel (v1: the up matrix's sum when
// gated).
template <bool kGated>
__device__ __forceinline__ void store_output(const MmaParams& p, std::int64_t n, std::int64_t j,
                                             float v0, float v1) {
  if (!kGated && p.n_stack > 1) {  // matrix m of a stack: its own output and bias
    const int m = q8mma::stack_matrix(p.stack_end, p.n_stack, j);
    const std::int64_t jm = j - (m == 0 ? 0 : p.stack_end[m - 1]);
    const float* b = p.stack_bias[m];
    p.stack_out[m][n * p.stack_stride[m] + jm] = b != nullptr ? __fadd_rn(v0, b[jm]) : v0;
    return;
  }
  float* o = p.out + n * p.out_stride + j;
  if constexpr (kGated) {
    const float a = p.gact == GatedAct::kSilu ? silu_f32(v0) : gelu_tanh_f32(v0);
    *o = a * v1;
  } else if (p.accumulate) {  // x + (sum + bias): the composed ops' order
    *o = __fadd_rn(*o, p.bias != nullptr ? __fadd_rn(v0, p.bias[j]) : v0);
  } else {
    *o = p.bias != nullptr ? __fadd_rn(v0, p.bias[j]) : v0;
  }
}

// Weight row j of matrix m (the gated pair: 0 gate, 1 up; a Q/K/V stack: the row of the matrix
// holding j).
template <bool kGated>
__device__ __forceinline__ const std::uint8_t* weight_row(const MmaParams& p, int m,
                                                          std::int64_t j) {
  if (!kGated && p.n_stack > 1) {
    const int s = q8mma::stack_matrix(p.stack_end, p.n_stack, j);
    return p.stack_w[s] +
           static_cast<std::size_t>(j - (s == 0 ? 0 : p.stack_end[s - 1])) * p.row_bytes;
  }
  return p.w[m] + static_cast<std::size_t>(j) * p.row_bytes;
}

// Before pdl_wait (pdl.h): weight row j of each matrix into L2, a 128-byte line per lane and
// step — weights are never written during a step, so they may be read while the previous
// kernel still runs. Rows past ne1: nothing.
template <bool kGated>
__device__ __forceinline__ void prefetch_weight_rows(const MmaParams& p, std::int64_t j, int lane) {
  if (j >= p.ne1) return;
  constexpr int kM = kGated ? 2 : 1;
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    const std::uint8_t* row = weight_row<kGated>(p, m, j);
    for (std::size_t off = static_cast<std::size_t>(lane) * 128; off < p.row_bytes; off += 32 * 128)
      prefetch_l2(row + off);
  }
}

// One mma.sync on this lane's fragments (PTX layout: q8_mma.cuh), C = 0.
__device__ __forceinline__ void mma_k32(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                        std::uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%10,%10,%10};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(0));
}
__device__ __forceinline__ void mma_k16(int (&c)[4], const std::uint32_t (&a)[4],
                                        std::uint32_t b0) {
  asm("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, "
      "{%7,%7,%7,%7};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(b0), "r"(0));
}

// What the thread contexts of the context-written kernel bodies (q8_mma_tile.cu,
// q8_mma_lane.cu) share: the thread and block indices, the dynamic shared memory, the block
// barrier, the epilogue and the asynchronous copies.
template <bool kGated>
struct BlockCtx {
  const MmaParams* p;
  std::uint8_t* sm;
  __device__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ std::int64_t block_x() const { return blockIdx.x; }
  __device__ std::int64_t block_y() const { return blockIdx.y; }
  __device__ std::uint8_t* smem() const { return sm; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void store(std::int64_t n, std::int64_t j, float v0, float v1) const {
    store_output<kGated>(*p, n, j, v0, v1);
  }
  // Asynchronous 16-byte copies global → shared (cp.async), committed and waited for in groups.
  __device__ void cp16(void* dst, const void* src) const {
    const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
  }
  __device__ void commit() const { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
  __device__ void wait_prior() const { asm volatile("cp.async.wait_group 1;\n" ::: "memory"); }
  __device__ void wait_all() const { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
  // The block's copy of activation row `row` (bytes of it) at dst, 16 bytes a thread at a time;
  // or, with a source row (p->src), its quantization — the bytes the quantize kernels write
  // (q8_quantize.cuh's pieces, a 128- or 256-thread block).
  __device__ void stage_act(std::uint8_t* dst, const std::uint8_t* row, std::size_t bytes) const {
    if (p->src == nullptr) {
      for (std::size_t i = 16 * threadIdx.x; i < bytes; i += 16 * blockDim.x)
        *reinterpret_cast<uint4*>(dst + i) = *reinterpret_cast<const uint4*>(row + i);
      return;
    }
    __shared__ double scratch[8];
    const q8::Q8ActLayout& l = p->layout;
    const float s =
        p->norm ? q8::rms_scale(q8::rms_sum_squares(p->src, l.k, scratch), l.k, p->eps) : 1.0f;
    const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
    const int warps = static_cast<int>(blockDim.x) / 32;
    for (std::int64_t g = warp; g < q8::quant_groups(l.k); g += warps) {
      if (l.q16) {
        q8::quantize_group<q8::kQ16>(p->src, p->norm, s, p->norm_w, lane, l, dst, g);
      } else if (l.type == quant::GgmlType::kQ8_K) {
        q8::quantize_group<q8::kQ8K>(p->src, p->norm, s, p->norm_w, lane, l, dst, g);
      } else {
        q8::quantize_group<q8::kQ8Small>(p->src, p->norm, s, p->norm_w, lane, l, dst, g);
      }
    }
  }
};

// Whether q is 16-byte aligned (16-byte and cp.async loads need it).
inline bool aligned16(const void* q) { return reinterpret_cast<std::uintptr_t>(q) % 16 == 0; }

// Whether every matrix of p (the gated pair's, a stack's) starts 4-byte aligned and its rows
// 2-byte aligned: what the few-row kernels' aligned 4-byte loads joined by funnel shifts need
// (Q6_K's 210-byte and the legacy types' blocks).
inline bool rows_aligned2(const MmaParams& p, bool gated) {
  auto a4 = [](const void* q) { return reinterpret_cast<std::uintptr_t>(q) % 4 == 0; };
  bool ok = a4(p.w[0]) && (!gated || a4(p.w[1])) && p.row_bytes % 2 == 0;
  for (int m = 0; m < p.n_stack && p.n_stack > 1; ++m) ok = ok && a4(p.stack_w[m]);
  return ok;
}

// The context-written kernels' view of p (q8mma::MmaArgs).
inline q8mma::MmaArgs mma_args(const MmaParams& p, bool gated) {
  q8mma::MmaArgs a;
  a.act = p.act;
  a.layout = p.layout;
  a.rows = p.rows;
  a.w[0] = p.w[0];
  a.w[1] = p.w[1];
  a.row_bytes = p.row_bytes;
  a.ne1 = p.ne1;
  a.parts = p.parts;
  a.wide_loads = aligned16(p.w[0]) && (!gated || aligned16(p.w[1])) && p.row_bytes % 16 == 0;
  a.n_stack = p.n_stack;
  for (int m = 0; m < p.n_stack && p.n_stack > 1; ++m) {
    a.stack[m] = p.stack_w[m];
    a.stack_end[m] = p.stack_end[m];
    a.wide_loads = a.wide_loads && aligned16(p.stack_w[m]);
  }
  return a;
}

// Whether the staged Q16 tiles take this product (Q16 activations, K a whole number of 32s,
// weights 16-byte aligned, grid within limits).
bool q8_mma_tile_fits(const MmaParams& p, bool gated);

// How the staged tiles take 5 to 16 activation rows (ZINFER_TILE_SMALL, a measurement switch:
// the same bits whichever): 2 (default) their 8- and 16-column shapes where those make a wave,
// and past 8 rows the same split over K where they do not; 1 those shapes only where they make
// a wave (the split kernel elsewhere); 0 as before them — 32-column tiles where those make a
// wave, else the split kernel. The split kernel's blocks of 16 weight rows each re-read every
// activation row (at the 7B shape and 16 sequences, 32 bytes of Q16 activations a K element
// for 9 of weights), and 32-column tiles at 8 rows multiply three quarters padding. Measured
// (an H100, 2026-12-06, one run, tok/s for 0 / 1 / tiles split over K from 5 rows): 7B 8
// sequences 816 / 1,488 / 1,052, 16 sequences 1,250 / 1,683 / 2,430; 0.5B 8 sequences 4,652 /
// 4,972 / 4,570, 16 sequences 7,444 / 7,606 / 8,547 — hence the split over K past 8 rows only.
int q8_mma_small_tiles();

// The staged tiles' shape for a product: nt 8-column mma tiles a warp (1 up to 8 activation
// rows, 2 up to 16, else 4), cw warps across the activation rows (2 past 32 rows), rf 16-row
// fragments a warp (a block has 64·rf weight rows); with ZINFER_TILE_NT2, nt 2 and cw 2 where
// they would be 4 and 1.
struct TilePick {
  int nt = 4, cw = 1, rf = 1;
};
TilePick q8_mma_tile_pick(const MmaParams& p, bool gated);

// ZINFER_TILE_NT2=1 (a measurement switch; the same bits): the 32-column tiles as two
// warp-columns of two 8-column mma tiles (nt 2, cw 2) instead of one of four (q8_mma_tile_nt2.cu).
bool q8_mma_tile_nt2();

// Blocks the staged Q16 tiles launch for this product (the shape the launcher picks).
std::int64_t q8_mma_tile_blocks(const MmaParams& p, bool gated);

// Launches the tiles of 8 or 16 columns (t.nt 1 or 2; q8_mma_tile_small.cu), whole or split
// over K (parts); false when the type has no tiles.
bool launch_q8_mma_tile_small(quant::GgmlType type, const MmaParams& p, const q8mma::MmaArgs& a,
                              const TilePick& t, bool gated, bool parts, cudaStream_t stream);

// Launches the 32-column tiles as two warp-columns of 16 (t.nt 2, t.cw 2;
// q8_mma_tile_nt2.cu), whole or split over K (parts); false when the type has no tiles.
bool launch_q8_mma_tile_nt2(quant::GgmlType type, const MmaParams& p, const q8mma::MmaArgs& a,
                            const TilePick& t, bool gated, bool parts, cudaStream_t stream);

// Launches the staged Q16 tiles (q8_mma_tile.cu) for weight type `type`; false when the type
// has no tiles. The launch's own errors are left for the caller's check.
bool launch_q8_mma_tile(quant::GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream);

// The floats of partial sums the staged tiles split over K need for this product: one
// [rows][ne1] plane a part and matrix.
inline std::int64_t q8_mma_tile_parts_floats(const MmaParams& p, bool gated) {
  return static_cast<std::int64_t>(p.parts) * (gated ? 2 : 1) * p.rows * p.ne1;
}

// Launches the staged tiles split over K: a block per (tile, part of K) computing that part's
// sums into p.part_ws, then a kernel adding the parts in part order and storing through the
// shared epilogue — the same bits as the whole tiles. The caller checks the scratch's size.
bool launch_q8_mma_tile_parts(quant::GgmlType type, const MmaParams& p, bool gated,
                              cudaStream_t stream);

// Launches the one-lane-a-part kernel (q8_mma_lane.cu) for a few activation rows, with the
// block's weight rows staged in shared memory when stage_w and they fit
// (q8_mma_lane_stage_w_fits); false when the type has none.
bool launch_q8_mma_lane(quant::GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream,
                        bool stage_w);

// Whether the lane-a-half-block kernel (q8_mma_vecblock.cu) takes this product: one Q16 row,
// Q4_K / Q5_K weights with 16-byte loads, the row within its shared-memory staging.
bool q8_mma_vecblock_fits(quant::GgmlType type, const MmaParams& p, bool gated);

// Launches it; false (nothing launched) when it does not fit.
bool launch_q8_mma_vecblock(quant::GgmlType type, const MmaParams& p, bool gated,
                            cudaStream_t stream);

// Whether the lane-a-block kernel (q8_mma_vecleg.cu) takes this product: one Q16 row, Q8_0 /
// Q4_0 weights (every matrix 4-byte aligned), K a whole number of 32s.
bool q8_mma_vecleg_fits(quant::GgmlType type, const MmaParams& p, bool gated);

// Launches it; false (nothing launched) when it does not fit.
bool launch_q8_mma_vecleg(quant::GgmlType type, const MmaParams& p, bool gated,
                          cudaStream_t stream);

// Whether one activation row of act_row_bytes and its block's weight rows (w_row_bytes each,
// `parts` parts of K; the gated pair: both matrices) fit the lane kernel's staging.
bool q8_mma_lane_stage_w_fits(std::size_t act_row_bytes, std::size_t w_row_bytes, int parts,
                              bool gated);

}  // namespace zinfer::cuda
