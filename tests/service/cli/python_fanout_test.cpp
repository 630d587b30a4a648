// Runs tests/service/python/test_fanout.py: the Python client's fan-out
// (clients/python/zinfer_fanout.py) over three live `zinfer serve` workers on the tiny synthetic
// model, one SIGKILLed mid-batch — every job ends exactly once, in input order, its seeded tokens
// equal to a one-worker run with retries, WORKER_LOST (retriable) without. Needs the zinfer
// binary and python3 with pyzmq/msgpack/jsonschema (skips, or fails under CI=true).
#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(PythonFanout, KilledWorkersJobsEndExactlyOnce) {
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  testing::expect_python_tests_pass("test_fanout.py");
}

}  // namespace
}  // namespace zinfer
