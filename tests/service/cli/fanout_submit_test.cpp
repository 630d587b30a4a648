// `zinfer submit --connect A --connect B --connect C`: jobs spread over three workers without a
// broker; one worker is SIGKILLed mid-batch. With --retries its jobs run again on the others
// (results complete, in input order, seeded tokens equal to a one-worker run); with
// --retries 0 they come back WORKER_LOST, retriable.
#include <gtest/gtest.h>

#include "tests/service/cli/batch_harness.h"

namespace zinfer::batch_testing {
namespace {

std::string test_dir() {
  std::string d = zinfer::testing::temp_dir() + "/" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(d);
  return d;
}

struct ThreeWorkers {
  explicit ThreeWorkers(const std::string& dir) {
    for (int w = 0; w < 3; ++w) {
      const std::string ep = "ipc://" + dir + "/w" + std::to_string(w) + ".sock";
      endpoints.push_back(ep);
      procs.push_back(std::make_unique<Child>(
          std::vector<std::string>{zinfer_bin(), "serve", "--model", tiny_model(), "--device",
                                   "cpu", "--threads", "1", "--bind", ep, "--max-running", "4",
                                   "--log-level", "warn"},
          dir + "/worker" + std::to_string(w) + ".log"));
    }
  }
  std::vector<std::string> endpoints;
  std::vector<std::unique_ptr<Child>> procs;
};

std::size_t line_count(const std::string& path) { return read_lines(path).size(); }

// Runs the batch over all three workers and SIGKILLs worker 0 once a tenth of it is back.
int run_with_a_kill(ThreeWorkers& w, const std::string& dir, const std::string& jobs,
                    const std::string& out, int retries, int n) {
  std::vector<std::string> argv = {zinfer_bin(), "submit"};
  for (const auto& ep : w.endpoints) {
    argv.push_back("--connect");
    argv.push_back(ep);
  }
  for (const std::string& a :
       {std::string("-i"), jobs, std::string("-o"), out, std::string("--worker-timeout"),
        std::string("2"), std::string("--retries"), std::to_string(retries)}) {
    argv.push_back(a);
  }
  Child submit(argv, dir + "/submit.log");
  const auto until = Clock::now() + std::chrono::seconds(60);
  while (line_count(out) < static_cast<std::size_t>(n / 10) && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  w.procs[0]->signal(SIGKILL);
  return submit.wait(120000);
}

TEST(FanoutSubmit, KilledWorkersJobsAreRetriedOnTheOthersInInputOrder) {
  ASSERT_FALSE(tiny_model().empty());
  const std::string dir = test_dir();
  ThreeWorkers w(dir);
  const int n = 300;
  const std::string jobs = dir + "/jobs.jsonl";
  write_jobs(jobs, "fan-", n, 48);
  EXPECT_EQ(run_with_a_kill(w, dir, jobs, dir + "/out.jsonl", 3, n), 0)
      << read_all(dir + "/submit.log");
  const auto out = read_lines(dir + "/out.jsonl");
  ASSERT_EQ(out.size(), static_cast<std::size_t>(n));
  const std::string log = read_all(dir + "/submit.log");
  std::printf("%s", log.c_str());
  EXPECT_NE(log.find("resubmitted after their worker was lost"), std::string::npos);
  // The same batch on one surviving worker.
  const std::string cmd = "'" + zinfer_bin() + "' submit --connect " + w.endpoints[1] + " -i '" +
                          jobs + "' -o '" + dir + "/single.jsonl' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto single = read_lines(dir + "/single.jsonl");
  ASSERT_EQ(single.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(out[i]["job_id"], "fan-" + std::to_string(i));  // input order
    EXPECT_EQ(out[i].value("finish_reason", ""), "length") << out[i].dump();
    EXPECT_EQ(out[i]["tokens"], single[i]["tokens"]) << out[i]["job_id"];
  }
}

TEST(FanoutSubmit, WithoutRetriesTheLostJobsAreWorkerLost) {
  ASSERT_FALSE(tiny_model().empty());
  const std::string dir = test_dir();
  ThreeWorkers w(dir);
  const int n = 300;
  const std::string jobs = dir + "/jobs.jsonl";
  write_jobs(jobs, "lost-", n, 48);
  EXPECT_EQ(run_with_a_kill(w, dir, jobs, dir + "/out.jsonl", 0, n), 1);
  const auto out = read_lines(dir + "/out.jsonl");
  ASSERT_EQ(out.size(), static_cast<std::size_t>(n));
  int lost = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(out[i]["job_id"], "lost-" + std::to_string(i));
    if (out[i].contains("error")) {
      EXPECT_EQ(out[i]["error"]["code"], "WORKER_LOST");
      EXPECT_EQ(out[i]["error"]["retriable"], true);
      ++lost;
    } else {
      EXPECT_EQ(out[i]["finish_reason"], "length");
    }
  }
  std::printf("%d of %d jobs came back WORKER_LOST\n", lost, n);
  EXPECT_GT(lost, 0);
}

}  // namespace
}  // namespace zinfer::batch_testing
