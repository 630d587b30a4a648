// Matmuls on fp16 tensor cores (f16_mma.cu): quantized weight rows dequantized into shared memory
// as halves (QuantTraits::group8 — the CPU's dequantize_row — rounded to fp16), times fp16
// activation rows (f16_act.h), fp32 sums. Not yet wired into the backend: the candidate for a
// faster numerics than the Q16 tiles, whose agreement with transformers the CPU emulation
// measured (LlmOptions::fp16_matmul, tests/engine/model/hf_golden_test.cpp).
//
// The order, the same for every batch size (batch invariance by construction): K's blocks are
// cut into P = q8mma::mma_parts(nb, block) consecutive parts; a part's sum is a chain of
// mma.m16n8k16 steps over its elements in K order (16 a step), starting from C = 0; the parts'
// sums are added in part order (fp32 adds); then out = sum · scale[n] (a power of two: exact
// unless it leaves fp32's normal range), + bias, and with accumulate out = out + that. One mma's
// result element depends only on its row of A, its column of B and its C, so which other rows
// share a tile does not change an output's bits.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/f16_act.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

// Whether the fp16 tiles take this weight matrix (its type and K; f16_mma_supported checks the
// activations too).
bool f16_mma_weight_supported(const QuantMatrixView& w);
// Whether launch_f16_mma takes this product (a quantized weight type with an integer kernel,
// K a multiple of its block and of 16, the activations' K, rows 16-byte aligned).
bool f16_mma_supported(const F16Act& a, const QuantMatrixView& w);

// out[n][j] (+)= the product of activation row n with weight row j in the order above; bias
// (may be null) added before the accumulation. Kernel shape: 16, 64 or 128 activation rows a
// block by batch (ZINFER_F16_COLS=16|64|128 forces one: a measurement switch); with 64 and 128,
// 64 weight rows a block, 96 (128 columns only) or the lean stage of 64 rows two blocks a
// multiprocessor, whichever its waves of blocks make cheapest (f16_mma.cu: f16_stage;
// ZINFER_F16_ROWS=64|96 and ZINFER_F16_LEAN=0|1 force a choice). Up to 8 rows of
// Q4_K/Q6_K/Q5_0/Q8_0 weights run on the small-batch kernel (f16_mma_small.cuh; the same bits;
// ZINFER_F16_SMALL=0 never, =1 up to 32). Never split over K (launch_f16_mma_stack with scratch
// does that).
Status launch_f16_mma(const F16Act& a, const QuantMatrixView& w, MatrixView out, const float* bias,
                      bool accumulate, cudaStream_t stream);

// One product of a stack: weights, output, bias (may be null).
struct F16Product {
  QuantMatrixView w;
  MatrixView out;
  const float* bias;
};

// Up to three products of the same activation rows with matrices of one type and K (Q, K and
// V) in one launch; each output's bits are those of its own launch_f16_mma. With part_ws (at
// least f16_mma_part_ws_floats floats of scratch) tiles that would not fill the GPU split over
// K: a block a part of K, then a kernel adding the parts' sums in order — the same bits.
Status launch_f16_mma_stack(const F16Act& a, const F16Product* mats, int n, bool accumulate,
                            cudaStream_t stream, float* part_ws, std::int64_t part_ws_floats);

// The scratch floats launch_f16_mma_stack would split these products with (0: it would not).
std::int64_t f16_mma_part_ws_floats(const F16Act& a, const F16Product* mats, int n);

}  // namespace zinfer::cuda
