// Worker paths that need an engine misbehaving or much faster than a model, over real sockets
// (ipc:// in a temp dir and TCP): engine errors end jobs with error frames; an engine that
// throws fails every live job and makes run() return 1; a client that stops reading does not
// stall the others and later gets every frame in order; one whose backlog overflows has its
// jobs cancelled. The engines here are test doubles implementing sched::JobEngine.
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "engine/sched/job_map_engine.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

// Every step gives each job one token (id = position, text "t<position> "); after
// `fail_after` tokens a job ends with `error` instead (0 = never); throws from step() when
// `throw_at_step` is reached (0 = never).
struct TestJob {
  int max_tokens;
  int produced;
};

class TestEngine final : public sched::JobMapEngine<TestJob> {
 public:
  explicit TestEngine(int fail_after = 0, int throw_at_step = 0, int step_sleep_us = 0,
                      int fatal_at_step = 0)
      : JobMapEngine("test-engine", "none", /*context_length=*/4096, /*vocab_size=*/1000,
                     /*capacity=*/64),
        fail_after_(fail_after),
        throw_at_step_(throw_at_step),
        step_sleep_us_(step_sleep_us),
        fatal_at_step_(fatal_at_step) {}
  Status add(sched::JobSpec spec) override {
    jobs_[spec.id] = TestJob{spec.params().max_tokens, 0};
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
      TestJob& j = it->second;
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

 private:
  static sched::JobEvent base(sched::JobId id, const TestJob& j) {
    return started_event(id, /*prompt_tokens=*/1, j.produced);
  }
  int fail_after_, throw_at_step_, step_sleep_us_, fatal_at_step_;
  int steps_ = 0;
};

// A job of n tokens on a one-token prompt, with the `extra` fields.
json tokens_job(int n, const json& extra = json::object()) {
  json j = {{"prompt_tokens", {1}}, {"max_tokens", n}};
  j.update(extra);
  return j;
}

// The job's frames keep the invariant and it ended done/length with `text`.
void expect_ended_length(Client& cl, const std::string& id, const std::string& text) {
  expect_job_invariant(cl.jobs[id], id);
  EXPECT_EQ(cl.last(id)["finish_reason"], "length");
  EXPECT_EQ(collect(cl.jobs[id]).text, text);
}

TEST(WorkerFlow, EngineErrorsEndJobsWithErrorFrames) {
  Context ctx;
  WorkerThread w(bound_to(ipc_endpoint("flow_err.sock")),
                 std::make_unique<TestEngine>(/*fail_after=*/3));
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

// Four long jobs on `engine`, which fails mid-way: every job ends with an error frame `code`
// whose message holds `message_part`, and the worker's run() returns 1.
void expect_engine_failure_ends_every_job(const std::string& bind,
                                          std::unique_ptr<sched::JobEngine> engine,
                                          const std::string& code,
                                          const std::string& message_part) {
  Context ctx;
  WorkerThread w(bound_to(bind), std::move(engine));
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
    EXPECT_EQ(cl.last(id)["code"], code) << id;
    EXPECT_NE(cl.last(id)["message"].get<std::string>().find(message_part), std::string::npos);
  }
  EXPECT_EQ(w.join(), 1) << "a failed engine must make the worker exit non-zero";
}

TEST(WorkerFlow, EngineExceptionFailsEveryLiveJobAndRunReturnsOne) {
  expect_engine_failure_ends_every_job(
      "tcp://127.0.0.1:0",
      std::make_unique<TestEngine>(0, /*throw_at_step=*/5, /*step_sleep_us=*/2000), "INTERNAL",
      "simulated engine fault");
}

TEST(WorkerFlow, FatalEngineErrorEndsEveryLiveJobAndRunReturnsOne) {
  // A sticky device error must make the worker exit non-zero, like an exception.
  expect_engine_failure_ends_every_job(
      ipc_endpoint("flow_fatal.sock"),
      std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/2000, /*fatal_at_step=*/5),
      "KERNEL_LAUNCH_FAILED", "sticky");
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
  WorkerThread w(bound_to(ipc_endpoint("flow_deadline.sock")),
                 std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/300000));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  cl.send(submit("streaming", tokens_job(5, {{"stream", true}, {"deadline_ms", 50}})));
  // Its first token is also its last: a terminal event.
  cl.send(submit("one", tokens_job(1, {{"deadline_ms", 50}})));
  cl.send(submit("in_time", tokens_job(2, {{"stream", true}, {"deadline_ms", 60000}})));
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
  WorkerThread w(bound_to(ipc_endpoint("flow_huge.sock")),
                 std::make_unique<TestEngine>(0, 0, /*step_sleep_us=*/2000));
  ASSERT_TRUE(w.ok());
  Client cl(ctx.get(), w.endpoint());
  cl.send(submit("streams", tokens_job(300, {{"stream", true}})));
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
