// Runs tests/service/python/test_curve.py: the Python client's CurveZMQ side (CurveKeys, key
// files from `zinfer keygen`) against a live `zinfer serve` bound on tcp://127.0.0.2 with
// --curve-secret-key/--curve-authorized-keys: an authorized key streams a job; an unknown key
// and a plaintext client get nothing. Needs the zinfer binary and python3 with
// pyzmq/msgpack/jsonschema (skips, or fails under CI=true).
#include <gtest/gtest.h>

#include <string>

#include "tests/test_util.h"

namespace zinfer {
namespace {

TEST(PythonCurve, OnlyAnAuthorizedKeyGetsAnswers) {
  ZINFER_REQUIRE_PYTHON_CLIENT_MODULES();
  testing::expect_python_tests_pass("test_curve.py");
}

}  // namespace
}  // namespace zinfer
