// Start-up on the GPU:
//  - ResidencyIsVerifiedAndReported: a model loads with every weight and KV buffer verified
//    as plain device memory (cudaPointerGetAttributes), and the report adds up.
//  - ModelLargerThanTheDeviceFailsWithVramOom: a synthetic Llama-3-8B-shaped model in F32 with
//    enough layers to exceed the card's free memory (a sparse file: the data are holes, so
//    it costs no disk) fails to load with kOutOfMemory stating the needed and free bytes,
//    before any weight is uploaded; the device is left as it was and still usable.
//  - BackendFactoryIsLinked (runs without a device too): the factory that zinfer_backend_cuda
//    registers from a static initializer is in this program; a registration the linker
//    dropped would make "cuda" fail with "not linked".
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

std::size_t free_vram() {
  std::size_t free_b = 0, total_b = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_b, &total_b), cudaSuccess);
  return free_b;
}

TEST(CudaStartup, BackendFactoryIsLinked) {
  LlmOptions lo = testing::tiny_llama_options("startup_linked.gguf");
  ASSERT_FALSE(lo.model_path.empty());
  lo.device = "cuda";
  auto llm = Llm::load(lo);
  if (testing::cuda_device_available()) {
    EXPECT_TRUE(llm.ok()) << llm.error().message;
  } else {
    ASSERT_FALSE(llm.ok());
    EXPECT_EQ(llm.error().message.find("not linked"), std::string::npos) << llm.error().message;
  }
}

TEST(CudaStartup, ResidencyIsVerifiedAndReported) {
  ZINFER_REQUIRE_GPU();
  const std::string path =
      testing::write_synthetic("tiny-qwen2", quant::GgmlType::kQ4_K, "startup_tiny.gguf");
  ASSERT_FALSE(path.empty());
  LlmOptions lo = testing::llm_options(path, 256, 4);
  lo.device = "auto";  // a GPU is present: auto means cuda:0
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  EXPECT_EQ((*llm)->options().device, "cuda:0");
  const model::DeviceReport r = (*llm)->device_report();
  EXPECT_TRUE(r.vram_resident);
  EXPECT_EQ(r.name.rfind("cuda:0 (", 0), 0u) << r.name;
  EXPECT_GT(r.weight_bytes, 0u);
  EXPECT_GT(r.kv_bytes, 0u);
  EXPECT_GE(r.device_bytes, r.weight_bytes + r.kv_bytes);
  std::printf("%s: weights %zu B, KV %zu B, held %zu B, resident %d\n", r.name.c_str(),
              static_cast<std::size_t>(r.weight_bytes), static_cast<std::size_t>(r.kv_bytes),
              static_cast<std::size_t>(r.device_bytes), r.vram_resident ? 1 : 0);
}

TEST(CudaStartup, ModelLargerThanTheDeviceFailsWithVramOom) {
  ZINFER_REQUIRE_GPU();
  const std::size_t free_before = free_vram();
  model::SyntheticOptions o;
  o.preset = "llama-3-8b";
  o.type = quant::GgmlType::kF32;
  o.zero_sparse = true;
  // One F32 layer of Llama-3-8B is ~0.87 GB; embeddings + output ~4.2 GB.
  const double layer_bytes = 218.1e6 * 4;
  o.n_layers = std::min(
      1024, static_cast<int>((static_cast<double>(free_before) * 1.1 - 4.2e9) / layer_bytes) + 2);
  const std::string path = testing::temp_dir() + "/startup_too_big.gguf";
  auto written = model::write_synthetic_model(o, path);
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_GT(written->file_size, free_before) << "the model must exceed the free VRAM";

  LlmOptions lo;
  lo.model_path = path;
  lo.device = "cuda";
  lo.n_ctx = 256;
  auto llm = Llm::load(lo);
  ASSERT_FALSE(llm.ok()) << "a " << written->file_size << "-byte model loaded into " << free_before
                         << " free bytes";
  EXPECT_EQ(llm.error().code, ErrorCode::kOutOfMemory) << llm.error().message;
  const std::string& msg = llm.error().message;
  EXPECT_NE(msg.find("needs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
  std::printf("%.1f GB model, %.1f GB free: %s\n", static_cast<double>(written->file_size) / 1e9,
              static_cast<double>(free_before) / 1e9, msg.c_str());
  std::filesystem::remove(path);

  // Nothing was left allocated, and the device still works.
  EXPECT_GE(free_vram() + (64u << 20), free_before);
  lo.model_path =
      testing::write_synthetic("tiny-llama", quant::GgmlType::kQ8_0, "startup_small.gguf");
  ASSERT_FALSE(lo.model_path.empty());
  auto ok = Llm::load(lo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  const std::vector<std::int32_t> prompt = {1, 2, 3};
  sched::SequenceRunner run(**ok);
  EXPECT_TRUE(run.forward(0, prompt, false).ok());
}

}  // namespace
}  // namespace zinfer
