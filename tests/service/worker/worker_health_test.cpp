// Health that checks forward progress: the engine thread stamps a heartbeat around every
// step; `health` says "stalled" (and the metrics endpoint zinfer_engine_stalled 1) once work
// is pending and no step has completed for the stall timeout — and only then: a worker busy
// with steady steps, or idle for longer than the timeout, stays "ready".
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "tests/service/worker/metrics_scrape.h"
#include "tests/service/worker/paced_engine.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

std::string ipc(const std::string& name) {
  return "ipc://" + zinfer::testing::temp_dir() + "/" + name;
}

TEST(Heartbeat, StalledOnlyWithPendingWorkAndNoStepForTheTimeout) {
  using C = Heartbeat::Clock;
  Heartbeat hb(1.0);
  const C::time_point t0 = C::now();
  auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<C::duration>(std::chrono::duration<double>(s));
  };
  EXPECT_FALSE(hb.view(at(100)).stalled) << "idle is not stalled, however long";
  EXPECT_EQ(hb.view(at(0)).last_step_age_s, -1.0);
  hb.jobs_added(1, at(100));
  EXPECT_FALSE(hb.view(at(100.9)).stalled) << "an idle hour before the job does not count";
  EXPECT_TRUE(hb.view(at(101.0)).stalled);
  hb.step_started(at(101.0));
  hb.step_finished(at(101.2));
  EXPECT_FALSE(hb.view(at(102.1)).stalled);
  EXPECT_TRUE(hb.view(at(102.2)).stalled);
  EXPECT_EQ(hb.view(at(102.2)).steps_completed, 1u);
  EXPECT_NEAR(hb.view(at(102.2)).last_step_age_s, 1.0, 1e-6);
  hb.step_started(at(102.3));  // one long step counts as no progress
  EXPECT_TRUE(hb.view(at(103.3)).stalled);
  hb.step_finished(at(103.4));
  hb.jobs_ended(1);
  EXPECT_FALSE(hb.view(at(200)).stalled) << "nothing pending";
  Heartbeat off(0.0);
  off.jobs_added(1, at(0));
  EXPECT_FALSE(off.view(at(1e6)).stalled) << "--stall-timeout 0 turns detection off";
}

TEST(WorkerHealth, AWedgedEngineIsReportedStalledWithinTheTimeoutAndRecovers) {
  auto engine = std::make_unique<PacedEngine>(4, 2000);
  PacedEngine* eng = engine.get();
  WorkerConfig wc;
  wc.bind = ipc("stall.sock");
  wc.stall_timeout_s = 0.5;
#ifdef ZINFER_HAVE_METRICS
  wc.metrics_bind = "127.0.0.1:0";
#endif
  WorkerThread w(wc, std::move(engine));
  ASSERT_TRUE(w.ok());
  Context ctx;
  Client cl(ctx.get(), w.endpoint());
  EXPECT_EQ(cl.ask("health")["status"], "ready");

  cl.send(submit("a", {{"prompt_tokens", {1}}, {"max_tokens", 1000}}));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("a", "token") >= 3; }));
  eng->hold(true);  // the next step blocks: the engine thread is stuck
  const auto held_at = Clock::now();
  json h;
  ASSERT_TRUE(cl.pump_until(
      [&] {
        h = cl.ask("health");
        return h["status"] == "stalled";
      },
      5000));
  const double after_s = std::chrono::duration<double>(Clock::now() - held_at).count();
  EXPECT_GE(after_s, 0.45) << "stalled before the timeout";
  // Within the timeout plus one probe round trip (generous: a shared 2-core machine).
  EXPECT_LT(after_s, 0.5 + 1.5) << "stall reported " << after_s << " s after the engine stopped";
  std::printf("[ measured ] health said stalled %.3f s after the engine stopped (timeout 0.5 s)\n",
              after_s);
  EXPECT_GE(h["last_step_age_s"].get<double>(), 0.5);
  EXPECT_GT(h["engine_steps"].get<std::uint64_t>(), 2u);
#ifdef ZINFER_HAVE_METRICS
  Scrape s = parse_exposition(*http_get(w.worker().metrics_url()));
  EXPECT_EQ(s.value("zinfer_engine_stalled"), 1.0);
  EXPECT_GE(s.value("zinfer_engine_last_step_age_seconds"), 0.5);
#endif

  eng->hold(false);  // the engine moves again: so does health
  ASSERT_TRUE(cl.pump_until([&] { return cl.ask("health")["status"] == "ready"; }, 5000));
  cl.send(cancel("a"));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("a"); }));
  expect_job_invariant(cl.jobs["a"], "a");
}

TEST(WorkerHealth, ABusyWorkerWithSteadyStepsIsNeverStalled) {
  // Steps of 20 ms against a 500 ms timeout, for ~1.5 s of continuous work with jobs arriving
  // and finishing; then idle for longer than the timeout.
  WorkerConfig wc;
  wc.bind = ipc("busy.sock");
  wc.stall_timeout_s = 0.5;
  WorkerThread w(wc, std::make_unique<PacedEngine>(4, 20000));
  ASSERT_TRUE(w.ok());
  Context ctx;
  Client cl(ctx.get(), w.endpoint());
  constexpr int kJobs = 24;
  for (int i = 0; i < kJobs; ++i)
    cl.send(submit("j" + std::to_string(i), {{"prompt_tokens", {1}}, {"max_tokens", 5}}));
  int probes = 0;
  std::set<std::string> statuses;
  auto all_done = [&] {
    for (int i = 0; i < kJobs; ++i) {
      if (!cl.has_terminal("j" + std::to_string(i))) return false;
    }
    return true;
  };
  while (!all_done()) {
    statuses.insert(cl.ask("health")["status"].get<std::string>());
    ++probes;
  }
  EXPECT_EQ(statuses, std::set<std::string>{"ready"}) << probes << " probes";
  EXPECT_GT(probes, 20);
  for (int i = 0; i < kJobs; ++i)
    expect_job_invariant(cl.jobs["j" + std::to_string(i)], "j" + std::to_string(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_EQ(cl.ask("health")["status"], "ready") << "idle is not stalled";
}

}  // namespace
}  // namespace zinfer::worker::testing
