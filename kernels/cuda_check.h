// One check-macro family for CUDA runtime and cuBLAS calls. A failing call becomes a
// zinfer::Status carrying the statement, file and line; nothing aborts in library code.
// Errors that poison the CUDA context ("sticky": illegal address, launch failure, ...) are
// logged at critical and flagged in the message, because every later call on the context
// fails too and the worker must restart (STYLE.md, Errors).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "engine/core/error.h"

namespace zinfer::cuda {

// Whether err leaves the context unusable for the rest of the process.
bool is_sticky_error(cudaError_t err);

// ErrorCode for a runtime error: allocation → kOutOfMemory, no device/driver →
// kDeviceNotFound, bad ordinal → kInvalidDevice, anything else → kKernelLaunchFailed.
ErrorCode error_code_for(cudaError_t err);
ErrorCode error_code_for(cublasStatus_t status);

// Builds the Status for a failed call (and logs sticky errors at critical).
Error cuda_error(cudaError_t err, const char* stmt, const char* file, int line);
Error cublas_error(cublasStatus_t status, const char* stmt, const char* file, int line);

}  // namespace zinfer::cuda

// Generic form (ggml's CUDA_CHECK_GEN idea): evaluate stmt once, compare with its success
// value, return the error built by make_fn from the enclosing function.
#define ZINFER_CHECK_GEN(stmt, success, make_fn)                       \
  do {                                                                 \
    const auto zinfer_check_status_ = (stmt);                          \
    if (zinfer_check_status_ != (success)) {                           \
      return make_fn(zinfer_check_status_, #stmt, __FILE__, __LINE__); \
    }                                                                  \
  } while (0)

// Returns the error from the enclosing function (returning Status or Result<T>).
#define ZINFER_CUDA_CHECK(stmt) ZINFER_CHECK_GEN(stmt, cudaSuccess, ::zinfer::cuda::cuda_error)
#define ZINFER_CUBLAS_CHECK(stmt) \
  ZINFER_CHECK_GEN(stmt, CUBLAS_STATUS_SUCCESS, ::zinfer::cuda::cublas_error)
// After a kernel launch: the launch's own error (bad configuration, no kernel image, ...) or
// an earlier asynchronous failure. name (a string literal) is the kernel, for the message.
#define ZINFER_CUDA_LAUNCH_CHECK(name)                                                   \
  do {                                                                                   \
    const cudaError_t zinfer_launch_err_ = cudaGetLastError();                           \
    if (zinfer_launch_err_ != cudaSuccess) {                                             \
      return ::zinfer::cuda::cuda_error(zinfer_launch_err_, "launch of " name, __FILE__, \
                                        __LINE__);                                       \
    }                                                                                    \
  } while (0)
