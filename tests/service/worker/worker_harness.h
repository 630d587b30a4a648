// Shared helpers of the worker tests: raw ZeroMQ clients that build requests and read replies
// with nlohmann::json's msgpack (independent of the codec under test), the per-job frame
// invariant (accepted → token seq 0.. → exactly one terminal frame, nothing after), an
// in-process worker on its own thread, and the standalone reference generation (Llm::forward +
// Sequence: the `zinfer generate` path).
#pragma once

#include <gtest/gtest.h>
#include <zmq.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/job_engine.h"
#include "engine/sched/scheduler.h"
#include "engine/sched/sequence.h"
#include "engine/sched/sequence_runner.h"
#include "service/worker/worker.h"
#include "tests/test_util.h"

namespace zinfer::worker::testing {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";

// The default worker config bound to `bind`.
inline WorkerConfig bound_to(const std::string& bind) {
  WorkerConfig wc;
  wc.bind = bind;
  return wc;
}

// ipc://<the test's temp dir>/<name>
inline std::string ipc_endpoint(const std::string& name) {
  return "ipc://" + zinfer::testing::temp_dir() + "/" + name;
}

inline std::string pack(const json& j) {
  const std::vector<std::uint8_t> v = json::to_msgpack(j);
  return std::string(v.begin(), v.end());
}

inline json submit(const std::string& job_id, json fields) {
  json j = std::move(fields);
  j["v"] = 1;
  j["type"] = "submit";
  j["job_id"] = job_id;
  return j;
}

inline json cancel(const std::string& job_id) {
  return json{{"v", 1}, {"type", "cancel"}, {"job_id", job_id}};
}
inline json request(const std::string& type) { return json{{"v", 1}, {"type", type}}; }

// A client socket (DEALER; REQ-style adds the empty delimiter itself) that records every frame
// it receives, per job_id.
class Client {
 public:
  Client(void* ctx, const std::string& endpoint, bool req_style = false) : req_style_(req_style) {
    sock_ = zmq_socket(ctx, ZMQ_DEALER);
    const int linger = 0;
    EXPECT_EQ(zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    EXPECT_EQ(zmq_connect(sock_, endpoint.c_str()), 0) << endpoint;
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void close() {
    if (sock_ != nullptr) zmq_close(sock_);
    sock_ = nullptr;
  }
  void send(const json& msg) { send_raw(pack(msg)); }
  void send_raw(const std::string& bytes) {
    if (req_style_) zmq_send(sock_, "", 0, ZMQ_SNDMORE);
    zmq_send(sock_, bytes.data(), bytes.size(), 0);
  }

  // Receives one message (waiting up to timeout_ms); checks the envelope style.
  std::optional<json> recv(int timeout_ms) {
    zmq_pollitem_t item{sock_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return std::nullopt;
    std::vector<std::string> parts;
    int more = 1;
    while (more != 0) {
      zmq_msg_t m;
      zmq_msg_init(&m);
      zmq_msg_recv(&m, sock_, 0);
      parts.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
      more = zmq_msg_more(&m);
      zmq_msg_close(&m);
    }
    if (req_style_) {
      EXPECT_EQ(parts.size(), 2u) << "REQ-style replies are [empty, payload]";
      EXPECT_TRUE(parts.front().empty());
    } else {
      EXPECT_EQ(parts.size(), 1u) << "DEALER replies are [payload]";
    }
    json j = json::from_msgpack(parts.back(), true, false);
    EXPECT_FALSE(j.is_discarded()) << "reply is not msgpack";
    EXPECT_EQ(j.value("v", 0), 1);
    record(j);
    return j;
  }

  // Reads frames until pred() holds; false on timeout.
  bool pump_until(const std::function<bool()>& pred, int timeout_ms = 60000) {
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!pred()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) return false;
      recv(static_cast<int>(std::min<long long>(left, 50)));
    }
    return true;
  }
  // Sends a health/stats request and returns the reply of that type.
  json ask(const std::string& type, int timeout_ms = 10000) {
    const std::size_t before = others[type].size();
    send(request(type));
    EXPECT_TRUE(pump_until([&] { return others[type].size() > before; }, timeout_ms))
        << "no " << type << " reply";
    return others[type].empty() ? json() : others[type].back();
  }

  bool has_terminal(const std::string& job_id) const {
    auto it = jobs.find(job_id);
    if (it == jobs.end() || it->second.empty()) return false;
    // The invariant puts the terminal frame last; expect_job_invariant() checks the rest.
    const json& f = it->second.back();
    return f["type"] == "done" || f["type"] == "error";
  }
  std::size_t count(const std::string& job_id, const std::string& type) const {
    auto it = jobs.find(job_id);
    std::size_t n = 0;
    if (it != jobs.end()) {
      for (const json& f : it->second) n += f["type"] == type ? 1 : 0;
    }
    return n;
  }
  const json& last(const std::string& job_id) { return jobs[job_id].back(); }

  std::map<std::string, std::vector<json>> jobs;    // frames carrying a job_id
  std::map<std::string, std::vector<json>> others;  // by type: health, stats, error without job_id
  void* socket() { return sock_; }

 private:
  void record(const json& j) {
    if (j.contains("job_id")) {
      jobs[j["job_id"].get<std::string>()].push_back(j);
    } else {
      others[j.value("type", "")].push_back(j);
    }
  }
  void* sock_ = nullptr;
  bool req_style_;
};

// accepted → token(seq 0, 1, …) → exactly one terminal frame, and nothing after it.
// A rejected job (accepted_expected = false) is exactly one error frame.
inline void expect_job_invariant(const std::vector<json>& frames, const std::string& job_id,
                                 bool accepted_expected = true) {
  SCOPED_TRACE("job " + job_id);
  ASSERT_FALSE(frames.empty());
  std::size_t i = 0;
  if (accepted_expected) {
    ASSERT_EQ(frames[0]["type"], "accepted");
    i = 1;
  }
  std::uint64_t seq = 0;
  int terminals = 0;
  for (; i < frames.size(); ++i) {
    const json& f = frames[i];
    EXPECT_EQ(f["job_id"], job_id);
    EXPECT_EQ(terminals, 0) << "frame after the terminal frame: " << f.dump();
    if (f["type"] == "token") {
      EXPECT_EQ(f["seq"].get<std::uint64_t>(), seq++);
      EXPECT_GE(f["tokens"].size(), 1u);
    } else if (f["type"] == "done") {
      EXPECT_EQ(f["seq"].get<std::uint64_t>(), seq);
      ++terminals;
    } else if (f["type"] == "error") {
      ++terminals;
    } else {
      ADD_FAILURE() << "unexpected frame " << f.dump();
    }
  }
  EXPECT_EQ(terminals, 1) << "exactly one terminal frame per job";
}

// Asks for stats and expects each field of `expected` to hold its value there.
inline void expect_stats(Client& cl, const json& expected) {
  const json stats = cl.ask("stats");
  for (const auto& field : expected.items()) {
    EXPECT_EQ(stats[field.key()], field.value()) << field.key();
  }
}

struct JobOutput {
  std::vector<std::int32_t> tokens;
  std::string text;
  std::string finish;  // finish_reason, or "error:<CODE>"
};

inline JobOutput collect(const std::vector<json>& frames) {
  JobOutput o;
  for (const json& f : frames) {
    if (f["type"] == "token" || f["type"] == "done") {
      for (const auto& t : f["tokens"]) o.tokens.push_back(t.get<std::int32_t>());
      o.text += f["text"].get<std::string>();
    }
    if (f["type"] == "done") o.finish = f["finish_reason"].get<std::string>();
    if (f["type"] == "error") o.finish = "error:" + f["code"].get<std::string>();
  }
  return o;
}

// The `zinfer generate` path: the whole prompt in one forward, then one token per forward.
inline JobOutput generate_alone(Llm& llm, const std::vector<std::int32_t>& prompt,
                                const sched::GenerationParams& p) {
  sched::SequenceRunner run(llm);
  auto spec = sched::JobSpec::check(prompt, p, {llm.hparams().n_vocab, llm.options().n_ctx});
  if (!spec.ok()) {
    ADD_FAILURE() << spec.error().message;
    return {};
  }
  sched::Sequence seq(llm.tokenizer(), *spec);
  JobOutput out;
  while (!seq.finished()) {
    auto logits = run.forward(0, seq.pending_input(), false);
    if (!logits.ok()) {
      ADD_FAILURE() << logits.error().message;
      break;
    }
    auto step = seq.accept_logits(*logits);
    if (!step.ok()) {
      ADD_FAILURE() << step.error().message;
      break;
    }
    out.text += step->text;
  }
  out.tokens = seq.generated();
  out.finish = sched::finish_reason_name(seq.finish_reason());
  return out;
}

// A worker serving on its own thread; stopped (and joined) on destruction.
class WorkerThread {
 public:
  WorkerThread(const WorkerConfig& cfg, std::unique_ptr<sched::JobEngine> engine) {
    auto w = Worker::create(cfg, std::move(engine));
    if (!w.ok()) {
      ADD_FAILURE() << w.error().message;
      return;
    }
    worker_ = std::move(*w);
    thread_ = std::thread([this] { rc_ = worker_->run(); });
  }
  ~WorkerThread() {
    if (worker_ && thread_.joinable()) {
      worker_->request_stop();
      thread_.join();
    }
  }
  bool ok() const { return worker_ != nullptr; }
  Worker& worker() { return *worker_; }
  const std::string& endpoint() const { return worker_->endpoint(); }
  // Waits for run() to return (after a drain); its exit code, or -1 on timeout.
  int join(int timeout_ms = 60000) {
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done() && Clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done()) return -1;
    thread_.join();
    return rc_;
  }
  bool done() const { return rc_ != kRunning; }

 private:
  static constexpr int kRunning = -1000;
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  std::atomic<int> rc_{kRunning};
};

// Options for a real model on the CPU with 2 threads (the test machines share their cores).
inline LlmOptions model_options(const std::string& model, std::int32_t n_ctx,
                                std::int32_t n_seq_max = LlmOptions{}.n_seq_max) {
  LlmOptions opt = zinfer::testing::llm_options(model, n_ctx, n_seq_max);
  opt.n_threads = 2;
  return opt;
}

// A worker (`wc`) on its own thread serving the model of `opt` through a Scheduler (`sc`);
// nullptr (after a test failure) when either does not start.
inline std::unique_ptr<WorkerThread> start_model_worker(const LlmOptions& opt,
                                                        const sched::SchedulerConfig& sc,
                                                        const WorkerConfig& wc) {
  auto engine = sched::Scheduler::load(opt, sc);
  EXPECT_TRUE(engine.ok()) << engine.error().message;
  if (!engine.ok()) return nullptr;
  auto w = std::make_unique<WorkerThread>(wc, std::move(*engine));
  return w->ok() ? std::move(w) : nullptr;
}

// A zmq context per test, terminated last.
class Context {
 public:
  Context() : ctx_(zmq_ctx_new()) {}
  ~Context() { zmq_ctx_term(ctx_); }
  void* get() { return ctx_; }

 private:
  void* ctx_;
};

}  // namespace zinfer::worker::testing
