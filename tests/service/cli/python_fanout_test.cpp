// Runs tests/service/python/test_fanout.py: the Python client's fan-out
// (clients/python/zinfer_fanout.py) over three live `zinfer serve` workers on the tiny synthetic
// model, one SIGKILLed mid-batch — every job ends exactly once, in input order, its seeded tokens
// equal to a one-worker run with retries, WORKER_LOST (retriable) without. Needs the zinfer
// binary and python3 with pyzmq/msgpack/jsonschema (skips, or fails under CI=true).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(PythonFanout, KilledWorkersJobsEndExactlyOnce) {
  const std::string binary = std::string(ZINFER_BINARY_DIR) + "/bin/zinfer";
  ASSERT_TRUE(std::filesystem::exists(binary)) << binary << " not built";
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  const std::string log = testing::temp_dir() + "/python_fanout.log";
  const std::string cmd = "ZINFER_BIN='" + binary + "' python3 '" + std::string(ZINFER_SOURCE_DIR) +
                          "/tests/service/python/test_fanout.py' -v > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  const std::string out = testing::read_file(log);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  EXPECT_EQ(out.find("skipped"), std::string::npos) << out;
  std::printf("%s", out.c_str());
}

}  // namespace
}  // namespace zinfer
