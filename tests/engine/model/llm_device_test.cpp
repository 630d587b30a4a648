// Device selection in Llm::load for a program that does not link the CUDA backend (every CPU
// test binary): "cuda" and "cuda:N" are well-formed but unavailable, anything else is not a
// device; both are kInvalidDevice naming the device, and "cpu" and "auto" load on the CPU.
#include <gtest/gtest.h>

#include <string>

#include "engine/model/llm.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(LlmDevice, CudaWithoutBackendAndBadNamesAreInvalidDevice) {
  model::SyntheticOptions o;
  o.preset = "tiny-llama";
  o.type = quant::GgmlType::kQ8_0;
  const std::string path = testing::temp_dir() + "/llm_device.gguf";
  ASSERT_TRUE(model::write_synthetic_model(o, path).ok());
  LlmOptions lo;
  lo.model_path = path;
  lo.n_ctx = 64;
  lo.n_seq_max = 1;
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
}

}  // namespace
}  // namespace zinfer
