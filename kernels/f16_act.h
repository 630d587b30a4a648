// Activation rows in fp16 for the fp16 tensor-core products (f16_mma.h): each f32 row divided by
// a power-of-two scale — 1 unless its largest |value| passes 2^15 — and rounded to fp16, the
// scale kept beside it. The CPU's emulation is quant::f16_round_row(x, y, n, f16_row_scale(x, n))
// (engine/quant/f16_round.h): the same halves bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

struct F16Act {
  const std::uint16_t* data = nullptr;  // [rows][stride] fp16 bits, rows 16-byte aligned
  const float* scale = nullptr;         // [rows] the rows' power-of-two scales
  std::int64_t rows = 0;
  std::int64_t k = 0;       // elements a row
  std::int64_t stride = 0;  // halves between rows: f16_act_stride(k)
};

// Halves between consecutive rows: k rounded up to a multiple of 8 (16-byte rows).
inline std::int64_t f16_act_stride(std::int64_t k) { return (k + 7) / 8 * 8; }

// out[r][0..x.cols) <- fp16(x[r][·] / scale[r]), scale[r] the row's power of two; out rows
// f16_act_stride(x.cols) halves apart, 16-byte aligned. One block a row.
Status launch_f16_act(MatrixView x, std::uint16_t* out, float* scale, cudaStream_t stream);

}  // namespace zinfer::cuda
