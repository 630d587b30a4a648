// The Prometheus endpoint of a live worker (serve --metrics): scraped during and after a
// 30-job run on the real SmolLM2 model, parsed strictly as the text exposition format (and by
// `promtool check metrics` where installed), and its counters checked against what the
// clients themselves received: tokens and finish reasons of every done frame, one terminal
// frame per job.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/sched/scheduler.h"
#include "tests/service/worker/metrics_scrape.h"
#include "tests/service/worker/paced_engine.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

// This build has no prometheus-cpp: --metrics is refused (tested below), nothing to scrape.
#ifdef ZINFER_HAVE_METRICS
#define ZINFER_REQUIRE_METRICS() (void)0
#else
#define ZINFER_REQUIRE_METRICS() GTEST_SKIP() << "built without prometheus-cpp or cpp-httplib"
#endif

TEST(WorkerMetrics, ScrapeDuringAThirtyJobRunAgreesWithTheDoneFrames) {
  ZINFER_REQUIRE_METRICS();
  ZINFER_REQUIRE_MODEL(model, kModelFile);
  WorkerConfig wc;
  wc.bind = "ipc://" + zinfer::testing::temp_dir() + "/metrics.sock";
  wc.metrics_bind = "127.0.0.1:0";
  sched::SchedulerConfig sc;
  sc.max_running = 8;
  sc.prefix_cache = true;
  auto w = start_model_worker(model_options(model, 256), sc, wc);
  ASSERT_NE(w, nullptr);
  const std::string url = w->worker().metrics_url();
  ASSERT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;

  // Before any job: every family is there, at zero.
  auto idle = http_get(url);
  ASSERT_TRUE(idle.has_value()) << "no answer from " << url;
  Scrape s0 = parse_exposition(*idle);
  EXPECT_EQ(s0.types["zinfer_generation_tokens_total"], "counter");
  EXPECT_EQ(s0.types["zinfer_num_requests_running"], "gauge");
  EXPECT_EQ(s0.types["zinfer_time_to_first_token_seconds"], "histogram");
  EXPECT_EQ(s0.value("zinfer_engine_stalled"), 0.0);
  EXPECT_EQ(s0.value("zinfer_generation_tokens_total"), 0.0);
  EXPECT_EQ(s0.value("zinfer_request_success_total{finished_reason=\"stop\"}"), 0.0)
      << "the usual label values exist from the start, so rate() sees them";
  EXPECT_EQ(s0.value("zinfer_request_rejected_total{code=\"QUEUE_FULL\"}"), 0.0);

  Context ctx;
  Client cl(ctx.get(), w->endpoint());
  // A shared 40-odd-token preamble (three 16-token blocks the prefix cache can serve).
  const std::string preamble =
      "You are a helpful assistant. Answer briefly and plainly, in English, without lists, "
      "code or markup, and never repeat the question. ";
  std::vector<std::string> prompts;
  for (const char* p : {"The capital of France is", "Once upon a time",
                        "List three fruits:", "2 + 2 =", "Hello, my name is"})
    prompts.push_back(preamble + p);
  constexpr int kJobs = 30;
  for (int i = 0; i < kJobs; ++i) {
    json fields = {{"prompt", prompts[i % prompts.size()]},
                   {"max_tokens", 4 + i % 5},
                   {"temperature", 0.8},
                   {"seed", i},
                   {"stream", i % 2 == 0}};
    if (i % 3 == 0) fields["stop"] = {" "};  // most of these end "stop" at their first space
    cl.send(submit("job-" + std::to_string(i), fields));
  }
  // A scrape while the jobs run parses and shows work in progress. The accepted frame can
  // reach the client before the worker thread has counted the job and before the engine
  // thread has published its next snapshot, so scrape until both show (for up to 5 s; the
  // run lasts longer, and running + waiting >= 1 is itself the proof it is still going).
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("job-0", "accepted") == 1; }));
  Scrape s1;
  for (int attempt = 0; attempt < 250; ++attempt) {
    auto during = http_get(url);
    ASSERT_TRUE(during.has_value());
    s1 = parse_exposition(*during);
    if (s1.value("zinfer_requests_accepted_total") >= 1.0 &&
        s1.value("zinfer_num_requests_running") + s1.value("zinfer_num_requests_waiting") >= 1.0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(s1.value("zinfer_requests_accepted_total"), 1.0);
  EXPECT_GE(s1.value("zinfer_num_requests_running") + s1.value("zinfer_num_requests_waiting"), 1.0);

  ASSERT_TRUE(cl.pump_until(
      [&] {
        for (int i = 0; i < kJobs; ++i) {
          if (!cl.has_terminal("job-" + std::to_string(i))) return false;
        }
        return true;
      },
      240000));

  // What the clients saw.
  std::map<std::string, int> reasons;
  double completion = 0, prompt = 0;
  for (int i = 0; i < kJobs; ++i) {
    const std::string id = "job-" + std::to_string(i);
    expect_job_invariant(cl.jobs[id], id);
    const json& done = cl.last(id);
    ASSERT_EQ(done["type"], "done") << done.dump();
    ++reasons[done["finish_reason"].get<std::string>()];
    completion += done["usage"]["completion_tokens"].get<double>();
    prompt += done["usage"]["prompt_tokens"].get<double>();
    // Streamed or not, the tokens counted in usage are the tokens the client received.
    EXPECT_EQ(collect(cl.jobs[id]).tokens.size(),
              done["usage"]["completion_tokens"].get<std::size_t>());
  }
  EXPECT_GE(reasons["stop"], 1) << "the mix should end some jobs on their stop string";
  EXPECT_GE(reasons["length"], 1);

  auto after = http_get(url);
  ASSERT_TRUE(after.has_value());
  Scrape s2 = parse_exposition(*after);
  EXPECT_EQ(s2.value("zinfer_requests_accepted_total"), kJobs);
  EXPECT_EQ(s2.value("zinfer_generation_tokens_total"), completion);
  EXPECT_EQ(s2.value("zinfer_request_generation_tokens_sum"), completion);
  EXPECT_EQ(s2.value("zinfer_request_generation_tokens_count"), kJobs);
  EXPECT_EQ(s2.value("zinfer_prompt_tokens_total"), prompt);
  EXPECT_EQ(s2.value("zinfer_request_prompt_tokens_sum"), prompt);
  for (const auto& [reason, n] : reasons) {
    EXPECT_EQ(s2.value("zinfer_request_success_total{finished_reason=\"" + reason + "\"}"), n)
        << reason;
  }
  EXPECT_EQ(s2.sum("zinfer_request_success_total"), kJobs);
  EXPECT_EQ(s2.sum("zinfer_request_errors_total"), 0.0);
  EXPECT_EQ(s2.value("zinfer_time_to_first_token_seconds_count"), kJobs);
  EXPECT_EQ(s2.value("zinfer_e2e_request_latency_seconds_count"), kJobs);
  EXPECT_EQ(s2.value("zinfer_time_to_first_token_seconds_bucket{le=\"+Inf\"}"), kJobs);
  EXPECT_EQ(s2.value("zinfer_num_requests_running"), 0.0);
  EXPECT_EQ(s2.value("zinfer_num_requests_waiting"), 0.0);
  EXPECT_EQ(s2.value("zinfer_kv_cache_usage_perc"), 0.0);
  EXPECT_GT(s2.value("zinfer_prefix_cache_hits_total"), 0.0) << "five prompts, thirty jobs";
  const json stats = cl.ask("stats");
  EXPECT_EQ(s2.value("zinfer_engine_steps_total"), stats["engine_steps"].get<double>());
  EXPECT_EQ(s2.value("zinfer_engine_step_duration_seconds_count"),
            stats["engine_steps"].get<double>());
  EXPECT_EQ(s2.value("zinfer_engine_stalled"), 0.0);

  // An invalid request is counted as rejected, by code.
  cl.send(submit("bad", {{"prompt", "x"}, {"temperature", -1}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("bad"); }));
  Scrape s3 = parse_exposition(*http_get(url));
  EXPECT_EQ(s3.value("zinfer_request_rejected_total{code=\"INVALID_PARAMETER\"}"), 1.0);

  // Prometheus's own parser and linter on the same text (setup.sh installs promtool; CI
  // requires it through ZINFER_REQUIRE_MODELS, as it requires the models).
  bool ran = false;
  EXPECT_EQ(promtool_check(*after, ran), "");
  if (!ran && zinfer::testing::models_required()) ADD_FAILURE() << "promtool is not installed";
  if (!ran) std::printf("[ note ] promtool not installed: only the built-in parser checked\n");
}

TEST(WorkerMetrics, AnUnusableAddressIsRefusedNamingTheFlag) {
  WorkerConfig wc;
  wc.bind = "ipc://" + zinfer::testing::temp_dir() + "/metrics-bad.sock";
  wc.metrics_bind = "203.0.113.7:9400";  // TEST-NET-3: not an address of this host
  auto w = Worker::create(wc, std::make_unique<PacedEngine>(4, 1000));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(w.error().message.find("--metrics"), std::string::npos) << w.error().message;
}

}  // namespace
}  // namespace zinfer::worker::testing
