// `zinfer serve --nats` and `zinfer submit --nats` against a real nats-server -js: results in
// input order and equal to the ZeroMQ path; a permanently bad job is terminated (one error
// frame, never redelivered); a job that outlasts the ack wait is kept by in-progress acks; a
// job whose worker dies on its last allowed delivery is dead-lettered with WORKER_LOST; a job
// whose worker dies is redelivered to another one. Workers serve --metrics, and each test
// checks the zinfer_jetstream_* counters against what happened to its jobs.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "tests/service/nats/nats_harness.h"
#include "tests/service/worker/metrics_scrape.h"

namespace zinfer::nats_testing {
namespace {

struct Fixture {
  std::string dir = zinfer::testing::temp_dir() + "/" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  NatsServer server{dir};
};

std::string submit_cmd(const std::string& url, const std::string& in, const std::string& out,
                       const std::string& extra = "") {
  return "'" + zinfer_bin() + "' submit --nats " + url + " --nats-model tiny -i '" + in + "' -o '" +
         out + "' " + extra;
}

int run(const std::string& cmd, const std::string& log) {
  const int st = std::system((cmd + " >>'" + log + "' 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A worker's Prometheus endpoint: the flags that open it and its scrape URL.
struct MetricsPort {
  int port = free_port();
  std::vector<std::string> flags() const {
    return {"--metrics", "127.0.0.1:" + std::to_string(port)};
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/metrics"; }
};

// The zinfer_jetstream_<name>[_total] values of the workers at `urls`, summed, with the names
// of `want` (deliveries, redeliveries, acks, naks, terms, in_progress_acks, dead_letters,
// settle_failures, ack_pending). Settling follows the publication of the terminal frame that a
// producer waits for, so this scrapes until the sums equal `want` (10 s at most) and returns
// the last sums; a want of -1 only asks for the value.
std::map<std::string, double> jetstream_counters(const std::vector<std::string>& urls,
                                                 const std::map<std::string, double>& want) {
  std::map<std::string, double> got;
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (true) {
    got.clear();
    for (const std::string& url : urls) {
      const auto text = zinfer::worker::testing::http_get(url);
      if (!text) continue;
      const auto scrape = zinfer::worker::testing::parse_exposition(*text);
      for (const auto& [name, v] : want) {
        const std::string family = "zinfer_jetstream_" + name;
        got[name] += scrape.value(name == "ack_pending" ? family : family + "_total", NAN);
      }
    }
    bool all = got.size() == want.size();
    for (const auto& [name, v] : want) all = all && (v < 0 || got[name] == v);
    if (all || Clock::now() > until) return got;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void expect_counters(const std::map<std::string, double>& got,
                     const std::map<std::string, double>& want) {
  for (const auto& [name, v] : want) {
    if (v >= 0) {
      EXPECT_EQ(got.at(name), v) << "zinfer_jetstream_" << name;
    }
  }
}

TEST(JetStream, BatchComesBackInInputOrderAndEqualsTheZeroMqPath) {
  REQUIRE_NATS_SERVER();
  ASSERT_FALSE(tiny_model().empty());
  Fixture f;
  ASSERT_TRUE(f.server.start());
  const std::string bind = "ipc://" + f.dir + "/w.sock";
  Child worker(worker_argv(f.server.url(), bind), f.dir + "/worker.log");
  const std::string jobs = f.dir + "/jobs.jsonl";
  write_jobs(jobs, "order-", 40, 12);
  ASSERT_EQ(run(submit_cmd(f.server.url(), jobs, f.dir + "/nats.jsonl", "--timeout 60"),
                f.dir + "/submit.log"),
            0)
      << read_all(f.dir + "/submit.log") << read_all(f.dir + "/worker.log");
  ASSERT_EQ(run("'" + zinfer_bin() + "' submit --connect " + bind + " -i '" + jobs + "' -o '" +
                    f.dir + "/zmq.jsonl'",
                f.dir + "/submit.log"),
            0);
  const auto nats = read_lines(f.dir + "/nats.jsonl");
  const auto zmq = read_lines(f.dir + "/zmq.jsonl");
  ASSERT_EQ(nats.size(), 40u);
  std::map<std::string, json> zmq_by_id;
  for (const auto& r : zmq) zmq_by_id[r["job_id"]] = r;
  for (std::size_t i = 0; i < nats.size(); ++i) {
    EXPECT_EQ(nats[i]["job_id"], "order-" + std::to_string(i));  // input order
    EXPECT_EQ(nats[i]["attempt"], 1);
    EXPECT_EQ(nats[i]["finish_reason"], "length");
    EXPECT_EQ(nats[i]["tokens"], zmq_by_id[nats[i]["job_id"]]["tokens"]);
  }
  const auto counts = summary_counts(read_all(f.dir + "/submit.log"));
  EXPECT_EQ(counts.at("done"), 40);
  EXPECT_EQ(counts.at("lost"), 0);
  EXPECT_EQ(counts.at("duplicated"), 0);
  // Publishing the same batch again within the de-duplication window queues nothing.
  EXPECT_EQ(run(submit_cmd(f.server.url(), jobs, f.dir + "/again.jsonl", "--timeout 5"),
                f.dir + "/again.log"),
            1);
  for (const auto& r : read_lines(f.dir + "/again.jsonl"))
    EXPECT_EQ(r["error"]["code"], "DUPLICATE_JOB");
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(30000), 0);
}

TEST(JetStream, PermanentErrorIsTerminatedNotRedelivered) {
  REQUIRE_NATS_SERVER();
  ASSERT_FALSE(tiny_model().empty());
  Fixture f;
  ASSERT_TRUE(f.server.start());
  MetricsPort metrics;
  auto argv = worker_argv(f.server.url(), "ipc://" + f.dir + "/w.sock", {"--nats-ack-wait", "1"});
  for (const std::string& a : metrics.flags()) argv.push_back(a);
  Child worker(argv, f.dir + "/worker.log");
  const std::string jobs = f.dir + "/jobs.jsonl";
  {
    std::ofstream o(jobs);
    json bad = {{"job_id", "too-long"}, {"prompt_tokens", std::vector<int>(600, 5)}};
    o << bad.dump() << "\n"
      << R"({"job_id":"fine","prompt_tokens":[1,2],"max_tokens":4,"ignore_eos":true})"
      << "\n";
  }
  EXPECT_EQ(run(submit_cmd(f.server.url(), jobs, f.dir + "/out.jsonl", "--timeout 30"),
                f.dir + "/submit.log"),
            1);  // one job failed
  const auto out = read_lines(f.dir + "/out.jsonl");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["error"]["code"], "PROMPT_TOO_LONG");
  EXPECT_EQ(out[0]["error"]["retriable"], false);
  EXPECT_EQ(out[0]["attempt"], 1);
  EXPECT_EQ(out[1]["finish_reason"], "length");
  // Three ack waits later the server has not redelivered it, and nothing is pending.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  NatsProbe probe(f.server.url());
  ASSERT_TRUE(probe.ok());
  const auto c = probe.consumer("ZINFER_JOBS", "zinfer-tiny-normal");
  EXPECT_EQ(c[1], 0) << "ack pending";
  EXPECT_EQ(c[2], 0) << "redelivered";
  EXPECT_EQ(c[3], 0) << "pending";
  // The worker's own account: two deliveries, one ack, one term, nothing handed back.
  const std::map<std::string, double> want = {
      {"deliveries", 2},   {"redeliveries", 0},    {"acks", 1},       {"terms", 1}, {"naks", 0},
      {"dead_letters", 0}, {"settle_failures", 0}, {"ack_pending", 0}};
  expect_counters(jetstream_counters({metrics.url()}, want), want);
  const auto text = zinfer::worker::testing::http_get(metrics.url());
  ASSERT_TRUE(text.has_value());
  const auto scrape = zinfer::worker::testing::parse_exposition(*text);
  EXPECT_EQ(scrape.value("zinfer_request_rejected_total{code=\"PROMPT_TOO_LONG\"}"), 1.0);
  EXPECT_EQ(scrape.value("zinfer_request_success_total{finished_reason=\"length\"}"), 1.0);
  bool ran = false;
  EXPECT_EQ(zinfer::worker::testing::promtool_check(*text, ran), "");
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(30000), 0);
}

// A slower synthetic model (SmolLM2-135M shape) so one job runs several ack waits.
std::string slow_model() { return synthetic_model("smollm2-135m", "Q4_0"); }

TEST(JetStream, InProgressAcksKeepALongJobFromRedelivery) {
  REQUIRE_NATS_SERVER();
  ASSERT_FALSE(slow_model().empty());
  Fixture f;
  ASSERT_TRUE(f.server.start());
  // Two workers: were the running job's delivery to expire, the idle one would fetch it again.
  std::vector<std::unique_ptr<Child>> workers;
  std::vector<std::string> urls;
  for (const char* name : {"a", "b"}) {
    const MetricsPort metrics;
    urls.push_back(metrics.url());
    auto argv = worker_argv(f.server.url(), "ipc://" + f.dir + "/" + name + ".sock",
                            {"--nats-ack-wait", "0.5", "--max-running", "1"});
    argv[3] = slow_model();
    for (const std::string& a : metrics.flags()) argv.push_back(a);
    workers.push_back(std::make_unique<Child>(argv, f.dir + "/" + name + ".log"));
  }
  const std::string jobs = f.dir + "/jobs.jsonl";
  {
    std::ofstream o(jobs);
    o << R"({"job_id":"long","prompt_tokens":[1,2,3],"max_tokens":200,"ignore_eos":true})"
      << "\n";
  }
  ASSERT_EQ(run(submit_cmd(f.server.url(), jobs, f.dir + "/out.jsonl", "--timeout 120"),
                f.dir + "/submit.log"),
            0)
      << read_all(f.dir + "/a.log");
  const auto out = read_lines(f.dir + "/out.jsonl");
  ASSERT_EQ(out.size(), 1u);
  const double ran_ms =
      out[0]["timings"]["ttft_ms"].get<double>() + out[0]["timings"]["decode_ms"].get<double>();
  std::printf("long job ran %.0f ms with a 500 ms ack wait\n", ran_ms);
  ASSERT_GT(ran_ms, 1500.0) << "the job must outlast the ack wait several times to test anything";
  EXPECT_EQ(out[0]["attempt"], 1);
  const auto counts = summary_counts(read_all(f.dir + "/submit.log"));
  EXPECT_EQ(counts.at("duplicated"), 0);
  EXPECT_EQ(counts.at("redelivered"), 0);
  NatsProbe probe(f.server.url());
  const auto c = probe.consumer("ZINFER_JOBS", "zinfer-tiny-normal");
  EXPECT_EQ(c[0], 1) << "deliveries";
  EXPECT_EQ(c[2], 0) << "redelivered";
  // In-progress acks every ack wait / 3 while it ran, and no redelivery.
  const std::map<std::string, double> want = {{"deliveries", 1}, {"redeliveries", 0},
                                              {"acks", 1},       {"naks", 0},
                                              {"terms", 0},      {"in_progress_acks", -1}};
  const auto got = jetstream_counters(urls, want);
  expect_counters(got, want);
  std::printf("%.0f in-progress acks over the job's %.0f ms\n", got.at("in_progress_acks"), ran_ms);
  EXPECT_GE(got.at("in_progress_acks"), std::floor(ran_ms / 500.0));
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(30000), 0);
  }
}

// On a fresh server, worker A (the slow model, `flags`) fetches the one job `job_line` that a
// producer (`zinfer submit --nats`, 60 s timeout) publishes, and is SIGKILLed as soon as it
// holds it (an idle machine can finish the job in a few 100 ms); then worker B starts, the same
// with metrics. The tests differ in what the flags make of the lost delivery; dead letters are
// caught in `dead` when asked for.
struct WorkerKilledHoldingTheJob {
  ~WorkerKilledHoldingTheJob() {
    if (dead != nullptr) natsSubscription_Destroy(dead);
  }

  void run(const std::vector<std::string>& flags, const std::string& job_line,
           bool watch_dead_letters = false) {
    ASSERT_FALSE(slow_model().empty());
    ASSERT_TRUE(f.server.start());
    probe = std::make_unique<NatsProbe>(f.server.url());
    ASSERT_TRUE(probe->ok());
    if (watch_dead_letters) {
      ASSERT_EQ(natsConnection_SubscribeSync(&dead, probe->nc(), "zinfer.dead.tiny"), NATS_OK);
    }
    auto argv = worker_argv(f.server.url(), "ipc://" + f.dir + "/a.sock", flags);
    argv[3] = slow_model();
    a.start(argv, f.dir + "/a.log");
    const std::string jobs = f.dir + "/jobs.jsonl";
    std::ofstream(jobs) << job_line << "\n";
    producer.start(
        {"/bin/sh", "-c", submit_cmd(f.server.url(), jobs, f.dir + "/out.jsonl", "--timeout 60")},
        f.dir + "/submit.log");
    const auto until = Clock::now() + std::chrono::seconds(30);
    while (probe->consumer("ZINFER_JOBS", "zinfer-tiny-normal")[1] != 1 && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(probe->consumer("ZINFER_JOBS", "zinfer-tiny-normal")[1], 1);
    a.signal(SIGKILL);
    argv[9] = "ipc://" + f.dir + "/b.sock";
    for (const std::string& x : metrics.flags()) argv.push_back(x);
    b.start(argv, f.dir + "/b.log");
  }

  Fixture f;
  std::unique_ptr<NatsProbe> probe;
  natsSubscription* dead = nullptr;
  MetricsPort metrics;
  Child a, producer, b;
};

TEST(JetStream, JobOutOfDeliveriesIsDeadLetteredWithWorkerLost) {
  REQUIRE_NATS_SERVER();
  WorkerKilledHoldingTheJob k;
  // A dies with the job's one delivery; B takes the max-deliveries advisory.
  ASSERT_NO_FATAL_FAILURE(
      k.run({"--nats-ack-wait", "1", "--nats-max-deliver", "1", "--max-running", "1"},
            R"({"job_id":"doomed","prompt_tokens":[1,2,3],"max_tokens":400,"ignore_eos":true})",
            /*watch_dead_letters=*/true));
  ASSERT_EQ(k.producer.wait(60000), 1) << read_all(k.f.dir + "/submit.log");
  const auto out = read_lines(k.f.dir + "/out.jsonl");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["error"]["code"], "WORKER_LOST");
  EXPECT_EQ(out[0]["error"]["retriable"], true);
  natsMsg* msg = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&msg, k.dead, 5000), NATS_OK);
  const char* code = nullptr;
  EXPECT_EQ(natsMsgHeader_Get(msg, "Zinfer-Error", &code), NATS_OK);
  EXPECT_STREQ(code, "WORKER_LOST");
  const char* id = nullptr;
  EXPECT_EQ(natsMsgHeader_Get(msg, "Nats-Msg-Id", &id), NATS_OK);
  EXPECT_STREQ(id, "doomed");
  natsMsg_Destroy(msg);
  // The job left the work queue; B got nothing to run.
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_GetStreamInfo(&si, k.probe->js(), "ZINFER_JOBS", nullptr, nullptr), NATS_OK);
  EXPECT_EQ(si->State.Msgs, 0u);
  jsStreamInfo_Destroy(si);
  const std::map<std::string, double> want = {
      {"dead_letters", 1}, {"deliveries", 0}, {"acks", 0}, {"terms", 0}, {"naks", 0}};
  expect_counters(jetstream_counters({k.metrics.url()}, want), want);
  k.b.signal(SIGTERM);
  EXPECT_EQ(k.b.wait(30000), 0);
}

TEST(JetStream, KilledWorkersJobIsRedeliveredToAnotherAndCounted) {
  REQUIRE_NATS_SERVER();
  WorkerKilledHoldingTheJob k;
  // Nothing acked: B gets the job again after the ack wait.
  ASSERT_NO_FATAL_FAILURE(
      k.run({"--nats-ack-wait", "1", "--max-running", "1"},
            R"({"job_id":"again","prompt_tokens":[1,2,3],"max_tokens":120,"ignore_eos":true,)"
            R"("temperature":0.9,"seed":7})"));
  ASSERT_EQ(k.producer.wait(60000), 0)
      << read_all(k.f.dir + "/submit.log") << read_all(k.f.dir + "/b.log");
  const auto out = read_lines(k.f.dir + "/out.jsonl");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["finish_reason"], "length");
  EXPECT_EQ(out[0]["attempt"], 2);
  EXPECT_EQ(summary_counts(read_all(k.f.dir + "/submit.log")).at("redelivered"), 1);
  const std::map<std::string, double> want = {
      {"deliveries", 1},   {"redeliveries", 1},    {"acks", 1},       {"terms", 0}, {"naks", 0},
      {"dead_letters", 0}, {"settle_failures", 0}, {"ack_pending", 0}};
  expect_counters(jetstream_counters({k.metrics.url()}, want), want);
  k.b.signal(SIGTERM);
  EXPECT_EQ(k.b.wait(30000), 0);
}

}  // namespace
}  // namespace zinfer::nats_testing
