// `zinfer bench --service`: the service layer alone. A worker runs in this process on TCP
// loopback with a trivial engine (each step gives every running job one token, instantly or at
// a fixed step rate) and DEALER clients in threads of this process stream jobs from it.
// Measured: frames/s delivered to clients (engine as fast as it goes), and the latency the
// service adds to a frame — from the end of the engine step that produced it to the client
// having received and decoded it — at a paced step rate, as under a real engine.
#include <spdlog/spdlog.h>
#include <zmq.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "service/cli/commands.h"
#include "service/protocol/codec.h"
#include "service/worker/service_log.h"
#include "service/worker/worker.h"

namespace zinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// The benchmark's engine: no model. Token i of a job is id i; the text of every frame is the
// step's end time in ns, so a client can tell how long the frame took to reach it.
class StubEngine final : public worker::JobEngine {
 public:
  StubEngine(std::int32_t capacity, std::int64_t step_us) : step_us_(step_us) {
    info_.model = "service-bench-stub";
    info_.architecture = "none";
    info_.device = "cpu";
    info_.context_length = 1 << 20;
    info_.vocab_size = 1 << 20;
    info_.capacity = capacity;
  }
  const worker::EngineInfo& info() const override { return info_; }
  Status add(sched::JobSpec spec) override {
    jobs_.emplace(spec.id, Job{spec.params.max_tokens, 0, static_cast<std::int32_t>(spec.prompt.size())});
    return ok_status();
  }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    sched::JobEvent ev = terminal(id, it->second, reason);
    jobs_.erase(it);
    return ev;
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point) override {
    if (step_us_ > 0) {
      next_step_ = std::max(next_step_ + std::chrono::microseconds(step_us_), Clock::now());
      std::this_thread::sleep_until(next_step_);
    }
    std::vector<sched::JobEvent> events;
    events.reserve(jobs_.size());
    std::int32_t running = 0;
    for (auto it = jobs_.begin(); it != jobs_.end() && running < info_.capacity; ++running) {
      Job& j = it->second;
      const auto token = static_cast<std::int32_t>(j.produced++);
      if (j.produced >= j.max_tokens) {
        sched::JobEvent ev = terminal(it->first, j, sched::FinishReason::kLength);
        ev.tokens = {token};
        events.push_back(std::move(ev));
        it = jobs_.erase(it);
      } else {
        sched::JobEvent ev;
        ev.id = it->first;
        ev.tokens = {token};
        ev.started = true;
        events.push_back(std::move(ev));
        ++it;
      }
      ++steps_tokens_;
    }
    ++steps_;
    const std::string stamp = std::to_string(now_ns());
    for (auto& ev : events) ev.text = stamp;
    return events;
  }
  bool idle() const override { return jobs_.empty(); }
  std::optional<sched::Clock::time_point> next_deadline() const override { return std::nullopt; }
  std::vector<sched::JobId> waiting_ids() const override { return {}; }
  std::vector<sched::JobId> running_ids() const override {
    std::vector<sched::JobId> ids;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
    return ids;
  }
  sched::SchedulerStats stats() const override {
    sched::SchedulerStats s;
    s.running = static_cast<std::int32_t>(jobs_.size());
    s.steps = steps_;
    s.tokens_generated = steps_tokens_;
    return s;
  }

 private:
  struct Job {
    std::int32_t max_tokens;
    std::int32_t produced;
    std::int32_t prompt_tokens;
  };
  static sched::JobEvent terminal(sched::JobId id, const Job& j, sched::FinishReason reason) {
    sched::JobEvent ev;
    ev.id = id;
    ev.finish = reason;
    ev.started = true;
    ev.prompt_tokens = j.prompt_tokens;
    ev.completion_tokens = j.produced;
    return ev;
  }
  worker::EngineInfo info_;
  std::int64_t step_us_;
  Clock::time_point next_step_ = Clock::now();
  std::map<sched::JobId, Job> jobs_;
  std::uint64_t steps_ = 0, steps_tokens_ = 0;
};

struct BenchArgs {
  bool service = false;
  int clients = 2;
  int jobs = 32;          // per client
  int tokens = 4000;      // per job, throughput phase
  int latency_tokens = 1000;
  std::int64_t step_us = 1000;  // latency phase engine step period
};

struct ClientResult {
  std::uint64_t frames = 0;
  std::uint64_t errors = 0;
  std::vector<double> latency_us;
};

// One DEALER client: submits `jobs` jobs at once and reads until every one is done.
ClientResult run_client(const std::string& endpoint, int client, int jobs, int tokens, bool measure) {
  ClientResult r;
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  const int hwm = 0;
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
  zmq_connect(s, endpoint.c_str());
  for (int j = 0; j < jobs; ++j) {
    protocol::SubmitMsg m;
    m.job_id = "c" + std::to_string(client) + "-j" + std::to_string(j);
    m.prompt_tokens = std::vector<std::int32_t>{1, 2, 3};
    m.params.max_tokens = tokens;
    m.seed_given = true;
    const std::string frame = protocol::encode_client(protocol::ClientMessage(m));
    zmq_send(s, frame.data(), frame.size(), 0);
  }
  if (measure) r.latency_us.reserve(static_cast<std::size_t>(jobs) * static_cast<std::size_t>(tokens));
  int done = 0;
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  while (done < jobs) {
    if (zmq_msg_recv(&msg, s, 0) < 0) break;
    auto decoded = protocol::decode_worker(
        {static_cast<const std::uint8_t*>(zmq_msg_data(&msg)), zmq_msg_size(&msg)}, protocol::DecodeLimits{});
    const std::int64_t t = now_ns();
    if (!decoded.ok()) {
      ++r.errors;
      continue;
    }
    const std::string* text = nullptr;
    if (auto* tk = std::get_if<protocol::TokenMsg>(&*decoded)) {
      text = &tk->text;
    } else if (auto* d = std::get_if<protocol::DoneMsg>(&*decoded)) {
      text = &d->text;
      ++done;
    } else if (std::holds_alternative<protocol::ErrorMsg>(*decoded)) {
      ++r.errors;
      ++done;
    }
    if (text == nullptr) continue;
    ++r.frames;
    std::int64_t stamp = 0;
    std::from_chars(text->data(), text->data() + text->size(), stamp);
    if (measure) r.latency_us.push_back(static_cast<double>(t - stamp) / 1000.0);
  }
  zmq_msg_close(&msg);
  zmq_close(s);
  zmq_ctx_term(ctx);
  return r;
}

struct PhaseResult {
  double seconds = 0.0;
  ClientResult merged;
};

Result<PhaseResult> run_phase(const BenchArgs& a, int tokens, std::int64_t step_us, bool measure) {
  worker::WorkerConfig cfg;
  cfg.bind = "tcp://127.0.0.1:0";
  cfg.max_queued = 1 << 20;
  cfg.max_peer_backlog_bytes = std::size_t{1} << 32;
  const int capacity = a.clients * a.jobs;
  auto w = worker::Worker::create(cfg, std::make_unique<StubEngine>(capacity, step_us));
  if (!w.ok()) return w.error();
  worker::Worker& worker = **w;
  std::thread server([&] { worker.run(); });
  const auto t0 = Clock::now();
  std::vector<ClientResult> results(static_cast<std::size_t>(a.clients));
  std::vector<std::thread> clients;
  for (int c = 0; c < a.clients; ++c) {
    clients.emplace_back([&, c] { results[static_cast<std::size_t>(c)] = run_client(worker.endpoint(), c, a.jobs, tokens, measure); });
  }
  for (auto& t : clients) t.join();
  PhaseResult p;
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  worker.request_stop();
  server.join();
  for (auto& r : results) {
    p.merged.frames += r.frames;
    p.merged.errors += r.errors;
    p.merged.latency_us.insert(p.merged.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
  }
  return p;
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0.0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int run_bench(const BenchArgs& a) {
  if (!a.service) {
    std::cerr << "error: give --service (the engine is measured by `zinfer generate` and the scheduler tests)\n";
    return 2;
  }
  if (a.clients < 1 || a.jobs < 1 || a.tokens < 1 || a.latency_tokens < 1 || a.step_us < 1) {
    std::cerr << "error: --clients, --jobs, --tokens, --latency-tokens and --step-us must be ≥ 1\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  worker::service_log().set_level(spdlog::level::warn);
  const unsigned cores = std::thread::hardware_concurrency();

  auto tp_r = run_phase(a, a.tokens, 0, false);
  if (!tp_r.ok()) {
    std::cerr << "error: " << tp_r.error().message << "\n";
    return 1;
  }
  PhaseResult& tp = *tp_r;
  const double fps = static_cast<double>(tp.merged.frames) / tp.seconds;
  std::printf("service throughput: %llu frames in %.3f s = %.0f frames/s (%d clients × %d jobs × %d tokens, "
              "engine unpaced, %u cores)%s\n",
              static_cast<unsigned long long>(tp.merged.frames), tp.seconds, fps, a.clients, a.jobs, a.tokens, cores,
              tp.merged.errors > 0 ? " — ERRORS" : "");

  auto lat_r = run_phase(a, a.latency_tokens, a.step_us, true);
  if (!lat_r.ok()) {
    std::cerr << "error: " << lat_r.error().message << "\n";
    return 1;
  }
  PhaseResult& lat = *lat_r;
  auto& v = lat.merged.latency_us;
  const double p50 = percentile(v, 0.50), p99 = percentile(v, 0.99), p999 = percentile(v, 0.999);
  const double max = v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
  std::printf("added latency per frame: p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs over %zu frames "
              "(engine step every %lld µs, %d jobs → %.0f frames/s)%s\n",
              p50, p99, p999, max, v.size(), static_cast<long long>(a.step_us), a.clients * a.jobs,
              static_cast<double>(lat.merged.frames) / lat.seconds, lat.merged.errors > 0 ? " — ERRORS" : "");
  return tp.merged.errors + lat.merged.errors > 0 ? 1 : 0;
}

}  // namespace

Command register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Benchmarks (--service: the ZeroMQ service layer alone)");
  sub->add_flag("--service", a->service, "Measure the service layer with a trivial engine over TCP loopback");
  sub->add_option("--clients", a->clients, "DEALER clients (threads)")->capture_default_str();
  sub->add_option("--jobs", a->jobs, "Concurrent jobs per client")->capture_default_str();
  sub->add_option("--tokens", a->tokens, "Tokens per job in the throughput run")->capture_default_str();
  sub->add_option("--latency-tokens", a->latency_tokens, "Tokens per job in the latency run")->capture_default_str();
  sub->add_option("--step-us", a->step_us, "Engine step period in the latency run (µs)")->capture_default_str();
  return Command{sub, [a] { return run_bench(*a); }};
}

}  // namespace zinfer::cli
