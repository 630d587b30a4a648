// Device versions of the activations in engine/backend/cpu/cpu_ops.cpp, same formulas.
#pragma once

namespace zinfer::cuda {

__device__ __forceinline__ float silu_f32(float x) { return x / (1.0f + expf(-x)); }

__device__ __forceinline__ float gelu_tanh_f32(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

}  // namespace zinfer::cuda
