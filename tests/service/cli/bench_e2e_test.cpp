// `zinfer bench --e2e` on the CPU with the real SmolLM2: a real `zinfer serve` child over ipc
// and tcp, then the shared-system-prompt workload with the prefix cache on and off. Checks the
// report against what the clients received (its --results file): job and token counts, frame
// counts, the number of TTFT and inter-token samples, prefix-cache hits, and that every run
// gave every job the same seeded tokens as the engine alone. Timing is not checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/service/cli/zinfer_process.h"
#include "tests/test_util.h"

namespace zinfer::testing {
namespace {

using json = nlohmann::json;

constexpr int kJobs = 3;
constexpr int kTokens = 5;
constexpr int kPrompt = 20;
constexpr int kShared = 32;  // two 16-token KV blocks

TEST(BenchE2e, ReportMatchesWhatTheClientsReceived) {
  REQUIRE_ZINFER_BINARY();
  ZINFER_REQUIRE_MODEL(model, "SmolLM2-135M-Instruct.Q4_1.gguf");
  const std::string dir = temp_dir() + "/bench_e2e";
  std::filesystem::create_directories(dir);
  const std::string results = dir + "/results.jsonl";
  const RunResult r = run_zinfer(
      "bench --e2e --model '" + model + "' --device cpu --threads 2 --jobs " +
      std::to_string(kJobs) + " --tokens " + std::to_string(kTokens) + " --prompt-tokens " +
      std::to_string(kPrompt) + " --shared-prefix " + std::to_string(kShared) +
      " --clients 2 --timeout 300 --json --results '" + results + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json report = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << "stdout is one JSON object: " << r.out;
  EXPECT_EQ(report["mode"], "e2e");
  EXPECT_TRUE(report["ok"].get<bool>());
  EXPECT_EQ(report["device"], "cpu");
  EXPECT_EQ(report["workload"]["jobs"], kJobs);
  EXPECT_EQ(report["workload"]["max_running"], kJobs);

  // What the clients received, per run.
  std::map<std::string, std::vector<json>> received;
  std::ifstream in(results);
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    received[j["run"]].push_back(j);
  }
  const std::vector<std::string> expected_runs = {"engine", "unique/ipc", "unique/tcp",
                                                  "shared/ipc/cache-on", "shared/ipc/cache-off"};
  ASSERT_EQ(received.size(), expected_runs.size());
  std::vector<json> runs = report["runs"].get<std::vector<json>>();
  runs.insert(runs.begin(), report["engine"]);
  ASSERT_EQ(runs.size(), expected_runs.size());

  std::map<std::string, std::vector<std::vector<int>>> tokens_by_workload;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const json& run = runs[k];
    const std::string name = run["name"];
    EXPECT_EQ(name, expected_runs[k]);
    SCOPED_TRACE(name);
    const std::vector<json>& jobs = received[name];
    ASSERT_EQ(jobs.size(), static_cast<std::size_t>(kJobs));
    const bool shared = run["workload"] == "shared";
    std::size_t tokens = 0, frames = 0, gaps = 0;
    std::set<std::string> ids;
    std::vector<std::vector<int>> job_tokens;
    for (const json& j : jobs) {
      ids.insert(j["job_id"].get<std::string>());
      EXPECT_EQ(j["tokens"].size(), static_cast<std::size_t>(kTokens)) << j.dump();
      EXPECT_EQ(j["completion_tokens"], kTokens) << j.dump();
      EXPECT_EQ(j["finish_reason"], "length");
      EXPECT_EQ(j["prompt_tokens"], shared ? kShared + kPrompt : kPrompt);
      EXPECT_FALSE(j.contains("error")) << j.dump();
      EXPECT_TRUE(j.contains("ttft_ms"));
      tokens += j["tokens"].size();
      frames += j["frames"].get<std::size_t>();
      gaps += j["frames"].get<std::size_t>() - 1;  // one token per frame
      job_tokens.push_back(j["tokens"].get<std::vector<int>>());
    }
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(kJobs));
    EXPECT_EQ(run["jobs"], kJobs);
    EXPECT_EQ(run["jobs_ok"], kJobs);
    EXPECT_EQ(run["jobs_failed"], 0);
    EXPECT_EQ(run["output_tokens"].get<std::size_t>(), tokens);
    EXPECT_EQ(run["frames"].get<std::size_t>(), frames);
    EXPECT_EQ(frames, static_cast<std::size_t>(kJobs * kTokens)) << "one frame per token";
    EXPECT_EQ(run["ttft_ms"]["n"], kJobs);
    EXPECT_EQ(run["itl_ms"]["n"].get<std::size_t>(), gaps);
    EXPECT_GT(run["tokens_per_s"].get<double>(), 0.0);
    EXPECT_LE(run["ttft_ms"]["p50"].get<double>(), run["ttft_ms"]["p99"].get<double>());
    if (k > 0) {
      EXPECT_GT(run["engine_steps"].get<int>(), 0);
    }
    // The bench's own comparison: unique prompts against the engine alone, the cache-off run
    // against the cache-on one (the first of its workload has nothing to be compared with).
    if (name != "engine" && name != "shared/ipc/cache-on") {
      ASSERT_TRUE(run.contains("tokens_compared_with")) << run.dump();
      EXPECT_EQ(run["tokens_compared_with"], shared ? "shared/ipc/cache-on" : "engine");
      EXPECT_EQ(run["jobs_with_other_tokens"], 0);
    }
    if (run["workload"] == "unique" && k > 0) {
      EXPECT_GT(run["ratio_vs_engine"].get<double>(), 0.0);
    }
    // The prefix cache: every shared-workload job reuses the two system-prompt blocks the
    // warm-up job stored; none without the cache, none among unique prompts.
    const int cached = run["prompt_tokens_cached"];
    if (name == "shared/ipc/cache-on") {
      EXPECT_EQ(cached, kJobs * kShared);
    } else {
      EXPECT_EQ(cached, 0);
    }
    // Seeded sampling is batch-invariant: the same tokens in every run of a workload.
    auto& first = tokens_by_workload[run["workload"]];
    if (first.empty()) {
      first = job_tokens;
    } else {
      EXPECT_EQ(job_tokens, first);
    }
  }
}

TEST(BenchE2e, RefusesBadFlags) {
  REQUIRE_ZINFER_BINARY();
  const RunResult no_model = run_zinfer("bench --e2e 2>&1");
  EXPECT_EQ(no_model.exit_code, 2) << no_model.out;
  EXPECT_NE(no_model.out.find("--model"), std::string::npos) << no_model.out;
  const RunResult bad_transport =
      run_zinfer("bench --e2e --model /nonexistent.gguf --transport udp 2>&1");
  EXPECT_EQ(bad_transport.exit_code, 2) << bad_transport.out;
  EXPECT_NE(bad_transport.out.find("--transport"), std::string::npos) << bad_transport.out;
}

}  // namespace
}  // namespace zinfer::testing
