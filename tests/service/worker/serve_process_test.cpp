// The built `zinfer serve` and `zinfer submit` binaries as separate processes: SIGTERM drains a
// real worker (running job finishes, new submits get DRAINING, exit status 0); bad flags are
// refused at start-up naming the flag; `zinfer submit` runs a JSONL batch against it, and its
// greedy answers equal a standalone generation (Llm::forward + Sequence) of the same prompt;
// `serve --metrics` answers a Prometheus scrape that counts the job it ran.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "tests/service/worker/metrics_scrape.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

std::string zinfer_bin() { return std::string(ZINFER_BINARY_DIR) + "/bin/zinfer"; }

// Runs a command line, returning (exit status, stdout+stderr).
std::pair<int, std::string> run_cmd(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// `zinfer serve` as a child process.
class ServeProcess {
 public:
  ServeProcess(const std::string& model, const std::string& endpoint,
               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {zinfer_bin(),      "serve",  "--model",       model,
                                     "--bind",          endpoint, "--ctx",         "512",
                                     "--threads",       "2",      "--max-running", "4",
                                     "--drain-timeout", "30",     "--log-level",   "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) { kill(pid_, sig); }
  // Exit status, or -1 if it has not exited within timeout_ms.
  int wait(int timeout_ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < end) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

bool wait_ready(Client& cl, int timeout_ms) {
  cl.send(request("health"));
  return cl.pump_until([&] { return !cl.others["health"].empty(); }, timeout_ms);
}

TEST(ServeProcess, SigtermDrainsTheWorkerAndExitsZero) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string ep = "ipc://" + zinfer::testing::temp_dir() + "/serve_sigterm.sock";
  ServeProcess serve(model, ep);
  Context ctx;
  Client cl(ctx.get(), ep);
  ASSERT_TRUE(wait_ready(cl, 60000)) << "zinfer serve did not answer health";
  EXPECT_EQ(cl.others["health"][0]["status"], "ready");
  // Long enough that "a" still runs when "b" arrives 100 ms after the signal: with 12 tokens the
  // 2x faster CPU path finished it first (the worker, drained, exited; "b" got no answer).
  cl.send(submit("a", {{"prompt", "Write a short poem."},
                       {"max_tokens", 64},
                       {"ignore_eos", true},
                       {"temperature", 0}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("a", "token") >= 1; }));
  serve.signal(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  cl.send(submit("b", {{"prompt", "Hi"}, {"max_tokens", 2}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("a") && cl.has_terminal("b"); }));
  expect_job_invariant(cl.jobs["a"], "a");
  EXPECT_EQ(cl.last("a")["finish_reason"], "length");
  EXPECT_EQ(collect(cl.jobs["a"]).tokens.size(), 64u);
  expect_job_invariant(cl.jobs["b"], "b", /*accepted_expected=*/false);
  EXPECT_EQ(cl.last("b")["code"], "DRAINING");
  EXPECT_EQ(serve.wait(30000), 0) << "zinfer serve must exit 0 after draining";
}

// --metrics through the real binary, which links the CUDA backend wherever the build has it:
// its static TLS (~126 KiB with cuBLAS) once made civetweb's 100 KiB-stack threads impossible
// and `serve --metrics` fail at start-up, while the in-process worker_metrics_test (no CUDA
// linked) passed. The endpoint must answer while the worker runs and count the job it ran.
TEST(ServeProcess, MetricsEndpointServesPrometheusText) {
#ifndef ZINFER_HAVE_METRICS
  GTEST_SKIP() << "built without prometheus-cpp or cpp-httplib: --metrics is refused";
#endif
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string ep = "ipc://" + zinfer::testing::temp_dir() + "/serve_metrics.sock";
  // An ephemeral port the kernel just handed out and took back.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  close(probe);
  const std::string port = std::to_string(ntohs(a.sin_port));
  const std::string url = "http://127.0.0.1:" + port + "/metrics";
  ServeProcess serve(model, ep, {"--metrics", "127.0.0.1:" + port});
  Context ctx;
  Client cl(ctx.get(), ep);
  ASSERT_TRUE(wait_ready(cl, 60000)) << "zinfer serve --metrics did not answer health";
  cl.send(submit("m", {{"prompt", "Hi"}, {"max_tokens", 3}, {"ignore_eos", true}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("m"); }));
  expect_job_invariant(cl.jobs["m"], "m");
  // The worker counts a job just after sending its terminal frame: scrape until it shows.
  std::optional<std::string> text;
  Scrape scrape;
  const auto until = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    text = http_get(url);
    ASSERT_TRUE(text.has_value()) << "no 200 from " << url;
    scrape = parse_exposition(*text);
    if (scrape.sum("zinfer_request_success_total") >= 1.0 || Clock::now() > until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(scrape.value("zinfer_requests_accepted_total"), 1.0);
  EXPECT_EQ(scrape.value("zinfer_request_success_total{finished_reason=\"length\"}"), 1.0);
  EXPECT_EQ(scrape.value("zinfer_request_generation_tokens_count"), 1.0);
  EXPECT_EQ(scrape.types.at("zinfer_time_to_first_token_seconds"), "histogram");
  EXPECT_FALSE(std::isnan(scrape.value("zinfer_num_requests_running")));
  bool ran = false;
  EXPECT_EQ(promtool_check(*text, ran), "");
  EXPECT_FALSE(http_get("http://127.0.0.1:" + port + "/other").has_value()) << "404 expected";
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(30000), 0);
}

// `zinfer health` as a probe: exit 0 and the health JSON from a ready worker, 3 when residency
// is required of a CPU worker, the counters with --stats, 1 when nothing answers.
TEST(ServeProcess, HealthCliProbesTheWorker) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string ep = "ipc://" + zinfer::testing::temp_dir() + "/serve_health.sock";
  ServeProcess serve(model, ep);
  Context ctx;
  Client cl(ctx.get(), ep);
  ASSERT_TRUE(wait_ready(cl, 60000)) << "zinfer serve did not answer health";
  const std::string health = zinfer_bin() + " health --connect " + ep;
  auto [rc, out] = run_cmd(health);
  EXPECT_EQ(rc, 0) << out;
  const json h = json::parse(out.substr(0, out.find('\n')), nullptr, false);
  ASSERT_TRUE(h.is_object()) << out;
  EXPECT_EQ(h["type"], "health");
  EXPECT_EQ(h["status"], "ready");
  EXPECT_EQ(h["device"], "cpu");
  EXPECT_EQ(h["vram_resident"], false);
  auto [rc_res, out_res] = run_cmd(health + " --require-resident");
  EXPECT_EQ(rc_res, 3) << out_res;
  EXPECT_NE(out_res.find("not verified resident"), std::string::npos) << out_res;
  auto [rc_stats, out_stats] = run_cmd(health + " --stats");
  EXPECT_EQ(rc_stats, 0) << out_stats;
  EXPECT_NE(out_stats.find("\"jobs_accepted\""), std::string::npos) << out_stats;
  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(30000), 0);
  auto [rc_gone, out_gone] = run_cmd(zinfer_bin() + " health --timeout 0.3 --connect ipc://" +
                                     zinfer::testing::temp_dir() + "/nobody.sock");
  EXPECT_EQ(rc_gone, 1) << out_gone;
  EXPECT_NE(out_gone.find("no health reply"), std::string::npos) << out_gone;
}

TEST(ServeProcess, BadFlagsAreRefusedNamingTheFlag) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string base = zinfer_bin() + " serve --model " + model;
  const std::pair<std::string, std::string> cases[] = {
      {" --max-queued 0", "--max-queued"},
      {" --max-running 0", "--max-running"},
      {" --max-running 1025", "--max-running"},
      {" --prefix-cache --no-prefix-cache", "--no-prefix-cache"},
      {" --bind foo://x", "--bind"},
      {" --drain-timeout -1", "--drain-timeout"},
      {" --max-frame-bytes 10", "--max-frame-bytes"},
      {" --device cuda:7", "--device"},
      {" --ctx 4", "--ctx"},
  };
  for (const auto& [flags, name] : cases) {
    auto [rc, out] = run_cmd(base + flags);
    EXPECT_EQ(rc, 2) << flags << ": " << out;
    EXPECT_NE(out.find(name), std::string::npos) << flags << ": " << out;
  }
  // A missing model file reads as in every other command (cli_errors_test): the path, exit 2.
  auto [rc, out] = run_cmd(zinfer_bin() + " serve --model /nonexistent.gguf");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("error: MODEL_LOAD_FAILED: /nonexistent.gguf: cannot open"), std::string::npos)
      << out;
}

TEST(ServeProcess, SubmitCliRunsAJsonlBatch) {
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  const std::string dir = zinfer::testing::temp_dir();
  const std::string ep = "ipc://" + dir + "/serve_submit.sock";
  {
    std::ofstream jobs(dir + "/jobs.jsonl");
    jobs
        << R"({"job_id": "greedy", "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0})"
        << "\n"
        << "\n"  // blank lines are skipped
        << R"({"job_id": "chat", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 6, "temperature": 0})"
        << "\n"
        << R"({"prompt_tokens": [1, 504, 3458], "max_tokens": 4, "temperature": 0.8, "seed": 3})"
        << "\n"
        << R"({"job_id": "bad", "prompt": "x", "temperature": -1})"
        << "\n";
  }
  ServeProcess serve(model, ep);
  Context ctx;
  Client probe(ctx.get(), ep);
  ASSERT_TRUE(wait_ready(probe, 60000));

  auto [rc, out] = run_cmd(zinfer_bin() + " submit --connect " + ep + " --input " + dir +
                           "/jobs.jsonl --output " + dir + "/out.jsonl --window 2");
  EXPECT_EQ(rc, 1) << "one job is invalid, so submit reports a failure: " << out;
  std::ifstream in(dir + "/out.jsonl");
  std::map<std::string, json> results;
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    results[j["job_id"].get<std::string>()] = j;
  }
  ASSERT_EQ(results.size(), 4u) << out;
  EXPECT_EQ(results["bad"]["error"]["code"], "INVALID_PARAMETER");
  EXPECT_EQ(results["job-4"]["tokens"].size(), 4u);  // job_id defaults to the line number
  for (const char* id : {"greedy", "chat", "job-4"}) {
    EXPECT_TRUE(results[id].contains("finish_reason")) << results[id].dump();
    EXPECT_TRUE(results[id].contains("usage"));
    EXPECT_TRUE(results[id].contains("timings"));
  }

  // The greedy answer equals a standalone generation of the same prompt.
  auto llm = Llm::load(model_options(model, 512, /*n_seq_max=*/1));
  ASSERT_TRUE(llm.ok());
  sched::GenerationParams p;
  p.sampling.temperature = 0.0f;
  p.max_tokens = 8;
  const JobOutput ref =
      generate_alone(**llm, (*llm)->tokenizer().encode("The capital of France is", true, false), p);
  EXPECT_EQ(results["greedy"]["text"], ref.text);
  EXPECT_EQ(results["greedy"]["tokens"].get<std::vector<std::int32_t>>(), ref.tokens);

  // --stream: one JSON line per frame; the frames' text adds up to the same answer.
  auto [rc2, out2] = run_cmd("head -1 " + dir + "/jobs.jsonl | " + zinfer_bin() +
                             " submit --stream --connect " + ep);
  EXPECT_EQ(rc2, 0) << out2;
  std::istringstream frames(out2);
  std::string text;
  int n_frames = 0;
  while (std::getline(frames, line)) {
    json f = json::parse(line, nullptr, false);
    if (f.is_discarded()) continue;  // progress lines (only on a terminal) are not JSON
    ++n_frames;
    if (f["type"] == "token" || f["type"] == "done") text += f["text"].get<std::string>();
  }
  EXPECT_GE(n_frames, 3);  // accepted, tokens, done
  EXPECT_EQ(text, ref.text);

  serve.signal(SIGTERM);
  EXPECT_EQ(serve.wait(30000), 0);
}

}  // namespace
}  // namespace zinfer::worker::testing
