// Integer matmuls on tensor cores (mma.sync, .s8 operands): the products of q8_matvec.h —
// quantized weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) times activations
// quantized to Q8 or Q16 — computed in tiles of 16 weight rows × 8·NT activation rows, with
// one float order per output that depends on K alone (q8_mma.cuh): a row computed alone and in
// a batch of 512 give the same bits. Numerics are those of the matvec kernels up to the order
// of the float additions (the integer sums are exact in both).
//
//   launch_q8_mma        out = a·Wᵀ (+ bias), or out += a·Wᵀ
//   launch_q8_mma_gated  out = act(a·Gᵀ) ⊙ (a·Uᵀ)
//
// The activations must be quantized into a buffer (Q8Act::data; the matvec's one-row prologue
// mode is not taken). CudaOps uses these kernels for every integer matmul when ZINFER_MMA=1.
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/fused_matvec.h"
#include "kernels/matrix_view.h"
#include "kernels/q8_matvec.h"

namespace zinfer::cuda {

// Whether the tensor-core kernels take this product (weight type, layout and buffers).
bool q8_mma_supported(const Q8Act& a, const QuantMatrixView& w);

Status launch_q8_mma(const Q8Act& a, const Q8MatvecOut& m, bool accumulate, cudaStream_t stream);

Status launch_q8_mma_gated(MatrixView out, const Q8Act& a, const QuantMatrixView& gate,
                           const QuantMatrixView& up, GatedAct act, cudaStream_t stream);

// Which kernel computes the products (the same bits whichever does): by shape (-1, the
// default: the vec kernel up to four activation rows, then K split over warps, or wide tiles
// once they make enough blocks), or always one of these (staged: the wide tiles with their
// weights staged through shared memory, only when asked for until measured).
// ZINFER_MMA_KERNEL=split|wide|vec|staged sets it for a process (for measurements).
inline constexpr int kMmaSplit = 0, kMmaWide = 1, kMmaVec = 2, kMmaStaged = 3;
void set_q8_mma_kernel(int kernel);

// Whether ZINFER_MMA=1 is set (CudaOps' switch, read once).
bool q8_mma_enabled();

}  // namespace zinfer::cuda
