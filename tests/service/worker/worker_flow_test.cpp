// Worker paths that need an engine misbehaving or much faster than a model, over real sockets
// (ipc:// in a temp dir and TCP): engine errors end jobs with error frames; an engine that
// throws fails every live job and makes run() return 1; a client that stops reading does not
// stall the others and later gets every frame in order; one whose backlog overflows has its
// jobs cancelled. The engines here are test doubles implementing sched::JobEngine.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

// Every step gives each job one token (id = position, text "t<position> "); after
// `fail_after` tokens a job ends with `error` instead (0 = never); throws from step() when
// `throw_at_step` is reached (0 = never).
class TestEngine final : public sched::JobEngine {
 public:
  explicit TestEngine(int fail_after = 0, int throw_at_step = 0, int step_sleep_us = 0,
                      int fatal_at_step = 0)
      : fail_after_(fail_after),
        throw_at_step_(throw_at_step),
        step_sleep_us_(step_sleep_us),
        fatal_at_step_(fatal_at_step) {
    info_.model = "test-engine";
    info_.architecture = "none";
    info_.device = "cpu";
    info_.context_length = 4096;
    info_.vocab_size = 1000;
    info_.capacity = 64;
  }
  const sched::EngineInfo& info() const override { return info_; }
  Status add(sched::JobSpec spec) override {
    jobs_[spec.id] = Job{spec.params().max_tokens, 0};
    return ok_status();
  }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    sched::JobEvent ev = base(id, it->second);
    ev.finish = reason;
    jobs_.erase(it);
    return ev;
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point) override {
    ++steps_;
    if (throw_at_step_ > 0 && steps_ >= throw_at_step_)
      throw std::runtime_error("simulated engine fault");
    if (fatal_at_step_ > 0 && steps_ == fatal_at_step_ && !jobs_.empty()) {
      // What the scheduler reports when a forward pass hits a sticky CUDA error: the batch's
      // jobs (here: the first) end with the fatal error.
      auto it = jobs_.begin();
      sched::JobEvent ev = base(it->first, it->second);
      ev.error = make_error(ErrorCode::kKernelLaunchFailed, "sticky CUDA error (simulated)");
      ev.error->fatal = true;
      jobs_.erase(it);
      return {ev};
    }
    if (step_sleep_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(step_sleep_us_));
    std::vector<sched::JobEvent> events;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job& j = it->second;
      if (fail_after_ > 0 && j.produced >= fail_after_) {
        sched::JobEvent ev = base(it->first, j);
        ev.error = make_error(ErrorCode::kInferenceFailed, "logits[7] is nan");
        events.push_back(std::move(ev));
        it = jobs_.erase(it);
        continue;
      }
      const int pos = j.produced++;
      sched::JobEvent ev = base(it->first, j);
      ev.tokens = {pos};
      ev.text = "t" + std::to_string(pos) + " ";
      if (j.produced >= j.max_tokens) {
        ev.finish = sched::FinishReason::kLength;
        events.push_back(std::move(ev));
        it = jobs_.erase(it);
      } else {
        events.push_back(std::move(ev));
        ++it;
      }
    }
    return events;
  }
  bool idle() const override { return jobs_.empty(); }
  std::vector<sched::JobId> live_ids() const override {
    std::vector<sched::JobId> v;
    for (const auto& [id, j] : jobs_) v.push_back(id);
    return v;
  }
  sched::SchedulerStats stats() const override {
    sched::SchedulerStats s;
    s.running = static_cast<std::int32_t>(jobs_.size());
    return s;
  }

 private:
  struct Job {
    int max_tokens;
    int produced;
  };
  static sched::JobEvent base(sched::JobId id, const Job& j) {
    sched::JobEvent ev;
    ev.id = id;
    ev.started = true;
    ev.prompt_tokens = 1;
    ev.completion_tokens = j.produced;
    return ev;
  }
  sched::EngineInfo info_;
  int fail_after_, throw_at_step_, step_sleep_us_, fatal_at_step_;
  int steps_ = 0;
  std::map<sched::JobId, Job> jobs_;
};

std::string ipc_endpoint(const std::string& name) {
  return "ipc://" + zinfer::testing::temp_dir() + "/" + name;
}
json tokens_job(int n) { return {{"prompt_tokens", {1}}, {"max_tokens", n}}; }

// The job's frames keep the invariant and it ended done/length with `text`.
void expect_ended_length(Client& cl, const std::string& id, const std::string& text) {
  expect_job_invariant(cl.jobs[id], id);
  EXPECT_EQ(cl.last(id)["finish_reason"], "length");
  EXPECT_EQ(collect(cl.jobs[id]).text, text);
}

TEST(WorkerFlow, EngineErrorsEndJobsWithErrorFrames) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_err.sock");
  WorkerThread w(wc, std::make_unique<TestEngine>(/*fail_after=*/3));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  for (int j = 0; j < 5; ++j) cl.send(submit("j" + std::to_string(j), tokens_job(100)));
  cl.send(submit("short", tokens_job(2)));
  ASSERT_TRUE(cl.pump_until([&] {
    for (int j = 0; j < 5; ++j) {
      if (!cl.has_terminal("j" + std::to_string(j))) return false;
    }
    return cl.has_terminal("short");
  }));
  for (int j = 0; j < 5; ++j) {
    const std::string id = "j" + std::to_string(j);
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.last(id)["code"], "INFERENCE_FAILED");
    EXPECT_EQ(cl.count(id, "token"), 3u);
  }
  expect_ended_length(cl, "short", "t0 t1 ");
  const json stats = cl.ask("stats");
  EXPECT_EQ(stats["jobs_failed"], 5);
  EXPECT_EQ(stats["jobs_completed"], 1);
}

TEST(WorkerFlow, EngineExceptionFailsEveryLiveJobAndRunReturnsOne) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = "tcp://127.0.0.1:0";
  WorkerThread w(wc, std::make_unique<TestEngine>(0, /*throw_at_step=*/5, /*step_sleep_us=*/2000));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  for (int j = 0; j < 4; ++j) cl.send(submit("j" + std::to_string(j), tokens_job(1000)));
  ASSERT_TRUE(cl.pump_until([&] {
    for (int j = 0; j < 4; ++j) {
      if (!cl.has_terminal("j" + std::to_string(j))) return false;
    }
    return true;
  }));
  for (int j = 0; j < 4; ++j) {
    const std::string id = "j" + std::to_string(j);
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.last(id)["code"], "INTERNAL");
    EXPECT_NE(cl.last(id)["message"].get<std::string>().find("simulated engine fault"),
              std::string::npos);
  }
  EXPECT_EQ(w.join(), 1) << "a failed engine must make the worker exit non-zero";
}

TEST(WorkerFlow, FatalEngineErrorEndsEveryLiveJobAndRunReturnsOne) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_fatal.sock");
  WorkerThread w(wc,
                 std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/2000, /*fatal_at_step=*/5));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  for (int j = 0; j < 4; ++j) cl.send(submit("j" + std::to_string(j), tokens_job(1000)));
  ASSERT_TRUE(cl.pump_until([&] {
    for (int j = 0; j < 4; ++j) {
      if (!cl.has_terminal("j" + std::to_string(j))) return false;
    }
    return true;
  }));
  for (int j = 0; j < 4; ++j) {
    const std::string id = "j" + std::to_string(j);
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.last(id)["code"], "KERNEL_LAUNCH_FAILED") << id;
    EXPECT_NE(cl.last(id)["message"].get<std::string>().find("sticky"), std::string::npos);
  }
  EXPECT_EQ(w.join(), 1) << "a sticky device error must make the worker exit non-zero";
}

TEST(WorkerFlow, SlowReaderDoesNotStallOthersAndLosesNothing) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_slow.sock");
  wc.sndhwm = 8;  // ZeroMQ queues little per peer, so the worker's own backlog takes over
  WorkerThread w(wc, std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/20));
  ASSERT_TRUE(w.ok());
  Client slow(ctx.get(), w.endpoint());
  Client fast(ctx.get(), w.endpoint());
  // Small receive buffers on the slow side so the kernel cannot absorb everything either.
  const int rcvhwm = 8;
  EXPECT_EQ(zmq_setsockopt(slow.socket(), ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)), 0);
  const int n = 10000;
  slow.send(submit("s", tokens_job(n)));
  // The slow client reads only its accepted frame, then nothing while the fast one works.
  ASSERT_TRUE(slow.pump_until([&] { return slow.count("s", "accepted") == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = Clock::now();
  fast.send(submit("f", tokens_job(200)));
  ASSERT_TRUE(fast.pump_until([&] { return fast.has_terminal("f"); }, 20000));
  const double fast_s = std::chrono::duration<double>(Clock::now() - t0).count();
  expect_job_invariant(fast.jobs["f"], "f");
  EXPECT_LT(fast_s, 10.0);
  // Now the slow reader catches up and must find every frame, in order.
  ASSERT_TRUE(slow.pump_until([&] { return slow.has_terminal("s"); }, 60000));
  expect_job_invariant(slow.jobs["s"], "s");
  const JobOutput out = collect(slow.jobs["s"]);
  ASSERT_EQ(out.tokens.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(out.tokens[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(slow.last("s")["finish_reason"], "length");
}

TEST(WorkerFlow, BacklogOverflowCancelsTheSlowClientsJobs) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_overflow.sock");
  wc.sndhwm = 4;
  wc.max_peer_backlog_bytes = 16 * 1024;
  WorkerThread w(wc, std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/20));
  ASSERT_TRUE(w.ok());
  Client slow(ctx.get(), w.endpoint());
  const int rcvhwm = 4;
  EXPECT_EQ(zmq_setsockopt(slow.socket(), ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm)), 0);
  slow.send(submit("s", tokens_job(1000000)));
  ASSERT_TRUE(slow.pump_until([&] { return slow.count("s", "accepted") == 1; }));
  // Without reading, wait for the worker to give up on this reader (its job ends).
  Client probe(ctx.get(), w.endpoint());
  ASSERT_TRUE(probe.pump_until(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return probe.ask("stats")["jobs_cancelled"] == 1;
      },
      30000));
  EXPECT_EQ(probe.ask("stats")["active_jobs"], 0);
  // Everything queued before the cancel, then the terminal frame, still arrives in order.
  ASSERT_TRUE(slow.pump_until([&] { return slow.has_terminal("s"); }, 30000));
  expect_job_invariant(slow.jobs["s"], "s");
  EXPECT_EQ(slow.last("s")["finish_reason"], "cancelled");
}

// PROTOCOL.md §4.1: a deadline that passes before the first token is an error. The engine
// checks deadlines when a step starts; one passing during the step that makes the first token
// must still end the job with DEADLINE_EXCEEDED (and no token), not done/deadline after it.
TEST(WorkerFlow, DeadlinePassingDuringTheFirstTokensStepIsDeadlineExceeded) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_deadline.sock");
  WorkerThread w(wc, std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/300000));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  json streaming = tokens_job(5);
  streaming["stream"] = true;
  streaming["deadline_ms"] = 50;
  json one_token = tokens_job(1);  // its first token is also its last: a terminal event
  one_token["deadline_ms"] = 50;
  json in_time = tokens_job(2);
  in_time["stream"] = true;
  in_time["deadline_ms"] = 60000;
  cl.send(submit("streaming", streaming));
  cl.send(submit("one", one_token));
  cl.send(submit("in_time", in_time));
  ASSERT_TRUE(cl.pump_until([&] {
    return cl.has_terminal("streaming") && cl.has_terminal("one") && cl.has_terminal("in_time");
  }));
  for (const char* id : {"streaming", "one"}) {
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.count(id, "token"), 0u) << id;
    EXPECT_EQ(cl.last(id)["type"], "error") << id;
    EXPECT_EQ(cl.last(id)["code"], "DEADLINE_EXCEEDED") << id;
    EXPECT_EQ(cl.last(id)["message"],
              "submit.deadline_ms: passed before the first token (while processing the prompt)");
  }
  expect_ended_length(cl, "in_time", "t0 t1 ");
  const json stats = cl.ask("stats");
  EXPECT_EQ(stats["jobs_failed"], 2);
  EXPECT_EQ(stats["active_jobs"], 0);
}

// PROTOCOL.md §7: a frame over max_frame_bytes gets INVALID_REQUEST whatever its size. Above
// 64 MiB the worker used to let libzmq drop the connection (ZMQ_MAXMSGSIZE), which cancelled
// the sender's streaming job without a terminal frame.
TEST(WorkerFlow, FrameOver64MiBGetsInvalidRequestAndTheStreamingJobStillEnds) {
  Context ctx;
  WorkerConfig wc;
  wc.bind = ipc_endpoint("flow_huge.sock");
  WorkerThread w(wc, std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/2000));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  json job = tokens_job(300);
  job["stream"] = true;
  cl.send(submit("streams", job));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("streams", "token") >= 1; }));
  const std::size_t huge = (std::size_t{64} << 20) + 1;
  cl.send_raw(std::string(huge, '\xc0'));
  ASSERT_TRUE(
      cl.pump_until([&] { return !cl.others["error"].empty() && cl.has_terminal("streams"); }));
  ASSERT_EQ(cl.others["error"].size(), 1u);
  const json& e = cl.others["error"][0];
  EXPECT_EQ(e["code"], "INVALID_REQUEST");
  EXPECT_EQ(e["message"],
            "frame of " + std::to_string(huge) + " bytes exceeds max_frame_bytes 1048576");
  expect_job_invariant(cl.jobs["streams"], "streams");
  EXPECT_EQ(cl.last("streams")["type"], "done");
  EXPECT_EQ(cl.last("streams")["finish_reason"], "length");
  EXPECT_EQ(cl.count("streams", "token"), 299u);
}

}  // namespace
}  // namespace zinfer::worker::testing
