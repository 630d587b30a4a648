// Runs tests/service/python/test_client.py: the Python client (clients/python) against a live
// `zinfer serve` on SmolLM2-135M, validating every worker frame against schemas/ and greedy
// tokens against the llama.cpp goldens. Needs the model (skips, or fails under
// ZINFER_REQUIRE_MODELS=1), the zinfer binary, and python3 with pyzmq/msgpack/jsonschema
// (skips, or fails under CI=true).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(PythonClient, AgainstALiveWorker) {
  ZINFER_REQUIRE_MODEL(model, "SmolLM2-135M-Instruct.Q4_1.gguf");
  const std::string binary = std::string(ZINFER_BINARY_DIR) + "/bin/zinfer";
  ASSERT_TRUE(std::filesystem::exists(binary)) << binary << " not built";
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  const std::string log = testing::temp_dir() + "/python_client.log";
  const std::string cmd = "ZINFER_BIN='" + binary + "' ZINFER_MODEL='" + model + "' python3 '" +
                          std::string(ZINFER_SOURCE_DIR) +
                          "/tests/service/python/test_client.py' -v > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string out = testing::read_file(log);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  EXPECT_EQ(out.find("skipped"), std::string::npos) << out;
}

}  // namespace
}  // namespace zinfer
