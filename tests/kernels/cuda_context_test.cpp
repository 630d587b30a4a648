// CudaContext, DeviceBuffer / PinnedBuffer, the residency check, the VRAM ledger, and the
// CUDA backend's KV pool planning (pure arithmetic: runs without a device).
#include "kernels/cuda_context.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>

#include "engine/backend/cuda/cuda_backend.h"
#include "kernels/device_buffer.h"
#include "kernels/residency.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

TEST(CudaContext, CreatesDeviceZeroWithStreamAndCublas) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  const auto& info = (*ctx)->info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GT(info.total_bytes, std::size_t{1} << 30);
  EXPECT_NE((*ctx)->stream(), nullptr);
  EXPECT_NE((*ctx)->cublas(), nullptr);
  auto mem = (*ctx)->mem_info();
  ASSERT_TRUE(mem.ok()) << mem.error().message;
  EXPECT_GT(mem->free_bytes, 0u);
  EXPECT_LE(mem->free_bytes, mem->total_bytes);
  EXPECT_TRUE((*ctx)->synchronize().ok());
  std::printf("%s\n", (*ctx)->describe().c_str());
}

TEST(CudaContext, RejectsOutOfRangeDevice) {
  ZINFER_REQUIRE_GPU();
  int n = 0;
  ASSERT_EQ(cudaGetDeviceCount(&n), cudaSuccess);
  for (int bad : {n, n + 7, -1}) {
    auto ctx = cuda::CudaContext::create(bad);
    ASSERT_FALSE(ctx.ok()) << "device " << bad;
    EXPECT_EQ(ctx.error().code, ErrorCode::kInvalidDevice);
    EXPECT_NE(ctx.error().message.find(std::to_string(bad)), std::string::npos)
        << ctx.error().message;
  }
}

TEST(DeviceBuffer, IsResidentCountedAndFreed) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok());
  cuda::VramLedger& ledger = (*ctx)->ledger();
  const std::size_t before = ledger.in_use();
  {
    auto buf = cuda::DeviceBuffer::allocate(ledger, 3 << 20, "test buffer");
    ASSERT_TRUE(buf.ok()) << buf.error().message;
    EXPECT_EQ(buf->size(), std::size_t{3} << 20);
    EXPECT_EQ(ledger.in_use(), before + (3 << 20));
    EXPECT_TRUE(cuda::check_vram_resident(buf->data(), "test buffer").ok());
    cuda::DeviceBuffer moved = std::move(*buf);  // move-only; the moved-from buffer is empty
    EXPECT_FALSE(static_cast<bool>(*buf));
    EXPECT_EQ(ledger.in_use(), before + (3 << 20));
  }
  EXPECT_EQ(ledger.in_use(), before);
  EXPECT_GE(ledger.peak(), before + (3 << 20));
}

TEST(Residency, RejectsHostMemory) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok());
  auto pinned = cuda::PinnedBuffer::allocate(4096);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  Status st = cuda::check_vram_resident(pinned->data(), "pinned staging");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kVramResidencyFailed);
  EXPECT_NE(st.error().message.find("pinned staging"), std::string::npos) << st.error().message;

  std::vector<float> pageable(1024);
  st = cuda::check_vram_resident(pageable.data(), "pageable vector");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kVramResidencyFailed);

  st = cuda::check_vram_resident(nullptr, "null");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kVramResidencyFailed);
}

TEST(DeviceBuffer, OutOfMemoryIsTypedAndNotSticky) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok());
  const std::size_t huge = (*ctx)->info().total_bytes * 4;
  auto buf = cuda::DeviceBuffer::allocate((*ctx)->ledger(), huge, "a huge buffer");
  ASSERT_FALSE(buf.ok());
  EXPECT_EQ(buf.error().code, ErrorCode::kOutOfMemory);
  EXPECT_NE(buf.error().message.find("a huge buffer"), std::string::npos) << buf.error().message;
  EXPECT_NE(buf.error().message.find(std::to_string(huge)), std::string::npos)
      << buf.error().message;
  EXPECT_NE(buf.error().message.find("bytes free"), std::string::npos) << buf.error().message;
  // The context keeps working.
  auto small = cuda::DeviceBuffer::allocate((*ctx)->ledger(), 1024, "small");
  EXPECT_TRUE(small.ok()) << small.error().message;
  EXPECT_TRUE((*ctx)->synchronize().ok());
}

model::BackendConfig smol_like_config() {
  model::BackendConfig c;
  c.n_layer = 30;
  c.n_embd_kv = 192;
  c.kv_block_size = 16;
  c.n_ctx = 4096;
  c.n_seq_max = 8;
  return c;
}

TEST(KvPlan, AutomaticPoolIsCappedByContextsAndFreeMemory) {
  const model::BackendConfig c = smol_like_config();
  const std::int64_t block_bytes = 2LL * 30 * 192 * 4 * 16;
  // Plenty of VRAM: n_ctx * n_seq_max tokens.
  auto big = cuda::plan_kv_pool(c, 100 << 20, 80LL << 30, 0);
  ASSERT_TRUE(big.ok()) << big.error().message;
  EXPECT_EQ(big->blocks, 4096 * 8 / 16);
  EXPECT_EQ(big->bytes, big->blocks * block_bytes);
  // Tight VRAM: 90% of what is left after weights and the reserve.
  const std::int64_t weights = 100 << 20;
  const std::int64_t free_b = weights + cuda::kWorkingReserveBytes + 400 * block_bytes;
  auto tight = cuda::plan_kv_pool(c, weights, free_b, 0);
  ASSERT_TRUE(tight.ok()) << tight.error().message;
  EXPECT_EQ(tight->blocks,
            static_cast<std::int32_t>(400 * block_bytes * cuda::kKvFreeFraction / block_bytes));
}

TEST(KvPlan, OutOfMemoryNamesNeededAndFreeBytes) {
  const model::BackendConfig c = smol_like_config();
  const std::int64_t weights = 1LL << 30;
  auto r = cuda::plan_kv_pool(c, weights, weights, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfMemory);
  const std::int64_t kv = 2LL * 30 * 192 * 4 * 4096;
  const std::int64_t needed = weights + kv + cuda::kWorkingReserveBytes;
  EXPECT_NE(r.error().message.find(std::to_string(needed)), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(std::to_string(weights) + " bytes are free"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("cuda:3"), std::string::npos) << r.error().message;
}

TEST(KvPlan, ExplicitBudgetIsHonouredOrRejected) {
  model::BackendConfig c = smol_like_config();
  const std::int64_t block_bytes = 2LL * 30 * 192 * 4 * 16;
  c.kv_cache_bytes = 300 * block_bytes + 5;
  auto r = cuda::plan_kv_pool(c, 1 << 20, 80LL << 30, 0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->blocks, 300);
  c.kv_cache_bytes = 10 * block_bytes;  // fewer than n_ctx tokens
  r = cuda::plan_kv_pool(c, 1 << 20, 80LL << 30, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfMemory);
  c.kv_cache_bytes = 100LL << 30;  // more than is free
  r = cuda::plan_kv_pool(c, 1 << 20, 80LL << 30, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOutOfMemory);
}

}  // namespace
}  // namespace zinfer
