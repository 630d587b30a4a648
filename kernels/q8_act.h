// launch_quantize_act: f32 activation rows → Q8 rows in the layout of q8_act_layout.h, the
// bits of quant::quantize_act_row (ggml's SIMD rule for Q8_0/Q8_1, its reference rule for
// Q8_K), or Q16 rows (the bits of q8::quantize_q16_row), for the integer matvecs
// (q8_matvec.h).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"
#include "kernels/q8_act_layout.h"

namespace zinfer::cuda {

// out: in.rows rows of layout.row_bytes (device); layout.k == in.cols.
Status launch_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, std::uint8_t* out,
                           cudaStream_t stream);

// rms_norm (w: f32 [in.cols] or null) then launch_quantize_act, in one kernel: the normalized
// values are those of launch_rms_norm, so the bytes equal rms_norm followed by quantize_act.
Status launch_rms_norm_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, const float* w,
                                    float eps, std::uint8_t* out, cudaStream_t stream);

}  // namespace zinfer::cuda
