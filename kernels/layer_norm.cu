// layer_norm_kernel: one block per row; two passes (mean, then centred variance) summed in
// double like CpuOps, so the result does not depend on the thread count.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/layer_norm.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void layer_norm_kernel(float* out, std::int64_t out_stride, const float* in,
                                  std::int64_t in_stride, std::int64_t rows, std::int64_t cols,
                                  const float* w, const float* b, float eps) {
  __shared__ double scratch[32];
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* x = in + r * in_stride;
    float* y = out + r * out_stride;
    double sum = 0.0;
    for (std::int64_t i = threadIdx.x; i < cols; i += kThreads) sum += static_cast<double>(x[i]);
    sum = block_sum(sum, scratch);
    const float mean = static_cast<float>(sum / static_cast<double>(cols));
    double var = 0.0;
    for (std::int64_t i = threadIdx.x; i < cols; i += kThreads) {
      const float c = __fsub_rn(x[i], mean);
      var += static_cast<double>(__fmul_rn(c, c));
    }
    var = block_sum(var, scratch);
    const float s = 1.0f / sqrtf(static_cast<float>(var / static_cast<double>(cols)) + eps);
    for (std::int64_t i = threadIdx.x; i < cols; i += kThreads) {
      float v = __fmul_rn(__fsub_rn(x[i], mean), s);
      if (w != nullptr) v = __fmul_rn(v, w[i]);
      if (b != nullptr) v = __fadd_rn(v, b[i]);
      y[i] = v;
    }
    __syncthreads();
  }
}

}  // namespace

Status launch_layer_norm(MatrixView out, MatrixView in, const float* w, const float* b, float eps,
                         cudaStream_t stream) {
  if (out.rows != in.rows || out.cols != in.cols) {
    return make_error(ErrorCode::kInferenceFailed, "layer_norm: shape mismatch");
  }
  if (in.rows == 0 || in.cols == 0) return ok_status();
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(in.rows, 65535));
  layer_norm_kernel<<<blocks, kThreads, 0, stream>>>(out.data, out.stride, in.data, in.stride,
                                                     in.rows, in.cols, w, b, eps);
  ZINFER_CUDA_LAUNCH_CHECK("layer_norm_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
