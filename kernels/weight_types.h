// The weight formats the CUDA kernels read (host-visible, so the CUDA backend's weight loader
// can refuse the others by name): the core formats of engine/quant plus MXFP4 (gpt-oss's
// experts), which every f32-activation kernel dequantizes through quant_block.cuh.
#pragma once

#include "engine/quant/ggml_type.h"

namespace zinfer::cuda {

constexpr bool cuda_weight_type_supported(quant::GgmlType t) {
  return quant::is_core_weight_type(t) || t == quant::GgmlType::kMXFP4;
}

}  // namespace zinfer::cuda
