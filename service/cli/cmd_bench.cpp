// `zinfer bench --service`: the service layer alone. A worker runs in this process on TCP
// loopback with a trivial engine (each step gives every running job one token, instantly or at
// a fixed step rate) and DEALER clients in threads of this process stream jobs from it.
// Measured: frames/s delivered to clients (engine as fast as it goes), and the latency the
// service adds to a frame — from the end of the engine step that produced it to the client
// having received and decoded it — at a paced step rate, as under a real engine.
#include <spdlog/spdlog.h>
#include <pthread.h>
#include <sched.h>
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

// The client side of the benchmark reads only what it needs from a frame ("type" and
// "text") with this minimal msgpack walker, so the clients — sharing the machine's cores with
// the worker — cost as little as possible; a sample of frames is also fully decoded with the
// strict codec to check they are valid protocol.
class FrameSkimmer {
 public:
  FrameSkimmer(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  // Fills type and text of a top-level map; false on anything unexpected.
  bool read(std::string_view& type, std::string_view& text) {
    std::uint32_t entries = 0;
    if (!map_header(entries)) return false;
    for (std::uint32_t i = 0; i < entries; ++i) {
      std::string_view key;
      if (!str(key)) return false;
      if (key == "type" || key == "text") {
        if (!str(key == "type" ? type : text)) return false;
      } else if (!skip()) {
        return false;
      }
    }
    return true;
  }

 private:
  bool need(std::size_t n) const { return static_cast<std::size_t>(end_ - p_) >= n; }
  std::uint64_t be(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | *p_++;
    return v;
  }
  bool map_header(std::uint32_t& n) {
    if (!need(1)) return false;
    const std::uint8_t b = *p_++;
    if ((b & 0xf0) == 0x80) return (n = b & 0x0f), true;
    if (b == 0xde && need(2)) return (n = static_cast<std::uint32_t>(be(2))), true;
    if (b == 0xdf && need(4)) return (n = static_cast<std::uint32_t>(be(4))), true;
    return false;
  }
  bool str(std::string_view& out) {
    if (!need(1)) return false;
    const std::uint8_t b = *p_++;
    std::uint64_t len = 0;
    if ((b & 0xe0) == 0xa0) {
      len = b & 0x1f;
    } else if (b == 0xd9 && need(1)) {
      len = be(1);
    } else if (b == 0xda && need(2)) {
      len = be(2);
    } else if (b == 0xdb && need(4)) {
      len = be(4);
    } else {
      return false;
    }
    if (!need(len)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }
  bool skip(int depth = 0) {
    if (!need(1) || depth > 8) return false;
    const std::uint8_t b = *p_;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return ++p_, true;
    if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb)) {
      std::string_view s;
      return str(s);
    }
    std::uint64_t n = 0;
    bool is_map = false;
    ++p_;
    switch (b) {
      case 0xcc: case 0xd0: return need(1) && (p_ += 1, true);
      case 0xcd: case 0xd1: return need(2) && (p_ += 2, true);
      case 0xca: case 0xce: case 0xd2: return need(4) && (p_ += 4, true);
      case 0xcb: case 0xcf: case 0xd3: return need(8) && (p_ += 8, true);
      case 0xdc: if (!need(2)) return false; n = be(2); break;
      case 0xdd: if (!need(4)) return false; n = be(4); break;
      case 0xde: if (!need(2)) return false; n = be(2); is_map = true; break;
      case 0xdf: if (!need(4)) return false; n = be(4); is_map = true; break;
      default:
        if ((b & 0xf0) == 0x90) {
          n = b & 0x0f;
        } else if ((b & 0xf0) == 0x80) {
          n = b & 0x0f;
          is_map = true;
        } else {
          return false;
        }
    }
    for (std::uint64_t i = 0; i < n * (is_map ? 2 : 1); ++i) {
      if (!skip(depth + 1)) return false;
    }
    return true;
  }
  const std::uint8_t* p_;
  const std::uint8_t* end_;
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
  pthread_setname_np(pthread_self(), "bench-client");
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
  std::uint64_t seen = 0;
  while (done < jobs) {
    if (zmq_msg_recv(&msg, s, 0) < 0) break;
    const std::int64_t t = now_ns();
    const auto* data = static_cast<const std::uint8_t*>(zmq_msg_data(&msg));
    const std::size_t size = zmq_msg_size(&msg);
    std::string_view type, text;
    if (!FrameSkimmer(data, size).read(type, text)) {
      ++r.errors;
      continue;
    }
    if (type == "done" || type == "error" || (seen++ & 255) == 0) {
      if (!protocol::decode_worker({data, size}, protocol::DecodeLimits{}).ok()) ++r.errors;
    }
    if (type == "error") {
      ++r.errors;
      ++done;
      continue;
    }
    if (type != "token" && type != "done") continue;
    if (type == "done") ++done;
    ++r.frames;
    std::int64_t stamp = 0;
    std::from_chars(text.data(), text.data() + text.size(), stamp);
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

// Runs the clients against `endpoint` and merges their results.
PhaseResult run_clients(const BenchArgs& a, const std::string& endpoint, int tokens, bool measure) {
  const auto t0 = Clock::now();
  std::vector<ClientResult> results(static_cast<std::size_t>(a.clients));
  std::vector<std::thread> clients;
  for (int c = 0; c < a.clients; ++c) {
    clients.emplace_back([&, c] { results[static_cast<std::size_t>(c)] = run_client(endpoint, c, a.jobs, tokens, measure); });
  }
  for (auto& t : clients) t.join();
  PhaseResult p;
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& r : results) {
    p.merged.frames += r.frames;
    p.merged.errors += r.errors;
    p.merged.latency_us.insert(p.merged.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
  }
  return p;
}

// The service: a Worker with the stub engine.
Result<PhaseResult> run_service(const BenchArgs& a, int tokens, std::int64_t step_us, bool measure) {
  worker::WorkerConfig cfg;
  cfg.bind = "tcp://127.0.0.1:0";
  cfg.max_queued = 1 << 20;
  cfg.max_peer_backlog_bytes = std::size_t{1} << 32;
  const int capacity = a.clients * a.jobs;
  auto w = worker::Worker::create(cfg, std::make_unique<StubEngine>(capacity, step_us));
  if (!w.ok()) return w.error();
  worker::Worker& worker = **w;
  std::thread server([&] { worker.run(); });
  PhaseResult p = run_clients(a, worker.endpoint(), tokens, measure);
  worker.request_stop();
  server.join();
  return p;
}

// The transport floor for the latency run: one thread owns a ROUTER and, at the same step
// period, sends every job the same frames (same codec) directly — no engine thread, no
// hand-over, no job table. What the service adds is its latency minus this one's.
Result<PhaseResult> run_transport_floor(const BenchArgs& a, int tokens, std::int64_t step_us) {
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  const int hwm = 0;
  zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
  if (zmq_bind(router, "tcp://127.0.0.1:0") != 0) {
    zmq_close(router);
    zmq_ctx_term(ctx);
    return make_error(ErrorCode::kInternal, std::string("bind: ") + zmq_strerror(zmq_errno()));
  }
  char ep[256];
  std::size_t len = sizeof(ep);
  zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
  std::thread server([&] {
    struct Job {
      std::string peer, job_id;
    };
    std::vector<Job> jobs;
    const std::size_t n = static_cast<std::size_t>(a.clients) * static_cast<std::size_t>(a.jobs);
    char buf[4096];
    while (jobs.size() < n) {
      const int id_len = zmq_recv(router, buf, sizeof(buf), 0);
      std::string peer(buf, static_cast<std::size_t>(std::max(id_len, 0)));
      const int m = zmq_recv(router, buf, sizeof(buf), 0);
      auto msg = protocol::decode_client({reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(std::max(m, 0))},
                                         protocol::DecodeLimits{});
      if (msg.ok()) jobs.push_back({peer, std::get<protocol::SubmitMsg>(*msg).job_id});
    }
    auto next = Clock::now();
    for (int t = 0; t < tokens; ++t) {
      next = std::max(next + std::chrono::microseconds(step_us), Clock::now());
      std::this_thread::sleep_until(next);
      const std::string stamp = std::to_string(now_ns());
      for (const Job& j : jobs) {
        std::string frame;
        if (t + 1 < tokens) {
          frame = protocol::encode(protocol::TokenMsg{j.job_id, static_cast<std::uint64_t>(t), {t}, stamp, {}});
        } else {
          protocol::DoneMsg d;
          d.job_id = j.job_id;
          d.seq = static_cast<std::uint64_t>(t);
          d.finish_reason = sched::FinishReason::kLength;
          d.text = stamp;
          d.tokens = {t};
          frame = protocol::encode(d);
        }
        zmq_send(router, j.peer.data(), j.peer.size(), ZMQ_SNDMORE);
        zmq_send(router, frame.data(), frame.size(), 0);
      }
    }
  });
  PhaseResult p = run_clients(a, std::string(ep), tokens, true);
  server.join();
  zmq_close(router);
  zmq_ctx_term(ctx);
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
  cpu_set_t set;
  CPU_ZERO(&set);
  const int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                                   : static_cast<int>(std::thread::hardware_concurrency());

  auto tp_r = run_service(a, a.tokens, 0, false);
  if (!tp_r.ok()) {
    std::cerr << "error: " << tp_r.error().message << "\n";
    return 1;
  }
  PhaseResult& tp = *tp_r;
  const double fps = static_cast<double>(tp.merged.frames) / tp.seconds;
  std::printf("service throughput: %llu frames in %.3f s = %.0f frames/s (%d clients × %d jobs × %d tokens, "
              "engine unpaced, %d cores)%s\n",
              static_cast<unsigned long long>(tp.merged.frames), tp.seconds, fps, a.clients, a.jobs, a.tokens, cores,
              tp.merged.errors > 0 ? " — ERRORS" : "");

  auto floor_r = run_transport_floor(a, a.latency_tokens, a.step_us);
  auto lat_r = run_service(a, a.latency_tokens, a.step_us, true);
  if (!lat_r.ok() || !floor_r.ok()) {
    std::cerr << "error: " << (lat_r.ok() ? floor_r.error().message : lat_r.error().message) << "\n";
    return 1;
  }
  PhaseResult& lat = *lat_r;
  auto& v = lat.merged.latency_us;
  auto& f = floor_r->merged.latency_us;
  const double p50 = percentile(v, 0.50), p99 = percentile(v, 0.99), p999 = percentile(v, 0.999);
  const double f50 = percentile(f, 0.50), f99 = percentile(f, 0.99);
  std::printf("latency per frame, engine step → client decoded (engine step every %lld µs, %d jobs → %.0f frames/s):\n"
              "  service          p50 %7.1f µs  p99 %7.1f µs  p99.9 %7.1f µs  (%zu frames)%s\n"
              "  transport floor  p50 %7.1f µs  p99 %7.1f µs  (same frames sent by one thread on a bare ROUTER)\n"
              "  added by service p50 %7.1f µs  p99 %7.1f µs\n",
              static_cast<long long>(a.step_us), a.clients * a.jobs,
              static_cast<double>(lat.merged.frames) / lat.seconds, p50, p99, p999, v.size(),
              lat.merged.errors > 0 ? " — ERRORS" : "", f50, f99, p50 - f50, p99 - f99);
  return tp.merged.errors + lat.merged.errors + floor_r->merged.errors > 0 ? 1 : 0;
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
