// CudaContext: everything CUDA one engine owns — the selected and validated device, its
// properties, a non-blocking stream, the cuBLAS handle bound to it, and the VRAM ledger.
// No file-scope CUDA state exists anywhere else; kernels get the stream from here.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "kernels/cuda_handles.h"
#include "kernels/vram_ledger.h"

namespace zinfer::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  std::size_t total_bytes = 0;
  int sm_count = 0;
  std::size_t l2_bytes = 0;
  std::size_t smem_per_block_optin = 0;
};

struct MemInfo {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
};

class CudaContext {
 public:
  // Selects device_index and validates it: kDeviceNotFound when there is no CUDA device or
  // driver, kInvalidDevice for an out-of-range index, a prohibited compute mode, or a device
  // this build has no kernel image for.
  static Result<std::unique_ptr<CudaContext>> create(int device_index);

  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  const DeviceInfo& info() const { return info_; }
  cudaStream_t stream() const { return stream_.get(); }
  cublasHandle_t cublas() const { return cublas_.get(); }
  VramLedger& ledger() { return ledger_; }
  const VramLedger& ledger() const { return ledger_; }

  // Makes this context's device current on the calling thread (the engine thread may not
  // be the one that created it).
  Status make_current() const;
  Result<MemInfo> mem_info() const;
  // Waits for all work queued on the stream; surfaces asynchronous kernel errors.
  Status synchronize() const;
  // "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB)".
  std::string describe() const;

 private:
  CudaContext() = default;

  DeviceInfo info_;
  VramLedger ledger_;
  StreamPtr stream_;
  CublasPtr cublas_;
};

}  // namespace zinfer::cuda
