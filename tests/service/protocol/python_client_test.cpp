// Runs tests/service/python/test_client.py: the Python client (clients/python) against a live
// `zinfer serve` on SmolLM2-135M, validating every worker frame against schemas/ and greedy
// tokens against the llama.cpp goldens. Needs the model (skips, or fails under
// ZINFER_REQUIRE_MODELS=1), the zinfer binary, and python3 with pyzmq/msgpack/jsonschema
// (skips, or fails under CI=true).
#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(PythonClient, AgainstALiveWorker) {
  ZINFER_REQUIRE_MODEL(model, "SmolLM2-135M-Instruct.Q4_1.gguf");
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  testing::expect_python_tests_pass("test_client.py", "ZINFER_MODEL='" + model + "'");
}

}  // namespace
}  // namespace zinfer
