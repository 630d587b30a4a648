// kv_store_kernel: one thread per element of the new K and V rows.
#include "kernels/cuda_check.h"
#include "kernels/kv_store.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void kv_store_kernel(const float* k, std::int64_t ks, const float* v, std::int64_t vs,
                                float* k_cache, float* v_cache, const std::int32_t* slots,
                                std::int64_t n_tokens, std::int64_t dkv) {
  pdl_wait();
  pdl_launch_dependents();
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (c >= dkv) return;
  for (std::int64_t t = blockIdx.y; t < n_tokens; t += gridDim.y) {
    const std::int64_t dst = static_cast<std::int64_t>(slots[t]) * dkv + c;
    k_cache[dst] = k[t * ks + c];
    v_cache[dst] = v[t * vs + c];
  }
}

}  // namespace

Status launch_kv_store(MatrixView k, MatrixView v, float* k_cache, float* v_cache,
                       const std::int32_t* slots, cudaStream_t stream) {
  if (k.rows != v.rows || k.cols != v.cols)
    return make_error(ErrorCode::kInferenceFailed, "kv_store: k/v shapes differ");
  if (k.rows == 0 || k.cols == 0) return ok_status();
  launch_pdl(kv_store_kernel, grid_2d(k.rows, k.cols, kThreads), dim3(kThreads), 0, stream, k.data,
             k.stride, v.data, v.stride, k_cache, v_cache, slots, k.rows, k.cols);
  ZINFER_CUDA_LAUNCH_CHECK("kv_store_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
