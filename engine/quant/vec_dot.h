// Row dot products of weights in any supported ggml type with an activation row.
//
// vec_dot is the fast path and mirrors llama.cpp's CPU matmul: the activation row is first
// quantized to traits(weight_type).vec_dot_type (act_quant.h), then each block contributes
// an exact integer dot product scaled in float. Its float rounding reproduces ggml's x86
// kernels for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/MXFP4.
//
// vec_dot_f32 is the exact path: weights dequantized block by block (bit-exact with gguf-py)
// and multiplied with the float activation, accumulated in float. It is the oracle that the
// CUDA kernels and float references are compared against.
//
// Both have a portable *_scalar twin that returns the same bits as the AVX2 build.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "engine/quant/ggml_type.h"

namespace zinfer::quant {

// Whether vec_dot / vec_dot_f32 handle this weight type.
bool is_vec_dot_supported(GgmlType weight_type);

// Load-time validation of a weight row: supported type, and n a positive multiple of the
// block size. The error names the offending field and value.
Status check_vec_dot(GgmlType weight_type, std::int64_t n);

// sum_i w[i] * act[i] over n elements; act_row is in traits(weight_type).vec_dot_type.
float vec_dot(GgmlType weight_type, std::int64_t n, const void* w_row, const void* act_row);
float vec_dot_scalar(GgmlType weight_type, std::int64_t n, const void* w_row, const void* act_row);

// out[r] = vec_dot(weight_type, n, w + r * w_row_stride, act_row) for r in [0, n_rows):
// one matrix-vector product with the kernel lookup done once.
void vec_dot_rows(GgmlType weight_type, std::int64_t n, const void* w, std::size_t w_row_stride,
                  std::int64_t n_rows, const void* act_row, float* out);

// sum_i dequant(w)[i] * x[i], accumulated in float.
float vec_dot_f32(GgmlType weight_type, std::int64_t n, const void* w_row, const float* x);
float vec_dot_f32_scalar(GgmlType weight_type, std::int64_t n, const void* w_row, const float* x);

// out[r] = vec_dot_f32(weight_type, n, w + r * w_row_stride, x) for r in [0, n_rows), bit for
// bit; with AVX2 four rows at a time (independent accumulators: the one-row path is bound by
// its single FMA chain's latency).
void vec_dot_f32_rows(GgmlType weight_type, std::int64_t n, const void* w, std::size_t w_row_stride,
                      std::int64_t n_rows, const float* x, float* out);

// out[r · out_stride] = vec_dot_f32(kF32, n, w, x + r · x_stride) for r in [0, n_x), bit for
// bit: one f32 weight row (e.g. a dequantized one) against several activation rows, four at a
// time with AVX2.
void vec_dot_f32_xrows(std::int64_t n, const float* w, const float* x, std::size_t x_stride,
                       std::int64_t n_x, float* out, std::size_t out_stride);

// Whether this build uses the AVX2 kernels for vec_dot / quantize_act_row.
bool vec_dot_uses_avx2();

}  // namespace zinfer::quant
