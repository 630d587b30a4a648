// Dequantization of tensor rows of every supported ggml type to float.
// Results are bit-identical to gguf-py's gguf.quants.dequantize (and ggml's dequantize_row_*):
// the same float operations in the same order, with no fused multiply-add.
#pragma once

#include <cstdint>

#include "engine/quant/ggml_type.h"

namespace zinfer::quant {

// Whether dequantize_row handles this type.
bool can_dequantize(GgmlType type);

// dst[0..n) = float values of the row at src. n must be a multiple of the block size and
// the type must satisfy can_dequantize (asserted).
void dequantize_row(GgmlType type, const void* src, float* dst, std::int64_t n);

}  // namespace zinfer::quant
