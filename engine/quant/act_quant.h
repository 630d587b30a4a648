// Quantization of activation rows into the vec_dot_type of a weight (Q8_0, Q8_1, Q8_K, F16,
// BF16, F32), the way llama.cpp's CPU matmul prepares its right-hand side.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quant/ggml_type.h"

namespace zinfer::quant {

// Which of ggml's two Q8_0/Q8_1 quantizers to reproduce. They differ in rare elements:
//  kGgmlSimd:      what llama.cpp runs on x86 with AVX/AVX2 (quantize_row_q8_{0,1}):
//                  id = 127/amax, x*id rounded half to even.
//  kGgmlReference: ggml's portable quantize_row_q8_{0,1}_ref (also gguf-py's Q8_0):
//                  id = 1/(amax/127), x*id rounded half away from zero.
// Q8_K, F16, BF16 and F32 have one rule only (x86 llama.cpp uses the reference for Q8_K).
enum class ActQuantRule : std::uint8_t { kGgmlSimd, kGgmlReference };

// Whether quantize_act_row supports this vec_dot_type.
bool is_act_type(GgmlType vec_dot_type);

// Bytes of one quantized activation row of n elements.
std::size_t act_row_size(GgmlType vec_dot_type, std::int64_t n);

// dst <- x[0..n) in vec_dot_type. n must be a multiple of the type's block size.
// The AVX2 build and the scalar build produce identical bytes.
void quantize_act_row(GgmlType vec_dot_type, const float* x, void* dst, std::int64_t n,
                      ActQuantRule rule = ActQuantRule::kGgmlSimd);

// Portable implementation of the above, exposed so tests can compare the two paths.
void quantize_act_row_scalar(GgmlType vec_dot_type, const float* x, void* dst, std::int64_t n,
                             ActQuantRule rule = ActQuantRule::kGgmlSimd);

}  // namespace zinfer::quant
