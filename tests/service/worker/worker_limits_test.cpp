// Per-client limits (--max-jobs-per-client, --max-client-bytes-per-s): one client flooding
// 1,000 jobs — and resubmitting every QUEUE_FULL at once — does not delay another client's
// job beyond one engine step of its priority class (measured from the job's own timings, with
// the step time the worker reports); without the limit the same flood starves it (the
// control). A client over its byte rate gets QUEUE_FULL naming the flag; others are untouched.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/service/worker/paced_engine.h"
#include "tests/service/worker/worker_harness.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {
namespace {

constexpr int kStepUs = 40000;  // 40 ms steps: long against scheduling noise on 2 cores
constexpr int kCapacity = 4;

std::string ipc(const std::string& name) {
  return "ipc://" + zinfer::testing::temp_dir() + "/" + name;
}

// Sends 1,000 long jobs at once, then keeps the pressure on: every QUEUE_FULL is resubmitted
// immediately, every finished job replaced, until stopped.
class Flooder {
 public:
  Flooder(void* ctx, const std::string& ep) : cl_(ctx, ep) {
    for (int i = 0; i < 1000; ++i) send(i);
    thread_ = std::thread([this] { run(); });
  }
  ~Flooder() {
    stop_ = true;
    thread_.join();
  }
  int accepted() const { return accepted_.load(); }
  int rejected() const { return rejected_.load(); }

 private:
  void send(int i) {
    cl_.send(submit("flood-" + std::to_string(i), {{"prompt_tokens", {1}}, {"max_tokens", 50}}));
  }
  void run() {
    int next = 1000;
    while (!stop_) {
      auto f = cl_.recv(5);
      if (!f) continue;
      const std::string type = (*f)["type"];
      const std::string id = f->value("job_id", "");
      if (type == "accepted") ++accepted_;
      if (type == "error" && (*f)["code"] == "QUEUE_FULL") {
        ++rejected_;
        cl_.jobs.erase(id);
        cl_.send(submit(id, {{"prompt_tokens", {1}}, {"max_tokens", 50}}));
      } else if (type == "done" || type == "error") {
        send(next++);
      }
    }
  }
  Client cl_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0}, rejected_{0};
};

struct Measured {
  bool got_token = false;
  double queue_ms = 0, ttft_ms = 0;
};

// Client B's one job, submitted while the flood runs.
Measured probe_job(void* ctx, const std::string& ep, int wait_ms) {
  Client b(ctx, ep);
  b.send(submit("b", {{"prompt_tokens", {1}}, {"max_tokens", 1}}));
  Measured m;
  m.got_token = b.pump_until([&] { return b.has_terminal("b"); }, wait_ms);
  if (m.got_token) {
    expect_job_invariant(b.jobs["b"], "b");
    const json& done = b.last("b");
    EXPECT_EQ(done["type"], "done") << done.dump();
    m.queue_ms = done["timings"]["queue_ms"];
    m.ttft_ms = done["timings"]["ttft_ms"];
  } else {
    b.send(cancel("b"));
    EXPECT_TRUE(b.pump_until([&] { return b.has_terminal("b"); }, 5000));
    expect_job_invariant(b.jobs["b"], "b");
  }
  return m;
}

TEST(WorkerLimits, AFloodingClientDoesNotDelayAnotherBeyondOneStep) {
  WorkerConfig wc;
  wc.bind = ipc("limits.sock");
  wc.max_queued = 4096;
  wc.max_jobs_per_client = kCapacity - 1;  // one slot a flood can never take
  WorkerThread w(wc, std::make_unique<PacedEngine>(kCapacity, kStepUs));
  ASSERT_TRUE(w.ok());
  Context ctx;
  Flooder flood(ctx.get(), w.endpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the flood is in full swing
  ASSERT_EQ(flood.accepted(), kCapacity - 1);
  EXPECT_GT(flood.rejected(), 900);
  std::vector<double> queue, ttft;
  for (int i = 0; i < 5; ++i) {
    const Measured m = probe_job(ctx.get(), w.endpoint(), 5000);
    ASSERT_TRUE(m.got_token) << "client B's job did not finish under the flood";
    queue.push_back(m.queue_ms);
    ttft.push_back(m.ttft_ms);
  }
  const double step_ms = kStepUs / 1000.0;
  for (std::size_t i = 0; i < queue.size(); ++i) {
    // Admitted at the start of the next step (≤ one step of waiting, plus scheduling noise on
    // a shared 2-core machine); its token at that step's end.
    EXPECT_LE(queue[i], step_ms + 15.0) << "probe " << i;
    EXPECT_LE(ttft[i], 2 * step_ms + 15.0) << "probe " << i;
  }
  std::printf(
      "[ measured ] under a 1000-job flood (limit %d/client, %d-job batch, %.0f ms steps): "
      "client B queue_ms",
      kCapacity - 1, kCapacity, step_ms);
  for (double q : queue) std::printf(" %.1f", q);
  std::printf(", ttft_ms");
  for (double t : ttft) std::printf(" %.1f", t);
  std::printf("; flood: %d accepted, %d QUEUE_FULL\n", flood.accepted(), flood.rejected());
}

TEST(WorkerLimits, WithoutTheLimitTheSameFloodStarvesTheOtherClient) {
  WorkerConfig wc;
  wc.bind = ipc("nolimits.sock");
  wc.max_queued = 4096;
  WorkerThread w(wc, std::make_unique<PacedEngine>(kCapacity, kStepUs));
  ASSERT_TRUE(w.ok());
  Context ctx;
  Flooder flood(ctx.get(), w.endpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_GT(flood.accepted(), 900);
  // 25 steps' worth of waiting and B has not started: it queues behind ~1000 × 50 tokens.
  const Measured m = probe_job(ctx.get(), w.endpoint(), 25 * kStepUs / 1000);
  EXPECT_FALSE(m.got_token);
}

TEST(WorkerLimits, AClientOverItsByteRateGetsQueueFullOthersDoNot) {
  WorkerConfig wc;
  wc.bind = ipc("bytes.sock");
  wc.max_frame_bytes = 4096;
  wc.max_client_bytes_per_s = 8192;
  WorkerThread w(wc, std::make_unique<PacedEngine>(kCapacity, 1000));
  ASSERT_TRUE(w.ok());
  Context ctx;
  Client greedy(ctx.get(), w.endpoint());
  Client polite(ctx.get(), w.endpoint());
  const std::string pad(3000, 'a');  // ~3 KB frames: three fit in the 8 KB bucket
  for (int i = 0; i < 10; ++i) {
    greedy.send(submit("g" + std::to_string(i),
                       {{"prompt_tokens", {1}}, {"max_tokens", 1}, {"note", pad}}));
  }
  polite.send(submit("p", {{"prompt_tokens", {1}}, {"max_tokens", 1}, {"note", pad}}));
  auto answered = [&] {
    int n = static_cast<int>(greedy.others["error"].size());
    for (int i = 0; i < 10; ++i) n += greedy.has_terminal("g" + std::to_string(i)) ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(greedy.pump_until([&] { return answered() == 10; }));
  ASSERT_TRUE(polite.pump_until([&] { return polite.has_terminal("p"); }));
  EXPECT_EQ(polite.last("p")["type"], "done");
  // Over the rate, frames are refused before they are decoded (no job_id is read).
  ASSERT_FALSE(greedy.others["error"].empty());
  const json& e = greedy.others["error"].front();
  EXPECT_EQ(e["code"], "QUEUE_FULL");
  EXPECT_EQ(e["retriable"], true);
  EXPECT_NE(e["message"].get<std::string>().find("--max-client-bytes-per-s"), std::string::npos);
  int done = 0;
  for (int i = 0; i < 10; ++i) done += greedy.has_terminal("g" + std::to_string(i)) ? 1 : 0;
  EXPECT_GE(done, 2);
  EXPECT_LE(done, 4);
  EXPECT_EQ(done + static_cast<int>(greedy.others["error"].size()), 10);
}

}  // namespace
}  // namespace zinfer::worker::testing
