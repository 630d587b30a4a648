// Plain views the launchers take: an f32 matrix in VRAM with a row stride (the CUDA side of
// model::Tensor) and a weight matrix still in its GGUF block format (model::Weight).
#pragma once

#include <cstdint>

#include "engine/quant/ggml_type.h"

namespace zinfer::cuda {

struct MatrixView {
  float* data = nullptr;  // [rows][stride] f32, device memory
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t stride = 0;  // floats between consecutive rows (>= cols)
};

struct QuantMatrixView {
  quant::GgmlType type = quant::GgmlType::kF32;
  std::int64_t ne0 = 0;        // elements per row
  std::int64_t ne1 = 0;        // rows
  const void* data = nullptr;  // [ne1][row_size(type, ne0)] bytes, device memory
};

}  // namespace zinfer::cuda
