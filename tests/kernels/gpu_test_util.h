// Helpers for the GPU tests: skip without a device, a CudaOps and a CpuOps (the oracle) with
// the same KV geometry, host <-> VRAM copies of tensors, NaN poisoning, and an element-wise
// comparison with tolerance atol + rtol·|ref| that also rejects NaN/Inf.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/model/llm.h"
#include "kernels/cuda_context.h"
#include "kernels/device_buffer.h"

namespace zinfer::testing {

inline bool cuda_device_available() {
  int n = 0;
  const bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  (void)cudaGetLastError();
  return ok;
}

// GTEST_SKIP (which returns) when no CUDA device is present.
#define ZINFER_REQUIRE_GPU() \
  if (!::zinfer::testing::cuda_device_available()) GTEST_SKIP() << "no CUDA device"

struct OpsPair {
  std::unique_ptr<cuda::CudaContext> ctx;
  std::unique_ptr<cuda::CudaOps> gpu;
  std::unique_ptr<cpu::CpuOps> cpu;
};

// KV geometry shared by both backends; CpuOps runs the exact (float) matmul path, or with
// act kQ8 both run the Q8-activation path (kQ16: the GPU's Q16 kernels, the CPU exact).
inline OpsPair make_ops_pair(
    std::int32_t n_layer = 1, std::int32_t n_embd_kv = 64, std::int32_t n_blocks = 8,
    std::int32_t block_size = 16, bool batch_invariant = true,
    cuda::CudaOpsConfig::ActQuant act = cuda::CudaOpsConfig::ActQuant::kNone,
    bool tensor_cores = false, bool cpu_q16 = false, bool per_token = false) {
  OpsPair p;
  auto ctx = cuda::CudaContext::create(0);
  EXPECT_TRUE(ctx.ok()) << ctx.error().message;
  if (!ctx.ok()) return p;
  p.ctx = std::move(*ctx);
  cuda::CudaOpsConfig gc{n_layer, n_embd_kv, n_blocks, block_size, batch_invariant, act};
  gc.tensor_cores = tensor_cores;
  gc.f16_prompts = per_token;  // per-token numerics (LlmOptions::fp16_prompts) on both sides
  auto gpu = cuda::CudaOps::create(*p.ctx, gc);
  EXPECT_TRUE(gpu.ok()) << gpu.error().message;
  if (gpu.ok()) p.gpu = std::move(*gpu);
  cpu::CpuOpsConfig cc;
  cc.n_threads = 4;
  cc.exact_matmul = act != cuda::CudaOpsConfig::ActQuant::kQ8;
  cc.q16_act = cpu_q16;  // the CPU's emulation of --q16-act (activations on the Q16 grid)
  cc.fp16_prompts = per_token;
  cc.n_layer = n_layer;
  cc.n_embd_kv = n_embd_kv;
  cc.n_blocks = n_blocks;
  cc.block_size = block_size;
  p.cpu = std::make_unique<cpu::CpuOps>(cc);
  return p;
}

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float stddev = 1.0f,
                                        float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A CpuOps tensor holding host data [rows][cols].
inline model::Tensor cpu_tensor(cpu::CpuOps& ops, const std::vector<float>& host, std::int64_t rows,
                                std::int64_t cols) {
  model::Tensor t = ops.alloc(rows, cols);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c)
      t.data[r * t.stride + c] = host[static_cast<std::size_t>(r * cols + c)];
  }
  return t;
}

// A CudaOps tensor holding host data [rows][cols].
inline model::Tensor gpu_tensor(cuda::CudaOps& ops, const std::vector<float>& host,
                                std::int64_t rows, std::int64_t cols) {
  model::Tensor t = ops.alloc(rows, cols);
  EXPECT_NE(t.data, nullptr);
  EXPECT_EQ(cudaMemcpy2D(t.data, static_cast<std::size_t>(t.stride) * 4, host.data(),
                         static_cast<std::size_t>(cols) * 4, static_cast<std::size_t>(cols) * 4,
                         static_cast<std::size_t>(rows), cudaMemcpyHostToDevice),
            cudaSuccess);
  // The ops run on the context's non-blocking stream, which does not wait for the legacy
  // default stream: finish the copy before anything is queued there.
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  return t;
}

// Fills a device tensor (its used columns) with 0xFF bytes: NaN, so an element a kernel
// failed to write shows up in the NaN check.
inline void poison(model::Tensor t) {
  EXPECT_EQ(cudaMemset2D(t.data, static_cast<std::size_t>(t.stride) * 4, 0xFF,
                         static_cast<std::size_t>(t.cols) * 4, static_cast<std::size_t>(t.rows)),
            cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

inline std::vector<float> download(model::Tensor t) {
  std::vector<float> host(static_cast<std::size_t>(t.rows * t.cols));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(
      cudaMemcpy2D(host.data(), static_cast<std::size_t>(t.cols) * 4, t.data,
                   static_cast<std::size_t>(t.stride) * 4, static_cast<std::size_t>(t.cols) * 4,
                   static_cast<std::size_t>(t.rows), cudaMemcpyDeviceToHost),
      cudaSuccess);
  return host;
}

inline std::vector<float> host_copy(model::Tensor t) {
  std::vector<float> host(static_cast<std::size_t>(t.rows * t.cols));
  for (std::int64_t r = 0; r < t.rows; ++r) {
    for (std::int64_t c = 0; c < t.cols; ++c)
      host[static_cast<std::size_t>(r * t.cols + c)] = t.data[r * t.stride + c];
  }
  return host;
}

// VRAM copy of raw bytes (weights in their block format).
inline cuda::DeviceBuffer device_bytes(cuda::CudaContext& ctx, const void* data, std::size_t n) {
  auto buf = cuda::DeviceBuffer::allocate(ctx.ledger(), n, "test data");
  EXPECT_TRUE(buf.ok()) << buf.error().message;
  if (!buf.ok()) return {};
  EXPECT_EQ(cudaMemcpy(buf->data(), data, n, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  return std::move(*buf);
}

// One model loaded twice with the same options: on the CPU (the oracle) and on "cuda". The
// CPU side ignores q16_act: the GPU's Q16 mode is checked against the exact path.
struct LlmPair {
  std::unique_ptr<Llm> cpu;
  std::unique_ptr<Llm> gpu;
  bool ok() const { return cpu != nullptr && gpu != nullptr; }
};

// Test failures name the side that did not load (then !ok()).
inline LlmPair load_cpu_and_gpu(LlmOptions lo) {
  LlmOptions cpu_lo = lo;
  cpu_lo.device = "cpu";
  cpu_lo.q16_act = false;
  auto cpu = Llm::load(cpu_lo);
  EXPECT_TRUE(cpu.ok()) << "cpu: " << cpu.error().message;
  lo.device = "cuda";
  auto gpu = Llm::load(lo);
  EXPECT_TRUE(gpu.ok()) << "cuda: " << gpu.error().message;
  if (!cpu.ok() || !gpu.ok()) return {};
  return {std::move(*cpu), std::move(*gpu)};
}

// Every got[i] finite and |got[i] - ref[i]| <= atol + rtol·|ref[i]| (or atol_i when given).
inline ::testing::AssertionResult all_close(const std::vector<float>& got,
                                            const std::vector<float>& ref, double atol, double rtol,
                                            const std::vector<double>* atol_each = nullptr) {
  if (got.size() != ref.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs reference " << ref.size();
  }
  std::size_t bad = 0, first = 0, non_finite = 0;
  double max_diff = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) {
      if (non_finite++ == 0 && bad == 0) first = i;
      ++bad;
      continue;
    }
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    max_diff = std::max(max_diff, d);
    const double tol = (atol_each != nullptr ? (*atol_each)[i] : atol) +
                       rtol * std::fabs(static_cast<double>(ref[i]));
    if (!(d <= tol)) {
      if (bad++ == 0) first = i;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "max |diff| " << max_diff;
  return ::testing::AssertionFailure()
         << bad << " of " << got.size() << " elements off (" << non_finite << " NaN/Inf); first at "
         << first << ": got " << got[first] << ", reference " << ref[first] << "; max |diff| "
         << max_diff;
}

}  // namespace zinfer::testing
