// `zinfer bench --model FILE`: the engine alone (bench_engine.h).
// `zinfer bench --e2e --model FILE`: a real `zinfer serve` driven by DEALER clients, beside the
// engine alone on the same jobs (bench_e2e.h).
// `zinfer bench --service`: the service layer alone. A worker runs in this process on TCP
// loopback with a trivial engine (each step gives every running job one token, instantly or at
// a fixed step rate) and DEALER clients in threads of this process stream jobs from it.
// Measured: frames/s delivered to clients (engine as fast as it goes), and the latency the
// service adds to a frame — from the end of the engine step that produced it to the client
// having received and decoded it — at a paced step rate, as under a real engine.
#include <pthread.h>
#include <sched.h>
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

#include "service/cli/backend_flags.h"
#include "service/cli/bench_e2e.h"
#include "service/cli/bench_engine.h"
#include "service/cli/bench_stub_engine.h"
#include "service/cli/commands.h"
#include "service/cli/frame_skimmer.h"
#include "service/client/dealer_client.h"
#include "service/protocol/codec.h"
#include "service/transport/endpoint.h"
#include "service/transport/socket_options.h"
#include "service/worker/service_log.h"
#include "service/worker/worker.h"

namespace zinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  EngineBenchArgs engine;
  E2eBenchArgs e2e;  // --e2e; shares --model, --device, --threads, the matmul flags and --json
  bool e2e_mode = false;
  bool service = false;
  int clients = 2;
  int jobs = 32;      // per client
  int tokens = 4000;  // per job, throughput phase
  int latency_tokens = 1000;
  std::int64_t step_us = 1000;  // latency phase engine step period
  // Flags whose default differs between the modes: given or not.
  CLI::Option* jobs_opt = nullptr;
  CLI::Option* tokens_opt = nullptr;
  CLI::Option* clients_opt = nullptr;
  CLI::Option* prompt_tokens_opt = nullptr;
  CLI::Option* temp_opt = nullptr;
  CLI::Option* top_p_opt = nullptr;
  CLI::Option* top_k_opt = nullptr;
};

struct ClientResult {
  std::uint64_t frames = 0;
  std::uint64_t errors = 0;
  std::vector<double> latency_us;
};

// One DEALER client: submits `jobs` jobs at once and reads until every one is done.
ClientResult run_client(const std::string& endpoint, int client, int jobs, int tokens,
                        bool measure) {
  pthread_setname_np(pthread_self(), "bench-client");
  ClientResult r;
  client::DealerOptions options;
  options.rcvhwm = 0;  // every frame of the run is read; none may be held back by the worker
  auto connected = client::DealerClient::connect(endpoint, options);
  if (!connected.ok()) {
    std::fprintf(stderr, "bench client %d: %s\n", client, connected.error().message.c_str());
    r.errors = 1;
    return r;
  }
  client::DealerClient& s = **connected;
  for (int j = 0; j < jobs; ++j) {
    protocol::SubmitMsg m;
    m.job_id = "c" + std::to_string(client) + "-j" + std::to_string(j);
    m.prompt_tokens = std::vector<std::int32_t>{1, 2, 3};
    m.params.max_tokens = tokens;
    m.seed_given = true;
    const std::string frame = protocol::encode_client(protocol::ClientMessage(m));
    s.send(frame);
  }
  if (measure)
    r.latency_us.reserve(static_cast<std::size_t>(jobs) * static_cast<std::size_t>(tokens));
  int done = 0;
  std::uint64_t seen = 0;
  while (done < jobs) {
    client::Frame msg;
    if (!s.recv(msg, -1)) break;
    const std::int64_t t = steady_now_ns();
    const auto* data = msg.bytes().data();
    const std::size_t size = msg.bytes().size();
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
  clients.reserve(static_cast<std::size_t>(a.clients));
  for (int c = 0; c < a.clients; ++c) {
    clients.emplace_back([&, c] {
      results[static_cast<std::size_t>(c)] = run_client(endpoint, c, a.jobs, tokens, measure);
    });
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
Result<PhaseResult> run_service(const BenchArgs& a, int tokens, std::int64_t step_us,
                                bool measure) {
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
  Status st = transport::set_option(router, ZMQ_SNDHWM, 0, "ZMQ_SNDHWM");
  if (st.ok()) st = transport::bind_endpoint(router, "tcp://127.0.0.1:0", "transport floor");
  if (!st.ok()) {
    zmq_close(router);
    zmq_ctx_term(ctx);
    return st.error();
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
      auto msg = protocol::decode_client(
          {reinterpret_cast<const std::uint8_t*>(buf), static_cast<std::size_t>(std::max(m, 0))},
          protocol::DecodeLimits{});
      if (msg.ok()) jobs.push_back({peer, std::get<protocol::SubmitMsg>(*msg).job_id});
    }
    auto next = Clock::now();
    for (int t = 0; t < tokens; ++t) {
      next = std::max(next + std::chrono::microseconds(step_us), Clock::now());
      std::this_thread::sleep_until(next);
      const std::string stamp = std::to_string(steady_now_ns());
      for (const Job& j : jobs) {
        std::string frame;
        if (t + 1 < tokens) {
          frame = protocol::encode(protocol::TokenMsg{
              j.job_id, static_cast<std::uint64_t>(t), {t}, stamp, {}, std::nullopt});
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
  if (a.e2e_mode) {
    if (a.service) {
      std::cerr << "error: give one of --e2e (with --model) or --service\n";
      return 2;
    }
    E2eBenchArgs e = a.e2e;
    e.llm = a.engine.llm;
    e.json = a.engine.json;
    if (a.jobs_opt->count() > 0) e.jobs = a.jobs;
    if (a.tokens_opt->count() > 0) e.tokens = a.tokens;
    if (a.clients_opt->count() > 0) e.clients = a.clients;
    if (a.prompt_tokens_opt->count() > 0) e.prompt_tokens = a.engine.prompt_tokens;
    return run_e2e_bench(e);
  }
  if (!a.engine.llm.model_path.empty()) {
    if (a.service) {
      std::cerr << "error: give one of --model (the engine) or --service (the service layer)\n";
      return 2;
    }
    if (!a.engine.json)
      spdlog::set_level(spdlog::level::warn);
    else
      spdlog::set_level(spdlog::level::err);
    EngineBenchArgs engine = a.engine;
    // The decode steps sample greedily unless --temp, --top-p or --top-k is given (--top-p or
    // --top-k alone: at --temp's default).
    if (a.temp_opt->count() > 0 || a.top_p_opt->count() > 0 || a.top_k_opt->count() > 0) {
      engine.temperature = a.e2e.temperature;
    }
    if (a.top_p_opt->count() > 0) engine.top_p = a.e2e.top_p;
    engine.top_k = a.e2e.top_k;
    engine.top_logprobs = a.e2e.top_logprobs;
    return run_engine_bench(engine);
  }
  if (!a.service) {
    std::cerr << "error: give --model FILE (engine speed) or --service (the service layer alone)\n";
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
  const int cores = sched_getaffinity(0, sizeof(set), &set) == 0
                        ? CPU_COUNT(&set)
                        : static_cast<int>(std::thread::hardware_concurrency());

  auto tp_r = run_service(a, a.tokens, 0, false);
  if (!tp_r.ok()) {
    std::cerr << "error: " << tp_r.error().message << "\n";
    return 1;
  }
  PhaseResult& tp = *tp_r;
  const double fps = static_cast<double>(tp.merged.frames) / tp.seconds;
  std::printf(
      "service throughput: %llu frames in %.3f s = %.0f frames/s (%d clients × %d jobs × %d "
      "tokens, "
      "engine unpaced, %d cores)%s\n",
      static_cast<unsigned long long>(tp.merged.frames), tp.seconds, fps, a.clients, a.jobs,
      a.tokens, cores, tp.merged.errors > 0 ? " — ERRORS" : "");

  auto floor_r = run_transport_floor(a, a.latency_tokens, a.step_us);
  auto lat_r = run_service(a, a.latency_tokens, a.step_us, true);
  if (!lat_r.ok() || !floor_r.ok()) {
    std::cerr << "error: " << (lat_r.ok() ? floor_r.error().message : lat_r.error().message)
              << "\n";
    return 1;
  }
  PhaseResult& lat = *lat_r;
  auto& v = lat.merged.latency_us;
  auto& f = floor_r->merged.latency_us;
  const double p50 = percentile(v, 0.50), p99 = percentile(v, 0.99), p999 = percentile(v, 0.999);
  const double f50 = percentile(f, 0.50), f99 = percentile(f, 0.99);
  std::printf(
      "latency per frame, engine step → client decoded (engine step every %lld µs, %d jobs → %.0f "
      "frames/s):\n"
      "  service          p50 %7.1f µs  p99 %7.1f µs  p99.9 %7.1f µs  (%zu frames)%s\n"
      "  transport floor  p50 %7.1f µs  p99 %7.1f µs  (same frames sent by one thread on a bare "
      "ROUTER)\n"
      "  added by service p50 %7.1f µs  p99 %7.1f µs\n",
      static_cast<long long>(a.step_us), a.clients * a.jobs,
      static_cast<double>(lat.merged.frames) / lat.seconds, p50, p99, p999, v.size(),
      lat.merged.errors > 0 ? " — ERRORS" : "", f50, f99, p50 - f50, p99 - f99);
  return tp.merged.errors + lat.merged.errors + floor_r->merged.errors > 0 ? 1 : 0;
}

}  // namespace

Command register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  a->engine.llm.device = "auto";
  CLI::App* sub = app.add_subcommand("bench",
                                     "Benchmarks (--model FILE: engine speed on a device; "
                                     "--service: the ZeroMQ service layer alone; --e2e --model "
                                     "FILE: a real zinfer serve end to end beside the engine)");
  sub->add_option("-m,--model", a->engine.llm.model_path,
                  "GGUF model: measure prefill and decode speed");
  sub->add_option("--device", a->engine.llm.device, "auto, cpu, cuda, cuda:N")
      ->capture_default_str();
  a->prompt_tokens_opt =
      sub->add_option("--prompt-tokens", a->engine.prompt_tokens,
                      "Prompt length of the prefill run (--e2e: of each job, default 130)")
          ->capture_default_str();
  sub->add_option("--decode-tokens", a->engine.decode_tokens, "Decode steps per run")
      ->capture_default_str();
  sub->add_option("--decode-context", a->engine.decode_context,
                  "Tokens each sequence holds before the timed decode steps")
      ->capture_default_str();
  sub->add_option("--batch", a->engine.batches,
                  "Concurrent sequences of a decode run (repeatable, e.g. --batch 1 --batch 32)")
      ->capture_default_str();
  sub->add_option("--repeats", a->engine.repeats, "Runs per measurement (the median is printed)")
      ->capture_default_str();
  sub->add_option("-t,--threads", a->engine.llm.n_threads, "CPU threads (0 = all cores)");
  add_backend_flags(sub, a->engine.llm);
  sub->add_flag("--logits", a->engine.logits,
                "Decode timing ends with the logits on the host (the old measurement) instead of "
                "the sampled greedy token");
  sub->add_flag("--json", a->engine.json, "Print one JSON object");
  sub->add_flag("--service", a->service,
                "Measure the service layer with a trivial engine over TCP loopback");
  a->clients_opt =
      sub->add_option("--clients", a->clients, "DEALER clients (threads) (--e2e: default 1)")
          ->capture_default_str();
  a->jobs_opt = sub->add_option("--jobs", a->jobs,
                                "Concurrent jobs per client (--e2e: in all, dealt to the clients; "
                                "default 32)")
                    ->capture_default_str();
  a->tokens_opt = sub->add_option("--tokens", a->tokens,
                                  "Tokens per job in the throughput run (--e2e: sampled tokens "
                                  "per job, default 64)")
                      ->capture_default_str();
  sub->add_option("--latency-tokens", a->latency_tokens, "Tokens per job in the latency run")
      ->capture_default_str();
  sub->add_option("--step-us", a->step_us, "Engine step period in the latency run (µs)")
      ->capture_default_str();
  // --e2e (bench_e2e.h).
  E2eBenchArgs& e = a->e2e;
  sub->add_flag("--e2e", a->e2e_mode,
                "Start a real zinfer serve (child process) on ipc/tcp, drive --jobs concurrent "
                "jobs from DEALER clients and report tok/s, TTFT and inter-token latency beside "
                "the engine alone on the same jobs");
  sub->add_option("--max-running", e.max_running, "--e2e: serve --max-running (0 = --jobs)")
      ->capture_default_str();
  sub->add_option("--shared-prefix", e.shared_prefix,
                  "--e2e: also run the jobs behind a shared system prompt of this many tokens, "
                  "prefix cache on and off (0 = not)")
      ->capture_default_str();
  sub->add_option("--transport", e.transports, "--e2e: ipc and/or tcp (repeatable)")
      ->capture_default_str();
  sub->add_option("--ctx", e.ctx, "--e2e: serve --ctx (0 = what a job needs)")
      ->capture_default_str();
  sub->add_option("--kv-cache-mb", e.kv_cache_mb,
                  "--e2e: serve --kv-cache-mb (0 = room for every running job's context)")
      ->capture_default_str();
  sub->add_option("--max-step-tokens", e.max_step_tokens, "--e2e: serve --max-step-tokens")
      ->capture_default_str();
  a->temp_opt = sub->add_option("--temp", e.temperature,
                                "Sampling temperature (--e2e: of the jobs; the engine's decode "
                                "steps: greedy unless given)")
                    ->capture_default_str();
  a->top_p_opt = sub->add_option("--top-p", e.top_p,
                                 "Nucleus sampling (--e2e: of the jobs; the engine's decode steps: "
                                 "off unless given)")
                     ->capture_default_str();
  a->top_k_opt = sub->add_option("--top-k", e.top_k,
                                 "Top-k, 0 = off (--e2e: of the jobs; the engine's decode steps: "
                                 "off unless given)")
                     ->capture_default_str();
  sub->add_option("--top-logprobs", e.top_logprobs,
                  "Top logprobs each sampled token reports, 0..20 (--e2e: of the jobs; the "
                  "engine's decode steps too)")
      ->capture_default_str();
  sub->add_option("--seed", e.seed, "--e2e: seed of job 0 (job i: seed + i)")
      ->capture_default_str();
  sub->add_flag("--no-prefix-cache{false}", e.prefix_cache,
                "--e2e: the unique-prompt runs without the prefix cache");
  sub->add_flag("--no-engine{false}", e.engine_baseline,
                "--e2e: skip the engine-alone run (no ratio)");
  sub->add_option("--results", e.results_path,
                  "--e2e: write one JSON line per job and run (what the clients received)");
  sub->add_option("--timeout", e.timeout_s,
                  "--e2e: seconds without a frame before a run fails (also the start-up limit)")
      ->capture_default_str();
  return Command{sub, [a] { return run_bench(*a); }};
}

}  // namespace zinfer::cli
