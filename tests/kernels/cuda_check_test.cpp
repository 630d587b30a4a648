// The check-macro family: failing CUDA and cuBLAS calls and kernel launches become typed
// Statuses that name the statement, file and line; sticky errors are classified as such.
#include "kernels/cuda_check.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>

#include "kernels/matvec.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

Status bad_memcpy() {
  ZINFER_CUDA_CHECK(cudaMemcpy(nullptr, nullptr, 16, static_cast<cudaMemcpyKind>(12345)));
  return ok_status();
}

// A matvec over 2^33 weight rows needs 2^31 blocks, one more than a grid may have: the launch
// itself fails (no memory is touched) and the launcher's ZINFER_CUDA_LAUNCH_CHECK reports it.
Status bad_launch(float* scratch) {
  cuda::MatrixView in{scratch, 1, 32, 32};
  cuda::MatrixView out{scratch, 1, std::int64_t{1} << 33, std::int64_t{1} << 33};
  cuda::QuantMatrixView w{quant::GgmlType::kF32, 32, std::int64_t{1} << 33, scratch};
  return cuda::launch_matvec(out, in, w, nullptr);
}

Status bad_gemm(cublasHandle_t h) {
  const float one = 1.0f;
  ZINFER_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1, &one, nullptr, 1, nullptr,
                                  1, &one, nullptr, 1));
  return ok_status();
}

TEST(CudaCheck, RuntimeErrorNamesStatementFileAndLine) {
  ZINFER_REQUIRE_GPU();
  Status st = bad_memcpy();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kKernelLaunchFailed);
  EXPECT_NE(st.error().message.find("cudaMemcpy(nullptr"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("cuda_check_test.cpp:"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().message.find("sticky"), std::string::npos) << st.error().message;
}

TEST(CudaCheck, LaunchFailureIsReportedWithKernelName) {
  ZINFER_REQUIRE_GPU();
  float* scratch = nullptr;
  ASSERT_EQ(cudaMalloc(&scratch, 4096), cudaSuccess);
  Status st = bad_launch(scratch);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kKernelLaunchFailed);
  EXPECT_NE(st.error().message.find("launch of matvec_kernel"), std::string::npos)
      << st.error().message;
  // Not sticky: a valid launch afterwards works.
  cuda::MatrixView in{scratch, 1, 32, 32};
  cuda::MatrixView out{scratch + 64, 1, 4, 4};
  cuda::QuantMatrixView w{quant::GgmlType::kF32, 32, 4, scratch + 128};
  EXPECT_TRUE(cuda::launch_matvec(out, in, w, nullptr).ok());
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cudaFree(scratch);
}

TEST(CudaCheck, CublasErrorNamesStatement) {
  ZINFER_REQUIRE_GPU();
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  Status st = bad_gemm(h);
  cublasDestroy(h);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kKernelLaunchFailed);
  EXPECT_NE(st.error().message.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos)
      << st.error().message;
  EXPECT_NE(st.error().message.find("cublasSgemm"), std::string::npos) << st.error().message;
}

TEST(CudaCheck, ClassifiesErrors) {
  EXPECT_TRUE(cuda::is_sticky_error(cudaErrorIllegalAddress));
  EXPECT_TRUE(cuda::is_sticky_error(cudaErrorLaunchFailure));
  EXPECT_FALSE(cuda::is_sticky_error(cudaErrorMemoryAllocation));
  EXPECT_FALSE(cuda::is_sticky_error(cudaErrorInvalidConfiguration));
  EXPECT_EQ(cuda::error_code_for(cudaErrorMemoryAllocation), ErrorCode::kOutOfMemory);
  EXPECT_EQ(cuda::error_code_for(cudaErrorNoDevice), ErrorCode::kDeviceNotFound);
  EXPECT_EQ(cuda::error_code_for(cudaErrorInvalidDevice), ErrorCode::kInvalidDevice);
  EXPECT_EQ(cuda::error_code_for(cudaErrorLaunchOutOfResources), ErrorCode::kKernelLaunchFailed);
  EXPECT_EQ(cuda::error_code_for(CUBLAS_STATUS_ALLOC_FAILED), ErrorCode::kOutOfMemory);
  const Error e = cuda::cuda_error(cudaErrorIllegalAddress, "kernel<<<>>>", "f.cu", 7);
  EXPECT_EQ(e.code, ErrorCode::kKernelLaunchFailed);
  EXPECT_NE(e.message.find("sticky"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("f.cu:7"), std::string::npos) << e.message;
  EXPECT_TRUE(e.fatal) << "a sticky error must end the worker";
  EXPECT_FALSE(cuda::cuda_error(cudaErrorMemoryAllocation, "cudaMalloc", "f.cu", 8).fatal);
}

}  // namespace
}  // namespace zinfer
