// CudaContext (see cuda_context.h). A .cu file because validation launches nothing but
// asks the runtime for a probe kernel's attributes, which fails when the binary carries no
// code for the device's architecture.
#include <cstdio>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/cuda_context.h"

namespace zinfer::cuda {
namespace {

__global__ void probe_kernel(int* p) {
  if (p != nullptr) *p = 1;
}

}  // namespace

CudaContext::~CudaContext() {
  // The handle is bound to the stream: destroy it first.
  cublas_.reset();
  stream_.reset();
}

Result<std::unique_ptr<CudaContext>> CudaContext::create(int device_index) {
  int count = 0;
  const cudaError_t count_err = cudaGetDeviceCount(&count);
  if (count_err != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return make_error(
        ErrorCode::kDeviceNotFound,
        std::string("no CUDA device available: ") +
            (count_err != cudaSuccess ? cudaGetErrorString(count_err) : "device count is 0"));
  }
  if (device_index < 0 || device_index >= count) {
    return make_error(ErrorCode::kInvalidDevice, "device index " + std::to_string(device_index) +
                                                     " out of range: " + std::to_string(count) +
                                                     " CUDA device(s) present");
  }
  auto ctx = std::unique_ptr<CudaContext>(new CudaContext());
  ZINFER_CUDA_CHECK(cudaSetDevice(device_index));
  cudaDeviceProp prop{};
  ZINFER_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index));
  int compute_mode = 0;
  ZINFER_CUDA_CHECK(cudaDeviceGetAttribute(&compute_mode, cudaDevAttrComputeMode, device_index));
  if (compute_mode == cudaComputeModeProhibited) {
    return make_error(ErrorCode::kInvalidDevice,
                      "device " + std::to_string(device_index) + " is in prohibited compute mode");
  }
  cudaFuncAttributes attr{};
  const cudaError_t img_err = cudaFuncGetAttributes(&attr, probe_kernel);
  if (img_err != cudaSuccess) {
    (void)cudaGetLastError();
    return make_error(ErrorCode::kInvalidDevice,
                      "device " + std::to_string(device_index) + " (" + prop.name + ", sm_" +
                          std::to_string(prop.major) + std::to_string(prop.minor) +
                          ") cannot run this build's kernels: " + cudaGetErrorString(img_err) +
                          " (rebuild with a matching CMAKE_CUDA_ARCHITECTURES)");
  }
  DeviceInfo& info = ctx->info_;
  info.index = device_index;
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.total_bytes = prop.totalGlobalMem;
  info.sm_count = prop.multiProcessorCount;
  info.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  info.smem_per_block_optin = prop.sharedMemPerBlockOptin;

  cudaStream_t stream = nullptr;
  ZINFER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  ctx->stream_.reset(stream);
  cublasHandle_t handle = nullptr;
  ZINFER_CUBLAS_CHECK(cublasCreate(&handle));
  ctx->cublas_.reset(handle);
  ZINFER_CUBLAS_CHECK(cublasSetStream(handle, stream));
  // Default math: FP32 GEMMs stay FP32 (no TF32), so prompt matmuls track the CPU oracle.
  ZINFER_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
  return std::move(ctx);
}

Status CudaContext::make_current() const {
  ZINFER_CUDA_CHECK(cudaSetDevice(info_.index));
  return ok_status();
}

Result<MemInfo> CudaContext::mem_info() const {
  ZINFER_RETURN_IF_ERROR(make_current());
  MemInfo m;
  ZINFER_CUDA_CHECK(cudaMemGetInfo(&m.free_bytes, &m.total_bytes));
  return m;
}

Status CudaContext::synchronize() const {
  ZINFER_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return ok_status();
}

std::string CudaContext::describe() const {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "cuda:%d (%s, sm_%d%d, %d SMs, %.1f GiB)", info_.index,
                info_.name.c_str(), info_.cc_major, info_.cc_minor, info_.sm_count,
                static_cast<double>(info_.total_bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace zinfer::cuda
