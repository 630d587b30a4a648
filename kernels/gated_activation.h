// Gated linear units of the FFN: out = act(gate) * up elementwise (same shapes; out may alias
// gate or up). SwiGLU (Llama, Qwen, Phi-3: act = SiLU) and GeGLU (Gemma: act = tanh-GELU).
#pragma once

#include <cuda_runtime.h>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

Status launch_swiglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream);
Status launch_geglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream);

}  // namespace zinfer::cuda
