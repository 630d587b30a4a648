// Matrix-vector products with their neighbours fused in, for decoding and small batches:
// each warp computes two weight rows against a tile of up to 8 activation rows, reading the
// weights once in 32-element pieces (quant_piece.cuh) and the activations as float4.
//
//   launch_matvec_pieces       out = in·Wᵀ, or out += in·Wᵀ (a residual add in the epilogue)
//   launch_norm_gated_matvec   out = act(norm(in)·Gᵀ) ⊙ (norm(in)·Uᵀ)  (RMSNorm prologue, SwiGLU
//                              or GeGLU epilogue: one kernel for a whole FFN input)
//   launch_norm_qkv_rope       q, k, v = norm(in)·{Wq,Wk,Wv}ᵀ + bias, RoPE applied to q and k
//                              (one kernel for a whole attention input)
//
// Every fused step does exactly what the unfused ops do, in the same float operations: the
// RMSNorm scale is summed in double and each normalized element is (x·s)·w with two
// roundings; biases, residual adds, activations and rotations are the same expressions as
// add_bias, add, gated_activation and rope. Only the dot products' summation order differs
// from the row-wise matvec (still fp32, each lane's chain then a fixed butterfly), and that
// order depends on K alone: a row's result is bitwise the same whatever else is in the batch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/rope_angle.cuh"

namespace zinfer::cuda {

// Whether the piece kernels take this weight and input: rows a multiple of 32 elements, a
// supported type, activations 16-byte aligned with a stride of whole float4s. The answer
// depends on the shapes and buffers only, never on the number of rows, so a model takes the
// same path at every batch size.
bool matvec_pieces_supported(const QuantMatrixView& w, const MatrixView& in);

// out[r][j] = Σ_k in[r][k]·W[j][k]; with accumulate, out[r][j] += that (out must not alias in).
Status launch_matvec_pieces(MatrixView out, MatrixView in, const QuantMatrixView& w,
                            bool accumulate, cudaStream_t stream);

enum class GatedAct { kSilu, kGeluTanh };

// h = rms_norm(in, norm_w, eps) (norm_w f32 [K], or null for no weight);
// out[r][j] = act(h[r]·G[j]) * (h[r]·U[j]). gate and up share type and shape.
Status launch_norm_gated_matvec(MatrixView out, MatrixView in, const float* norm_w, float eps,
                                const QuantMatrixView& gate, const QuantMatrixView& up,
                                GatedAct act, cudaStream_t stream);

struct QkvRopeArgs {
  MatrixView q, k, v;          // outputs [rows][n_head·hd], [rows][n_head_kv·hd] ×2
  QuantMatrixView wq, wk, wv;  // same type and K
  const float* bq = nullptr;   // optional biases [n_head·hd], [n_head_kv·hd] ×2
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* norm_w = nullptr;  // RMSNorm weight [K] (null: no weight)
  float eps = 1e-6f;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;  // even
  int n_rot = 0;     // even, <= head_dim
  bool neox = false;
  RopeAngle angle;                          // make_rope_angle, computed on the host as for rope
  const std::int32_t* positions = nullptr;  // [rows] device
};

// h = rms_norm(in); q = rope(h·Wqᵀ + bq), k = rope(h·Wkᵀ + bk), v = h·Wvᵀ + bv.
Status launch_norm_qkv_rope(MatrixView in, const QkvRopeArgs& a, cudaStream_t stream);

}  // namespace zinfer::cuda
