// `zinfer serve`: load a model and serve it on a ZeroMQ ROUTER until SIGTERM/SIGINT, which
// drain the worker (a second signal stops it at once).
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <string>

#include "engine/model/llm.h"
#include "engine/sched/scheduler.h"
#include "service/cli/backend_flags.h"
#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/cli/operations_flags.h"
#include "service/cli/serve_nats.h"
#include "service/worker/service_log.h"
#include "service/worker/stalling_engine.h"
#include "service/worker/worker.h"

namespace zinfer::cli {
namespace {

struct ServeArgs {
  LlmOptions llm;
  sched::SchedulerConfig sched;
  worker::WorkerConfig worker;
  nats::JetStreamConfig nats;  // --nats*: the JetStream ingress
  bool bind_given = false;
  std::int64_t kv_cache_mb = 0;
  std::string log_level = "info";
  StallHook stall_hook;
};

// The worker a signal drains; set while serving. request_drain() only writes to an eventfd.
std::atomic<worker::Worker*> g_worker{nullptr};
std::atomic<int> g_signals{0};

extern "C" void on_signal(int) {
  worker::Worker* w = g_worker.load();
  if (w == nullptr) return;
  if (g_signals.fetch_add(1) == 0) {
    w->request_drain();
  } else {
    w->request_stop();
  }
}

// Flag checks the library cannot phrase in flag names; returns the message or "".
std::string check_flags(const ServeArgs& a) {
  if (a.sched.max_running < 1 || a.sched.max_running > 1024) {
    return "--max-running must be in [1, 1024], got " + std::to_string(a.sched.max_running);
  }
  if (a.sched.max_step_tokens < 1)
    return "--max-step-tokens must be ≥ 1, got " + std::to_string(a.sched.max_step_tokens);
  if (a.llm.n_ctx < 16) return "--ctx must be ≥ 16, got " + std::to_string(a.llm.n_ctx);
  if (a.llm.n_threads < 0)
    return "--threads must be ≥ 0 (0 = all cores), got " + std::to_string(a.llm.n_threads);
  if (a.kv_cache_mb < 0)
    return "--kv-cache-mb must be ≥ 0 (0 = automatic), got " + std::to_string(a.kv_cache_mb);
  auto level = spdlog::level::from_str(a.log_level);
  if (level == spdlog::level::off && a.log_level != "off") {
    return "--log-level must be one of trace, debug, info, warn, error, critical, off; got '" +
           a.log_level + "'";
  }
  return "";
}

int run_serve(ServeArgs& a) {
  if (std::string problem = check_flags(a); !problem.empty()) {
    std::cerr << "error: " << problem << "\n";
    return 2;
  }
  if (auto st = worker::validate(a.worker); !st.ok()) {
    std::cerr << "error: " << st.error().message << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  worker::service_log().set_level(spdlog::level::from_str(a.log_level));
  a.llm.n_seq_max = a.sched.max_running;
  a.llm.kv_cache_bytes = a.kv_cache_mb * (std::int64_t{1} << 20);

  auto engine = sched::Scheduler::load(a.llm, a.sched);
  if (!engine.ok()) {
    const ErrorCode code = engine.error().code;
    const bool device = code == ErrorCode::kInvalidDevice || code == ErrorCode::kDeviceNotFound;
    return report_bad_input(engine.error(), device ? "--device" : "");
  }
  // With --nats alone the ROUTER is not reachable from outside (give --bind for probes).
  if (!a.nats.url.empty() && !a.bind_given) a.worker.bind = "inproc://zinfer-serve";
  std::unique_ptr<sched::JobEngine> job_engine = std::move(*engine);
  if (a.stall_hook.after_steps >= 0) {
    job_engine = std::make_unique<worker::StallingEngine>(
        std::move(job_engine), a.stall_hook.after_steps, a.stall_hook.seconds);
  }
  auto w = worker::Worker::create(a.worker, std::move(job_engine));
  if (!w.ok()) {
    std::cerr << "error: " << w.error().message << "\n";
    return 2;
  }
  auto source = make_nats_source(a.nats, a.llm.model_path);
  if (!source.ok()) {
    std::cerr << "error: " << source.error().message << "\n";
    return source.error().code == ErrorCode::kInvalidParameter ? 2 : 1;
  }
  if (*source) (*w)->attach_source(std::move(*source));
  g_worker.store(w->get());
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  const int rc = (*w)->run();
  g_worker.store(nullptr);
  return rc;
}

}  // namespace

Command register_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  a->llm.device = "auto";  // cuda:0 when a GPU is present
  a->llm.n_ctx = 2048;
  CLI::App* sub = app.add_subcommand(
      "serve", "Serve a model on a ZeroMQ ROUTER socket (drains on SIGTERM/SIGINT)");
  sub->add_option("-m,--model", a->llm.model_path, "GGUF model file")->required();
  sub->add_option("--bind", a->worker.bind, "ROUTER endpoint (tcp://host:port, ipc://path)")
      ->capture_default_str()
      ->each([a](const std::string&) { a->bind_given = true; });
  add_serve_nats_flags(sub, a->nats);
  sub->add_option("--device", a->llm.device,
                  "auto (cuda:0 when a GPU is present, else cpu), cpu, cuda, cuda:N")
      ->capture_default_str();
  sub->add_option("--max-queued", a->worker.max_queued,
                  "Accepted jobs waiting to run; beyond → QUEUE_FULL")
      ->capture_default_str();
  sub->add_option("--max-running", a->sched.max_running,
                  "Jobs generating concurrently (continuous batching)")
      ->capture_default_str();
  sub->add_option("--max-step-tokens", a->sched.max_step_tokens,
                  "Tokens per engine step (decodes + prompt chunks)")
      ->capture_default_str();
  sub->add_option("--ctx", a->llm.n_ctx, "Context length per job (tokens)")->capture_default_str();
  sub->add_option("--kv-cache-mb", a->kv_cache_mb, "KV cache pool size (0 = automatic)")
      ->capture_default_str();
  sub->add_option("--tokenizer-pre", a->llm.tokenizer_pre,
                  "Use this pre-tokenizer instead of the file's tokenizer.ggml.pre (experts only)");
  sub->add_option("-t,--threads", a->llm.n_threads,
                  "CPU threads for the forward pass (0 = all cores)")
      ->capture_default_str();
  sub->add_option("--drain-timeout", a->worker.drain_timeout_s,
                  "Seconds jobs get to finish after SIGTERM")
      ->capture_default_str();
  sub->add_option("--max-frame-bytes", a->worker.max_frame_bytes, "Largest request frame accepted")
      ->capture_default_str();
  sub->add_option("--sndhwm", a->worker.sndhwm,
                  "Frames ZeroMQ queues per client before the worker buffers them")
      ->capture_default_str();
  sub->add_option("--max-peer-backlog", a->worker.max_peer_backlog_bytes,
                  "Bytes buffered for a slow client before its jobs are cancelled")
      ->capture_default_str();
  add_backend_flags(sub, a->llm);
  auto* cache_on = sub->add_flag(
      "--prefix-cache", a->sched.prefix_cache,
      "Reuse cached KV blocks of shared prompt prefixes (automatic prefix caching; the default)");
  sub->add_flag("--no-prefix-cache{false}", a->sched.prefix_cache,
                "Recompute every prompt (no automatic prefix caching)")
      ->excludes(cache_on);
  sub->add_flag("--no-warm-up{false}", a->sched.warm_up,
                "CUDA: skip the start-up passes that load the kernels and capture the decode "
                "graphs before the first job (it then pays for them)");
  sub->add_option("--log-level", a->log_level, "trace|debug|info|warn|error|critical|off")
      ->capture_default_str();
  add_serve_operations_flags(sub, a->worker, a->stall_hook);
  return Command{sub, [a] { return run_serve(*a); }};
}

}  // namespace zinfer::cli
