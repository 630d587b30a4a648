// Error translation for cuda_check.h.
#include "kernels/cuda_check.h"

#include <spdlog/spdlog.h>

#include <string>

namespace zinfer::cuda {

bool is_sticky_error(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

ErrorCode error_code_for(cudaError_t err) {
  switch (err) {
    case cudaErrorMemoryAllocation:
      return ErrorCode::kOutOfMemory;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return ErrorCode::kDeviceNotFound;
    case cudaErrorInvalidDevice:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorDevicesUnavailable:
      return ErrorCode::kInvalidDevice;
    default:
      return ErrorCode::kKernelLaunchFailed;
  }
}

ErrorCode error_code_for(cublasStatus_t status) {
  return status == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kOutOfMemory
                                              : ErrorCode::kKernelLaunchFailed;
}

Error cuda_error(cudaError_t err, const char* stmt, const char* file, int line) {
  std::string msg = std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ") in `" +
                    stmt + "` at " + file + ":" + std::to_string(line);
  const bool sticky = is_sticky_error(err);
  if (sticky) {
    msg = "sticky CUDA error, the context is unusable and the worker must restart: " + msg;
    spdlog::critical("cuda: {}", msg);
  }
  Error e = make_error(error_code_for(err), std::move(msg));
  e.fatal = sticky;
  return e;
}

Error cublas_error(cublasStatus_t status, const char* stmt, const char* file, int line) {
  std::string msg = std::string(cublasGetStatusName(status)) + " (" +
                    cublasGetStatusString(status) + ") in `" + stmt + "` at " + file + ":" +
                    std::to_string(line);
  return make_error(error_code_for(status), std::move(msg));
}

}  // namespace zinfer::cuda
