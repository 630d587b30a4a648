// Runs tests/service/python/test_nats.py: the Python client's JetStream path
// (clients/python/zinfer_nats.py, nats-py) against a live nats-server and worker, compared
// with `zinfer submit --nats`. Skips without nats-server or nats-py (scripts/setup.sh installs
// both).
#include <gtest/gtest.h>

#include "tests/service/nats/nats_harness.h"

namespace zinfer::nats_testing {
namespace {

TEST(PythonNats, SubmitBatchMatchesTheCli) {
  REQUIRE_NATS_SERVER();
  if (std::system("python3 -c 'import nats, msgpack, zmq' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 lacks nats-py: pip install -r clients/python/requirements.txt";
  ASSERT_FALSE(tiny_model().empty());
  const std::string dir = zinfer::testing::temp_dir() + "/python_nats";
  NatsServer server(dir);
  ASSERT_TRUE(server.start());
  Child worker(worker_argv(server.url(), "ipc://" + dir + "/w.sock"), dir + "/worker.log");
  write_jobs(dir + "/jobs.jsonl", "pn-", 30, 12);
  const std::string cmd = "python3 '" + std::string(ZINFER_SOURCE_DIR) +
                          "/tests/service/python/test_nats.py' " + server.url() + " '" +
                          zinfer_bin() + "' '" + dir + "/jobs.jsonl' '" + dir + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  std::printf("%s", out.c_str());
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(30000), 0);
}

}  // namespace
}  // namespace zinfer::nats_testing
