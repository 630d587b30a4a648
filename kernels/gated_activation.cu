// gated_activation_kernel<Act>: one thread per element; rows on the grid's y axis. The
// activations are activation.cuh's, which follow the CPU backend's formulas.
#include <string>

#include "kernels/activation.cuh"
#include "kernels/cuda_check.h"
#include "kernels/gated_activation.h"
#include "kernels/launch_util.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

struct Silu {
  static constexpr const char* kName = "swiglu";
  __device__ static float apply(float x) { return silu_f32(x); }
};
struct GeluTanh {
  static constexpr const char* kName = "geglu";
  __device__ static float apply(float x) { return gelu_tanh_f32(x); }
};

template <class Act>
__global__ void gated_activation_kernel(float* out, std::int64_t os, const float* gate,
                                        std::int64_t gs, const float* up, std::int64_t us,
                                        std::int64_t rows, std::int64_t cols) {
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= cols) return;
  for (std::int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    out[r * os + c] = Act::apply(gate[r * gs + c]) * up[r * us + c];
  }
}

template <class Act>
Status launch(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream) {
  if (gate.rows != up.rows || gate.cols != up.cols || out.rows != gate.rows ||
      out.cols != gate.cols) {
    return make_error(ErrorCode::kInferenceFailed, std::string(Act::kName) + ": shape mismatch");
  }
  if (gate.rows == 0 || gate.cols == 0) return ok_status();
  gated_activation_kernel<Act><<<grid_2d(gate.rows, gate.cols, kThreads), kThreads, 0, stream>>>(
      out.data, out.stride, gate.data, gate.stride, up.data, up.stride, gate.rows, gate.cols);
  ZINFER_CUDA_LAUNCH_CHECK("gated_activation_kernel");
  return ok_status();
}

}  // namespace

Status launch_swiglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream) {
  return launch<Silu>(out, gate, up, stream);
}

Status launch_geglu(MatrixView out, MatrixView gate, MatrixView up, cudaStream_t stream) {
  return launch<GeluTanh>(out, gate, up, stream);
}

}  // namespace zinfer::cuda
