// The numerics flags of generate, serve and bench (service/cli/backend_flags.cpp) as the options
// they set: with no flag, per-token numerics on CUDA over Q16 (fp16_prompts_on_cuda with
// q16_on_cuda) and the exact CPU; each flag names one numerics, and two of them are refused.
// What the options resolve to on a device is LlmOptions' own test (llm_device_test; on a GPU,
// CudaLoad.PerTokenNumericsAsTheCudaDefault).
#include "service/cli/backend_flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using zinfer::LlmOptions;

// Parses args (after the command's name) into fresh options; false when CLI11 refuses them.
bool parse(std::vector<std::string> args, LlmOptions& llm) {
  CLI::App app{"test"};
  zinfer::cli::add_backend_flags(&app, llm);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError&) {
    return false;
  }
  return true;
}

TEST(BackendFlags, NoFlagIsPerTokenNumericsOnCudaAndExactOnTheCpu) {
  LlmOptions llm;
  ASSERT_TRUE(parse({}, llm));
  EXPECT_TRUE(llm.fp16_prompts_on_cuda);
  EXPECT_TRUE(llm.q16_on_cuda);
  EXPECT_TRUE(llm.exact_matmul);  // the CPU keeps float dot products
  EXPECT_FALSE(llm.fp16_prompts);
  EXPECT_FALSE(llm.q16_act);
  EXPECT_FALSE(llm.fp16_matmul);
  EXPECT_TRUE(llm.tensor_cores);
  EXPECT_TRUE(llm.batch_invariant);
}

TEST(BackendFlags, EachNumericsFlagSetsItsOwnOption) {
  {
    LlmOptions llm;
    ASSERT_TRUE(parse({"--q16-act"}, llm));
    EXPECT_TRUE(llm.q16_act);  // Q16 for every token: resolution then skips per-token numerics
    EXPECT_FALSE(llm.fp16_prompts);
  }
  {
    LlmOptions llm;
    ASSERT_TRUE(parse({"--fp16-prompts"}, llm));
    EXPECT_TRUE(llm.fp16_prompts);  // on the CPU too
  }
  {
    LlmOptions llm;
    ASSERT_TRUE(parse({"--exact"}, llm));
    EXPECT_FALSE(llm.q16_on_cuda);  // nor per-token numerics: both ride on q16_on_cuda
  }
  {
    LlmOptions llm;
    ASSERT_TRUE(parse({"--q8-act"}, llm));
    EXPECT_FALSE(llm.exact_matmul);
  }
  {
    LlmOptions llm;
    ASSERT_TRUE(parse({"--fp16"}, llm));
    EXPECT_TRUE(llm.fp16_matmul);
  }
}

TEST(BackendFlags, TwoNumericsAreRefused) {
  for (const auto& pair : std::vector<std::vector<std::string>>{{"--fp16-prompts", "--q16-act"},
                                                                {"--fp16-prompts", "--fp16"},
                                                                {"--fp16-prompts", "--q8-act"},
                                                                {"--exact", "--fp16-prompts"},
                                                                {"--exact", "--q16-act"}}) {
    SCOPED_TRACE(pair[0] + " " + pair[1]);
    LlmOptions llm;
    EXPECT_FALSE(parse(pair, llm));
  }
}

}  // namespace
