// rms_norm_kernel: one block per row (launched with launch_pdl, pdl.h). As CpuOps does (and ggml),
// the float squares are summed in double, the mean is rounded to float, and x·s and ·w are separate
// roundings.
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"
#include "kernels/rms_norm.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 256;
// Columns a thread keeps in registers (rows of up to kThreads · kHeld columns): every load of
// the row issued before the first square is added — one latency a row instead of one per
// element in turn (a one-row RMSNorm of 2880 columns took 8.3 µs on an H100: gpt-oss's
// post-attention norm, 25 a step). Each thread adds its squares in the same order as the
// strided loop, so the bits are the same.
constexpr int kHeld = 16;

__global__ void rms_norm_kernel(float* out, std::int64_t out_stride, const float* in,
                                std::int64_t in_stride, std::int64_t rows, std::int64_t cols,
                                const float* w, float eps) {
  __shared__ double scratch[32];
  pdl_wait();
  pdl_launch_dependents();
  const int tid = static_cast<int>(threadIdx.x);
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* x = in + r * in_stride;
    float* y = out + r * out_stride;
    const bool held = cols <= static_cast<std::int64_t>(kThreads) * kHeld;
    float xv[kHeld], wv[kHeld];
    double sum = 0.0;
    if (held) {
#pragma unroll
      for (int k = 0; k < kHeld; ++k) {
        const std::int64_t i = tid + static_cast<std::int64_t>(k) * kThreads;
        xv[k] = i < cols ? x[i] : 0.0f;
        wv[k] = i < cols && w != nullptr ? w[i] : 1.0f;
      }
#pragma unroll
      for (int k = 0; k < kHeld; ++k) {
        if (tid + static_cast<std::int64_t>(k) * kThreads < cols)
          sum += static_cast<double>(__fmul_rn(xv[k], xv[k]));
      }
    } else {
      for (std::int64_t i = tid; i < cols; i += kThreads)
        sum += static_cast<double>(__fmul_rn(x[i], x[i]));
    }
    sum = block_sum(sum, scratch);
    const float mean = static_cast<float>(sum / static_cast<double>(cols));
    const float s = 1.0f / sqrtf(mean + eps);
    if (held) {
#pragma unroll
      for (int k = 0; k < kHeld; ++k) {
        const std::int64_t i = tid + static_cast<std::int64_t>(k) * kThreads;
        if (i < cols) {
          float v = __fmul_rn(xv[k], s);
          if (w != nullptr) v = __fmul_rn(v, wv[k]);
          y[i] = v;
        }
      }
    } else {
      for (std::int64_t i = tid; i < cols; i += kThreads) {
        float v = __fmul_rn(x[i], s);
        if (w != nullptr) v = __fmul_rn(v, w[i]);
        y[i] = v;
      }
    }
    __syncthreads();  // out may alias in: finish reading before the next row's reads
  }
}

}  // namespace

Status launch_rms_norm(MatrixView out, MatrixView in, const float* w, float eps,
                       cudaStream_t stream) {
  if (out.rows != in.rows || out.cols != in.cols) {
    return make_error(ErrorCode::kInferenceFailed, "rms_norm: shape mismatch");
  }
  if (in.rows == 0 || in.cols == 0) return ok_status();
  const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(in.rows, 65535));
  launch_pdl(rms_norm_kernel, dim3(blocks), dim3(kThreads), 0, stream, out.data, out.stride,
             in.data, in.stride, in.rows, in.cols, w, eps);
  ZINFER_CUDA_LAUNCH_CHECK("rms_norm_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
