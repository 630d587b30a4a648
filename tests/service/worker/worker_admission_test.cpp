// Admission and lifecycle of the worker on the real SmolLM2 model over TCP (ephemeral port):
// QUEUE_FULL, DUPLICATE_JOB and per-client scoping, deadlines in the queue and while running,
// validation against the model, envelopes (DEALER, REQ-style, a real REQ socket), health and
// stats, the codec's hostile-frame table sent to the LIVE worker (which must still serve a
// normal job after each), and the drain sequence driven through Worker::request_drain().
// Every job's frames are checked for the exactly-one-terminal-frame invariant.
#include <gtest/gtest.h>

#include "engine/sched/scheduler.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

// The codec engineer's table of hostile frames (cases()), reused verbatim so the live worker
// is held to exactly the same list as the decoder. Including the file also re-runs its
// CodecHostile tests in this binary, which is harmless.
#include "tests/service/protocol/codec_hostile_test.cpp"  // NOLINT(bugprone-suspicious-include)

namespace zinfer::worker::testing {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

json long_job() {
  return {{"prompt", "Tell me everything about the history of Rome."},
          {"max_tokens", 500},
          {"ignore_eos", true}};
}
json short_job(int n = 2) {
  return {{"prompt_tokens", {1, 504, 3458}}, {"max_tokens", n}, {"temperature", 0}};
}

// Every test runs on SmolLM2 (skipped without it) and starts its own worker with start().
class WorkerAdmission : public ::testing::Test {
 protected:
  void SetUp() override {
    ZINFER_REQUIRE_MODEL(model, kModelFile);
    model_ = model;
    wc.bind = "tcp://127.0.0.1:0";
  }
  // Starts the worker with config wc (TCP, ephemeral port; `max_running` sequences at once)
  // as w and connects client() to it.
  void start(int max_running = 8) {
    sched::SchedulerConfig sc;
    sc.max_running = max_running;
    w = start_model_worker(model_options(model_, 512), sc, wc);
    ASSERT_NE(w, nullptr);
    client_ = std::make_unique<Client>(ctx.get(), w->endpoint());
  }
  Client& client() { return *client_; }

  WorkerConfig wc;
  Context ctx;  // before the worker and the clients: terminated after every socket
  std::unique_ptr<WorkerThread> w;

 private:
  std::string model_;
  std::unique_ptr<Client> client_;
};
using WorkerDrain = WorkerAdmission;

TEST_F(WorkerAdmission, QueueFullIsRetriableAndClearsWhenTheQueueMoves) {
  wc.max_queued = 1;
  ASSERT_NO_FATAL_FAILURE(start(/*max_running=*/1));
  Client& cl = client();
  cl.send(submit("a", long_job()));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("a", "token") >= 1; }));  // a runs
  cl.send(submit("b", long_job()));                                         // b waits
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("b", "accepted") == 1; }));
  cl.send(submit("c", short_job()));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("c"); }));
  expect_job_invariant(cl.jobs["c"], "c", /*accepted_expected=*/false);
  const json& full = cl.last("c");
  EXPECT_EQ(full["code"], "QUEUE_FULL");
  EXPECT_EQ(full["retriable"], true);
  EXPECT_NE(full["message"].get<std::string>().find("--max-queued"), std::string::npos);

  cl.send(cancel("b"));
  cl.send(cancel("a"));
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("a") && cl.has_terminal("b"); }));
  EXPECT_EQ(cl.last("a")["finish_reason"], "cancelled");
  EXPECT_EQ(cl.last("b")["finish_reason"], "cancelled");
  EXPECT_EQ(cl.last("b")["usage"]["completion_tokens"], 0);
  cl.jobs.erase("c");
  cl.send(submit("c", short_job()));  // the same request, retried: accepted now
  ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal("c"); }));
  expect_job_invariant(cl.jobs["c"], "c");
  EXPECT_EQ(cl.last("c")["finish_reason"], "length");
  expect_job_invariant(cl.jobs["a"], "a");
  expect_job_invariant(cl.jobs["b"], "b");
  expect_stats(cl, {{"jobs_rejected", 1}, {"jobs_cancelled", 2}, {"kv_blocks_used", 0}});
}

TEST_F(WorkerAdmission, DuplicateLiveJobIdIsRejectedAndIdsAreScopedPerClient) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client& a = client();
  Client b(ctx.get(), w->endpoint());
  a.send(submit("x", long_job()));
  ASSERT_TRUE(a.pump_until([&] { return a.count("x", "token") >= 1; }));
  a.send(submit("x", short_job()));
  ASSERT_TRUE(a.pump_until([&] {
    for (const json& f : a.jobs["x"]) {
      if (f["type"] == "error") return true;
    }
    return false;
  }));
  json dup;
  for (const json& f : a.jobs["x"]) {
    if (f["type"] == "error") dup = f;
  }
  EXPECT_EQ(dup["code"], "DUPLICATE_JOB");
  EXPECT_EQ(dup["retriable"], false);
  std::erase_if(a.jobs["x"], [](const json& f) { return f["type"] == "error"; });

  b.send(submit("x", short_job(3)));  // another client may use the same id
  ASSERT_TRUE(b.pump_until([&] { return b.has_terminal("x"); }));
  expect_job_invariant(b.jobs["x"], "x");
  EXPECT_EQ(b.last("x")["finish_reason"], "length");
  EXPECT_FALSE(a.has_terminal("x")) << "the live job must not be disturbed";
  a.send(cancel("x"));
  ASSERT_TRUE(a.pump_until([&] { return a.has_terminal("x"); }));
  expect_job_invariant(a.jobs["x"], "x");
  EXPECT_EQ(a.last("x")["finish_reason"], "cancelled");
  // Once finished, the id can be used again.
  a.send(submit("x", short_job()));
  a.jobs.erase("x");
  ASSERT_TRUE(a.pump_until([&] { return a.has_terminal("x"); }));
  expect_job_invariant(a.jobs["x"], "x");
}

TEST_F(WorkerAdmission, DeadlinesInTheQueueAndWhileRunning) {
  ASSERT_NO_FATAL_FAILURE(start(/*max_running=*/1));
  Client& cl = client();
  json running = long_job();
  running["deadline_ms"] = 2500;
  cl.send(submit("runs", running));
  ASSERT_TRUE(cl.pump_until([&] { return cl.count("runs", "token") >= 1; }));
  json queued = short_job();
  queued["deadline_ms"] = 100;  // cannot start while "runs" holds the only slot
  cl.send(submit("waits", queued));
  ASSERT_TRUE(
      cl.pump_until([&] { return cl.has_terminal("waits") && cl.has_terminal("runs"); }, 30000));
  expect_job_invariant(cl.jobs["waits"], "waits");
  EXPECT_EQ(cl.last("waits")["type"], "error");
  EXPECT_EQ(cl.last("waits")["code"], "DEADLINE_EXCEEDED");
  EXPECT_EQ(cl.last("waits")["retriable"], false);
  expect_job_invariant(cl.jobs["runs"], "runs");
  const json& done = cl.last("runs");
  EXPECT_EQ(done["type"], "done");
  EXPECT_EQ(done["finish_reason"], "deadline");
  EXPECT_GT(done["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_LT(done["usage"]["completion_tokens"].get<int>(), 500);
  // PROTOCOL.md §6.3: tokens_per_s is the decode rate, (completion_tokens - 1) / decode_ms (the
  // first token belongs to ttft_ms).
  const json& t = done["timings"];
  const double n = done["usage"]["completion_tokens"].get<double>();
  const double decode_ms = t["decode_ms"].get<double>();
  ASSERT_GE(n, 2.0);
  ASSERT_GT(decode_ms, 0.0);
  EXPECT_NEAR(t["tokens_per_s"].get<double>(), 1000.0 * (n - 1.0) / decode_ms,
              1e-9 * 1000.0 * n / decode_ms);
  expect_stats(cl, {{"jobs_failed", 1}, {"jobs_completed", 1}, {"kv_blocks_used", 0}});
}

TEST_F(WorkerAdmission, SubmitsAreValidatedAgainstTheModel) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client& cl = client();
  const int vocab = 49152;
  struct Bad {
    std::string id;
    json fields;
    std::string code;
    std::string names;
  };
  const std::vector<Bad> bad = {
      {"oov", {{"prompt_tokens", {1, vocab}}}, "INVALID_REQUEST", "prompt_tokens[1]"},
      {"too-long", {{"prompt_tokens", std::vector<int>(512, 1)}}, "PROMPT_TOO_LONG", "prompt"},
      {"long-text",
       {{"prompt", repeat("The quick brown fox jumps over the lazy dog. ", 80)}},
       "PROMPT_TOO_LONG",
       "prompt"},
      {"stop-id",
       {{"prompt", "hi"}, {"stop_token_ids", {vocab + 5}}},
       "INVALID_PARAMETER",
       "stop_token_ids[0]"},
      {"bias-id",
       {{"prompt", "hi"}, {"logit_bias", {{std::to_string(vocab), 1.0}}}},
       "INVALID_PARAMETER",
       "logit_bias"},
  };
  for (const Bad& b : bad) {
    cl.send(submit(b.id, b.fields));
    ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal(b.id); })) << b.id;
    expect_job_invariant(cl.jobs[b.id], b.id, /*accepted_expected=*/false);
    EXPECT_EQ(cl.last(b.id)["code"], b.code) << b.id << ": " << cl.last(b.id).dump();
    EXPECT_NE(cl.last(b.id)["message"].get<std::string>().find(b.names), std::string::npos)
        << cl.last(b.id).dump();
  }
  expect_stats(cl, {{"jobs_rejected", bad.size()}, {"jobs_accepted", 0}});
}

TEST_F(WorkerAdmission, EnvelopesHealthAndStats) {
  ASSERT_NO_FATAL_FAILURE(start());
  // A DEALER speaking REQ-style: every frame of the job comes back with the delimiter.
  Client req_style(ctx.get(), w->endpoint(), /*req_style=*/true);
  req_style.send(submit("r", short_job(3)));
  ASSERT_TRUE(req_style.pump_until([&] { return req_style.has_terminal("r"); }));
  expect_job_invariant(req_style.jobs["r"], "r");
  EXPECT_EQ(collect(req_style.jobs["r"]).tokens.size(), 3u);

  // A real REQ socket: one request, one reply.
  void* req = zmq_socket(ctx.get(), ZMQ_REQ);
  const int linger = 0;
  EXPECT_EQ(zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof(linger)), 0);
  ASSERT_EQ(zmq_connect(req, w->endpoint().c_str()), 0);
  const std::string hello = pack(request("health"));
  zmq_send(req, hello.data(), hello.size(), 0);
  char buf[4096];
  const int n = zmq_recv(req, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  json health = json::from_msgpack(std::string(buf, static_cast<std::size_t>(n)), true, false);
  zmq_close(req);
  EXPECT_EQ(health["type"], "health");
  EXPECT_EQ(health["status"], "ready");
  EXPECT_EQ(health["architecture"], "llama");
  EXPECT_EQ(health["context_length"], 512);
  EXPECT_EQ(health["device"], "cpu");
  EXPECT_EQ(health["capacity"], 8);
  EXPECT_NE(std::find(health["quant_types"].begin(), health["quant_types"].end(), "Q4_1"),
            health["quant_types"].end());
  EXPECT_GE(health["uptime_s"].get<double>(), 0.0);

  // A malformed envelope: three frames after the identity.
  Client dealer(ctx.get(), w->endpoint());
  const std::string p = pack(request("stats"));
  zmq_send(dealer.socket(), "x", 1, ZMQ_SNDMORE);
  zmq_send(dealer.socket(), p.data(), p.size(), 0);
  ASSERT_TRUE(dealer.pump_until([&] { return !dealer.others["error"].empty(); }));
  EXPECT_EQ(dealer.others["error"][0]["code"], "INVALID_REQUEST");
  EXPECT_NE(dealer.others["error"][0]["message"].get<std::string>().find("envelope"),
            std::string::npos);

  const json stats = dealer.ask("stats");
  for (const char* k :
       {"jobs_accepted", "jobs_completed", "jobs_cancelled", "jobs_failed", "jobs_rejected",
        "tokens_generated", "prompt_tokens", "engine_steps", "queue_depth", "active_jobs",
        "kv_blocks_used", "kv_blocks_total", "uptime_s"}) {
    EXPECT_TRUE(stats.contains(k)) << k;
  }
  EXPECT_EQ(stats["jobs_accepted"], 1);
  EXPECT_EQ(stats["tokens_generated"], 3);
  EXPECT_EQ(stats["prompt_tokens"], 3);
}

TEST_F(WorkerAdmission, HostileFramesAgainstTheLiveWorker) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client& cl = client();
  const protocol::DecodeLimits defaults;
  int n = 0;
  for (const protocol::HostileCase& hc : protocol::cases()) {
    // Cases decoded under tighter limits than a worker uses are the codec's business only.
    if (hc.limits.max_prompt_tokens != defaults.max_prompt_tokens ||
        hc.limits.max_frame_bytes != defaults.max_frame_bytes) {
      continue;
    }
    SCOPED_TRACE(hc.name);
    cl.jobs.clear();
    cl.others.clear();
    cl.send_raw(hc.frame);
    std::optional<json> reply;
    for (int i = 0; i < 100 && !reply; ++i) reply = cl.recv(100);
    ASSERT_TRUE(reply.has_value()) << "no reply to a hostile frame";
    EXPECT_EQ((*reply)["type"], "error") << reply->dump();
    EXPECT_EQ((*reply)["code"], std::string(error_code_name(hc.code))) << reply->dump();
    EXPECT_NE((*reply)["message"].get<std::string>().find(hc.must_contain), std::string::npos)
        << reply->dump();
    // ...and the worker still serves a normal job.
    const std::string id = "ok-" + std::to_string(n++);
    cl.send(submit(id, short_job(1)));
    ASSERT_TRUE(cl.pump_until([&] { return cl.has_terminal(id); }, 30000));
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.last(id)["type"], "done");
    EXPECT_EQ(cl.jobs.size(), 1u + (reply->contains("job_id") ? 1u : 0u))
        << "unexpected extra frames";
  }
  EXPECT_GE(n, 40);
}

TEST_F(WorkerDrain, RunningJobsFinishNewSubmitsGetDrainingThenRunReturnsZero) {
  wc.drain_timeout_s = 60;
  ASSERT_NO_FATAL_FAILURE(start(/*max_running=*/1));
  Client& cl = client();
  cl.send(submit("first", short_job(6)));
  cl.send(submit("second", short_job(4)));  // queued behind "first": still runs during the drain
  ASSERT_TRUE(cl.pump_until(
      [&] { return cl.count("first", "token") >= 1 && cl.count("second", "accepted") == 1; }));
  w->worker().request_drain();
  cl.send(request("health"));
  ASSERT_TRUE(cl.pump_until([&] { return !cl.others["health"].empty(); }));
  EXPECT_EQ(cl.others["health"][0]["status"], "draining");
  cl.send(submit("late", short_job()));
  ASSERT_TRUE(cl.pump_until([&] {
    return cl.has_terminal("late") && cl.has_terminal("first") && cl.has_terminal("second");
  }));
  expect_job_invariant(cl.jobs["late"], "late", /*accepted_expected=*/false);
  EXPECT_EQ(cl.last("late")["code"], "DRAINING");
  EXPECT_EQ(cl.last("late")["retriable"], true);
  for (const char* id : {"first", "second"}) {
    expect_job_invariant(cl.jobs[id], id);
    EXPECT_EQ(cl.last(id)["finish_reason"], "length") << id;
  }
  EXPECT_EQ(w->join(), 0);
}

TEST_F(WorkerDrain, TimeoutEndsEveryJobWithATerminalFrame) {
  wc.drain_timeout_s = 0.5;
  ASSERT_NO_FATAL_FAILURE(start(/*max_running=*/1));
  Client& cl = client();
  cl.send(submit("long", long_job()));
  cl.send(submit("queued", long_job()));
  ASSERT_TRUE(cl.pump_until(
      [&] { return cl.count("long", "token") >= 1 && cl.count("queued", "accepted") == 1; }));
  w->worker().request_drain();
  ASSERT_TRUE(
      cl.pump_until([&] { return cl.has_terminal("long") && cl.has_terminal("queued"); }, 30000));
  expect_job_invariant(cl.jobs["long"], "long");
  EXPECT_EQ(cl.last("long")["type"], "done");
  EXPECT_EQ(cl.last("long")["finish_reason"], "cancelled");
  expect_job_invariant(cl.jobs["queued"], "queued");
  EXPECT_EQ(cl.last("queued")["type"], "error");
  EXPECT_EQ(cl.last("queued")["code"], "DRAINING");
  EXPECT_EQ(cl.last("queued")["retriable"], true);
  // The reason PROTOCOL.md §5 and ERRORS.md document for a drain-timeout expiry.
  EXPECT_EQ(cl.last("queued")["message"],
            "the drain timeout expired before the job produced a token (while queued); submit it "
            "to another worker");
  EXPECT_EQ(w->join(), 0);
}

}  // namespace
}  // namespace zinfer::worker::testing
