// Llm::load in a program that does not link the CUDA backend (every CPU test binary):
//  - device selection: "cuda" and "cuda:N" are well-formed but unavailable, anything else is
//    not a device; both are kInvalidDevice naming the device, and "cpu" and "auto" load on
//    the CPU;
//  - the tensor types the Llm reports are the file's, each once.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/model/llm.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(LlmDevice, CudaWithoutBackendAndBadNamesAreInvalidDevice) {
  LlmOptions lo = testing::tiny_llama_options("llm_device.gguf");
  ASSERT_FALSE(lo.model_path.empty());
  lo.n_threads = 1;
  for (const char* dev : {"cuda", "cuda:0", "cuda:3", "gpu", "cuda:", "cuda:x", "CPU"}) {
    lo.device = dev;
    auto r = Llm::load(lo);
    ASSERT_FALSE(r.ok()) << dev;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidDevice) << dev << ": " << r.error().message;
    EXPECT_NE(r.error().message.find("cuda"), std::string::npos)
        << dev << ": " << r.error().message;
  }
  lo.device = "cpu";
  auto ok = Llm::load(lo);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_GT((*ok)->kv_blocks(), 0);
  EXPECT_FALSE((*ok)->device_report().vram_resident);
  // "auto" without a CUDA backend (or device) is the CPU, and the options say so.
  lo.device = "auto";
  auto autodev = Llm::load(lo);
  ASSERT_TRUE(autodev.ok()) << autodev.error().message;
  EXPECT_EQ((*autodev)->options().device, "cpu");
  // The CLI's default numerics (Q16 activations on CUDA) leave the CPU exact.
  lo.q16_on_cuda = true;
  auto cpu_default = Llm::load(lo);
  ASSERT_TRUE(cpu_default.ok()) << cpu_default.error().message;
  EXPECT_FALSE((*cpu_default)->options().q16_act);
  EXPECT_TRUE((*cpu_default)->options().exact_matmul);
  // So does per-token numerics as a CUDA default (fp16_prompts_on_cuda).
  lo.fp16_prompts_on_cuda = true;
  auto cpu_per_token = Llm::load(lo);
  ASSERT_TRUE(cpu_per_token.ok()) << cpu_per_token.error().message;
  EXPECT_FALSE((*cpu_per_token)->options().fp16_prompts);
  EXPECT_FALSE((*cpu_per_token)->options().q16_act);
}

TEST(LlmLoad, TensorTypesAreTheFilesEachOnce) {
  // Q4_K matrices; norms and biases are F32, so the file holds at least two types.
  const std::string path =
      testing::write_synthetic("tiny-qwen2", quant::GgmlType::kQ4_K, "llm_types.gguf");
  ASSERT_FALSE(path.empty());
  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  std::set<std::string> want;
  for (const auto& t : (*file)->tensors()) want.insert(std::string(quant::type_name(t.type)));
  ASSERT_GE(want.size(), 2u);

  auto llm = Llm::load(testing::llm_options(path, 64, 1));
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  EXPECT_EQ((*llm)->tensor_types(), std::vector<std::string>(want.begin(), want.end()));
}

}  // namespace
}  // namespace zinfer
