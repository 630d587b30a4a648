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
// The activations are quantized into a buffer (Q8Act::data), or — one row, the lane kernel —
// handed over as f32 (Q8Act::src: q8_mma_prologue). CudaOps uses these kernels for every
// integer matmul with tensor cores on (--tensor-cores, ZINFER_MMA=1).
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

// Every matrix's product out_m = a·W_mᵀ (+ bias_m), or out_m += (accumulate): one launch for
// all of them where the lane kernel takes the batch (the same type and K; Q, K and V), else
// one launch_q8_mma each. The same bits either way.
Status launch_q8_mma_each(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate,
                          cudaStream_t stream);

Status launch_q8_mma_gated(MatrixView out, const Q8Act& a, const QuantMatrixView& gate,
                           const QuantMatrixView& up, GatedAct act, cudaStream_t stream);

// Which kernel computes the products (the same bits whichever does): by shape (-1, the
// default: the vec kernel up to four activation rows — at one Q16 row times Q4_K / Q5_K / Q6_K
// weights the vec-block kernel, q8_mma_vecblock.cu, times Q8_0 / Q4_0 the lane-a-block kernel,
// q8_mma_vecleg.cu; past that the staged Q16 tiles where their
// blocks make a wave — 132, one a SM, as their shared memory allows — else K split over warps,
// or wide tiles once they make enough blocks), or always one of these (staged: the wide tiles
// with their weights staged through shared memory; tile: weights and Q16 activations staged
// with cp.async in 64-128 × 32-64 tiles (q8_mma_tile.cuh), Q8 activations then taking the
// choice by shape; lane: one lane a part of K, each walking its part as one stream
// (q8_mma_lane.cuh), for a few activation rows; lane-tile: the by-shape choice with lane up to
// four rows; lane-stage: the by-shape choice with the lane kernel and its staged weight rows
// for one activation row where those fit in shared memory, the vec kernel where they do not;
// vec: the vec kernel up to four rows, one-row Q4_K / Q5_K / Q8_0 / Q4_0 products included;
// vec-block: the default's choice up to four rows; tile-parts: the staged Q16 tiles split over K's
// parts wherever the caller gave their scratch — by shape they take the products past four rows
// whose whole tiles are fewer than 132 blocks).
// ZINFER_MMA_KERNEL=split|wide|vec|staged|tile|lane|lane-tile|lane-stage|vec-block|tile-parts
// sets it for a process.
inline constexpr int kMmaSplit = 0, kMmaWide = 1, kMmaVec = 2, kMmaStaged = 3, kMmaTile = 4,
                     kMmaLane = 5, kMmaLaneTile = 6, kMmaLaneStage = 7, kMmaVecBlock = 8,
                     kMmaTileParts = 9;
void set_q8_mma_kernel(int kernel);

// The scratch floats (Q8Act::part_ws) a product of a's rows with w (the gated pair: gated)
// takes on the staged tiles split over K, or 0 where the kernel choice (shapes and the setting
// above) does not take them: the caller allocates it and sets a.part_ws / part_ws_floats.
std::int64_t q8_mma_part_ws_floats(const Q8Act& a, const QuantMatrixView& w, bool gated);
// The same for launch_q8_mma_each's plain products (mats): the largest matrix's, or where Q, K
// and V go to the tiles as one launch split over K, the stack's.
std::int64_t q8_mma_part_ws_floats(const Q8Act& a, const Q8MatvecOut* mats, int n_mats,
                                   bool accumulate);

// Whether a product of `rows` activation rows with weights of type w_type and k columns (the
// gated pair: gated) may hand the kernels one f32 row to quantize in their prologue
// (Q8Act::src, as the matvec kernels take it): one row, with the lane kernel selected (which
// quantizes it into each block's shared memory: the same bytes) — with lane-stage, only where
// the lane kernel will take the product (its weight rows fit the staging).
bool q8_mma_prologue(std::int64_t rows, quant::GgmlType w_type, std::int64_t k, bool gated);

// Whether ZINFER_MMA=1 is set (CudaOps' switch, read once).
bool q8_mma_enabled();

}  // namespace zinfer::cuda
