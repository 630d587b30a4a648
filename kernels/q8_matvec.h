// Matrix-vector products on quantized activations (the llama.cpp-style numerics of CpuOps
// without exact_matmul, `--q8-act`): activations are quantized once per row
// (launch_quantize_act, q8_act.h) and each warp computes two weight rows against a tile of
// up to 8 activation rows with integer dot products (q8_dot.cuh: dp4a over int8 pairs,
// exact), scaling per block in float. A row's result depends on K and its own activation row
// only — bitwise the same whatever else is in the batch. With activations in the Q16 layout
// (--q16-act: 16-bit quants as two int8 planes, q8_dot.cuh) the same kernels come within ~3e-6
// of Σ|w·x| of the exact f32 products.
//
//   launch_q8_matvec        out_m = a·W_mᵀ (+ bias_m), or out_m += a·W_mᵀ, for up to three
//                           matrices sharing type and K in one launch (Q, K, V)
//   launch_q8_gated_matvec  out = act(a·Gᵀ) ⊙ (a·Uᵀ)  (SwiGLU or GeGLU epilogue)
//   launch_q8_qkv_rope      q, k, v = a·{Wq,Wk,Wv}ᵀ + bias, RoPE applied to q and k (the
//                           epilogue of launch_norm_qkv_rope; a is already normalized)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/fused_matvec.h"
#include "kernels/matrix_view.h"
#include "kernels/q8_act_layout.h"

namespace zinfer::cuda {

// Whether weights of this type and row length run on the Q8 kernels (the activation layout
// for them is q8_act_layout(q8_act_type(type), ne0)).
bool q8_matvec_supported(const QuantMatrixView& w);
quant::GgmlType q8_act_type(quant::GgmlType weight_type);

// Quantized activations: `rows` rows in `layout` at `data` (device): a Q8 layout of
// q8_act_type(weight type), or the Q16 layout (any supported weight type).
//
// Or, for one row, the f32 row itself (src, data null): each block of the matvec quantizes it
// into shared memory first (RMS-normalized when norm; norm_w may be null), with the bytes the
// quantize kernels would write (q8_quantize.cuh), so the results are bitwise those of the
// buffered path — one kernel instead of two. q8_prologue_fits says when that pays.
struct Q8Act {
  const std::uint8_t* data = nullptr;
  q8::Q8ActLayout layout;
  std::int64_t rows = 0;
  const float* src = nullptr;  // 16-byte aligned, layout.k floats
  bool norm = false;
  const float* norm_w = nullptr;
  float eps = 0.0f;
  // Scratch of the tensor-core tiles split over K (q8_mma_part_ws_floats floats; null: they
  // are not used and the products take another kernel).
  float* part_ws = nullptr;
  std::int64_t part_ws_floats = 0;
};

// One-row products without the prologue stage their weights through shared memory (cp.async,
// a few units ahead per warp) unless this is set off (or ZINFER_Q8_STAGE=0): the same results,
// a switch for tests and measurements.
void set_q8_staging(bool on);

// Largest activation row (bytes of its layout) a prologue quantizes into shared memory.
inline constexpr std::size_t kMaxPrologueBytes = 16 * 1024;

// Whether a product of `rows` activation rows (layout, f32 row at src) with weight_rows
// weight rows of weight_row_bytes each should quantize in the matvec's prologue: one short row
// and small weights (latency-bound kernels, where saving a launch pays). Shapes only.
bool q8_prologue_fits(const q8::Q8ActLayout& layout, std::int64_t rows, const float* src,
                      std::int64_t weight_rows, std::size_t weight_row_bytes);

struct Q8MatvecOut {
  QuantMatrixView w;
  MatrixView out;               // [rows][w.ne1]
  const float* bias = nullptr;  // [w.ne1] device, optional; with accumulate out += (sum + bias)
};

// Every matrix: same type and ne0 = a.layout.k. With accumulate, out += the products.
Status launch_q8_matvec(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate,
                        cudaStream_t stream);

// out[r][j] = act(a_r·G[j]) * (a_r·U[j]); gate and up share type and shape.
Status launch_q8_gated_matvec(MatrixView out, const Q8Act& a, const QuantMatrixView& gate,
                              const QuantMatrixView& up, GatedAct act, cudaStream_t stream);

// As launch_norm_qkv_rope (fused_matvec.h) on activations already normalized and quantized
// (args.norm_w and args.eps are not used).
Status launch_q8_qkv_rope(const Q8Act& a, const QkvRopeArgs& args, cudaStream_t stream);

}  // namespace zinfer::cuda
