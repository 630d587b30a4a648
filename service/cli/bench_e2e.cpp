// zinfer bench --e2e: see bench_e2e.h.
#include "service/cli/bench_e2e.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/hparams.h"
#include "service/cli/bench_e2e_runs.h"
#include "service/cli/bench_engine.h"
#include "service/cli/bench_serve_child.h"
#include "service/cli/exit_codes.h"
#include "service/worker/service_log.h"

namespace zinfer::cli {
namespace {

using namespace e2e;  // NOLINT(google-build-using-namespace): this file's own parts
using json = nlohmann::json;

// ---- the report -----------------------------------------------------------------------------

struct Percentiles {
  double p50 = 0.0, p99 = 0.0, mean = 0.0, max = 0.0;
  std::size_t n = 0;
};

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  double sum = 0.0;
  for (double x : v) sum += x;
  p.mean = sum / static_cast<double>(v.size());
  p.max = v.back();
  return p;
}

json to_json(const Percentiles& p) {
  return json{{"p50", p.p50}, {"p99", p.p99}, {"mean", p.mean}, {"max", p.max}, {"n", p.n}};
}

struct Summary {
  std::string name;  // "engine", "unique/ipc", "shared/ipc/cache-on", ...
  std::string workload, transport;
  bool prefix_cache = true;
  int jobs = 0, jobs_ok = 0, jobs_failed = 0;
  std::uint64_t output_tokens = 0, frames = 0;
  double seconds = 0.0, tokens_per_s = 0.0;
  Percentiles ttft, itl, server_ttft;
  std::optional<std::uint64_t> prompt_tokens_cached, engine_steps;
  std::string reference;  // the run whose tokens these are compared with ("" = none)
  int mismatched = 0;     // jobs whose tokens differ from the reference's
  std::string failure;
  std::vector<std::string> job_errors;  // the first few
};

Summary summarize(const std::string& name, const RunRecords& run, int expected_tokens) {
  Summary s;
  s.name = name;
  s.jobs = static_cast<int>(run.jobs.size());
  s.failure = run.failure;
  std::vector<double> ttft, itl, server_ttft;
  Clock::time_point last = run.start;
  for (std::size_t i = 0; i < run.jobs.size(); ++i) {
    const JobRecord& r = run.jobs[i];
    s.output_tokens += r.tokens.size();
    s.frames += static_cast<std::uint64_t>(r.frames);
    if (r.first) ttft.push_back(ms_between(r.submitted, *r.first));
    itl.insert(itl.end(), r.gaps_ms.begin(), r.gaps_ms.end());
    if (r.server_ttft_ms >= 0) server_ttft.push_back(r.server_ttft_ms);
    if (r.last && *r.last > last) last = *r.last;
    const bool ok = r.ended && r.error.empty() &&
                    static_cast<int>(r.tokens.size()) == expected_tokens &&
                    r.usage_completion == expected_tokens;
    if (ok) {
      ++s.jobs_ok;
    } else {
      ++s.jobs_failed;
      if (s.job_errors.size() < 3) {
        s.job_errors.push_back("j" + std::to_string(i) + ": " +
                               (!r.error.empty() ? r.error
                                : !r.ended       ? std::string("never ended")
                                                 : std::to_string(r.tokens.size()) +
                                                 " tokens received, usage says " +
                                                 std::to_string(r.usage_completion) +
                                                 ", expected " + std::to_string(expected_tokens)));
      }
    }
  }
  s.seconds = std::chrono::duration<double>(last - run.start).count();
  s.tokens_per_s = s.seconds > 0 ? static_cast<double>(s.output_tokens) / s.seconds : 0.0;
  s.ttft = percentiles(std::move(ttft));
  s.itl = percentiles(std::move(itl));
  s.server_ttft = percentiles(std::move(server_ttft));
  return s;
}

void compare_tokens(Summary& s, const RunRecords& run, const std::string& ref_name,
                    const RunRecords& ref) {
  s.reference = ref_name;
  s.mismatched = 0;
  for (std::size_t i = 0; i < run.jobs.size() && i < ref.jobs.size(); ++i)
    s.mismatched += run.jobs[i].tokens != ref.jobs[i].tokens ? 1 : 0;
}

json summary_json(const Summary& s) {
  json j{{"name", s.name},
         {"workload", s.workload},
         {"transport", s.transport},
         {"prefix_cache", s.prefix_cache},
         {"jobs", s.jobs},
         {"jobs_ok", s.jobs_ok},
         {"jobs_failed", s.jobs_failed},
         {"output_tokens", s.output_tokens},
         {"frames", s.frames},
         {"seconds", s.seconds},
         {"tokens_per_s", s.tokens_per_s},
         {"ttft_ms", to_json(s.ttft)},
         {"itl_ms", to_json(s.itl)},
         {"server_ttft_ms", to_json(s.server_ttft)}};
  if (s.prompt_tokens_cached) j["prompt_tokens_cached"] = *s.prompt_tokens_cached;
  if (s.engine_steps) j["engine_steps"] = *s.engine_steps;
  if (!s.reference.empty()) {
    j["tokens_compared_with"] = s.reference;
    j["jobs_with_other_tokens"] = s.mismatched;
  }
  if (!s.failure.empty()) j["failure"] = s.failure;
  if (!s.job_errors.empty()) j["job_errors"] = s.job_errors;
  return j;
}

void write_results(std::ofstream& out, const std::string& run_name, const Workload& w,
                   const RunRecords& run) {
  for (std::size_t i = 0; i < run.jobs.size(); ++i) {
    const JobRecord& r = run.jobs[i];
    json j{{"run", run_name},
           {"job_id", w.jobs[i].id},
           {"prompt_tokens", w.jobs[i].prompt.size()},
           {"tokens", r.tokens},
           {"frames", r.frames},
           {"completion_tokens", r.usage_completion},
           {"finish_reason", r.finish}};
    if (r.first) j["ttft_ms"] = ms_between(r.submitted, *r.first);
    if (!r.error.empty()) j["error"] = r.error;
    out << j.dump() << "\n";
  }
}

void print_line(const Summary& s, const char* label, std::optional<double> vs_engine) {
  std::printf("  %-34s %9.1f tok/s", label, s.tokens_per_s);
  if (vs_engine) std::printf(" (%5.1f%% of engine)", *vs_engine * 100.0);
  std::printf("  TTFT p50 %8.1f p99 %8.1f ms  ITL p50 %7.2f p99 %7.2f ms", s.ttft.p50, s.ttft.p99,
              s.itl.p50, s.itl.p99);
  if (s.prompt_tokens_cached) {
    std::printf("  cached %llu prompt tok",
                static_cast<unsigned long long>(*s.prompt_tokens_cached));
  }
  if (!s.reference.empty() && s.mismatched > 0)
    std::printf("  — %d jobs' tokens differ from %s", s.mismatched, s.reference.c_str());
  if (s.jobs_failed > 0 || !s.failure.empty()) {
    std::printf("  — %d of %d jobs FAILED%s%s", s.jobs_failed, s.jobs,
                s.failure.empty() ? "" : ": ", s.failure.c_str());
  }
  std::printf("\n");
}

}  // namespace

int run_e2e_bench(const E2eBenchArgs& a) {
  if (a.llm.model_path.empty()) {
    std::cerr << "error: --e2e needs --model FILE\n";
    return kExitBadInput;
  }
  if (a.jobs < 1 || a.prompt_tokens < 1 || a.tokens < 1 || a.clients < 1 || a.shared_prefix < 0 ||
      a.max_running < 0 || a.max_step_tokens < 1 || a.ctx < 0 || a.kv_cache_mb < 0 ||
      a.timeout_s <= 0 || a.transports.empty()) {
    std::cerr << "error: --jobs, --prompt-tokens, --tokens, --clients and --max-step-tokens must "
                 "be ≥ 1; --shared-prefix, --max-running, --ctx and --kv-cache-mb ≥ 0; at least "
                 "one --transport\n";
    return kExitBadInput;
  }
  for (const auto& t : a.transports) {
    if (t != "ipc" && t != "tcp") {
      std::cerr << "error: --transport must be ipc or tcp, got '" << t << "'\n";
      return kExitBadInput;
    }
  }
  // The jobs' sampling, refused here rather than by every job.
  if (!bench_sampling_ok(a.temperature, a.top_p, a.top_k, a.top_logprobs)) return kExitBadInput;
  const int max_running = a.max_running > 0 ? a.max_running : a.jobs;
  if (max_running > 1024) {
    std::cerr << "error: --max-running must be in [1, 1024], got " << max_running << "\n";
    return kExitBadInput;
  }
  auto file = gguf::GgufFile::open(a.llm.model_path);
  if (!file.ok()) return report_bad_input(file.error());
  auto hp = model::read_hparams(**file);
  if (!hp.ok()) return report_bad_input(hp.error());
  const std::int32_t n_vocab = hp->n_vocab;
  const int per_job = a.shared_prefix + a.prompt_tokens + a.tokens + 1;
  const int ctx = a.ctx > 0 ? a.ctx : (per_job + 15) / 16 * 16;
  if (hp->n_ctx_train > 0 && per_job > hp->n_ctx_train) {
    std::cerr << "error: a job needs " << per_job << " tokens of context (--shared-prefix + "
              << "--prompt-tokens + --tokens + 1) but the model holds " << hp->n_ctx_train << "\n";
    return kExitBadInput;
  }
  if (ctx < per_job) {
    std::cerr << "error: --ctx " << ctx << " is shorter than a job (" << per_job << " tokens)\n";
    return kExitBadInput;
  }
  // Room for every running job's whole context: the run measures throughput, not preemption
  // (give --kv-cache-mb to measure a smaller pool).
  const std::int64_t bytes_per_token = std::int64_t{2} * hp->n_layer * hp->n_embd_kv() * 4;
  const std::int64_t ctx_blocks = (ctx + 15) / 16;
  const std::int64_t contexts = std::min(max_running, a.jobs) + 1;
  const std::int64_t kv_mb =
      a.kv_cache_mb > 0
          ? a.kv_cache_mb
          : (bytes_per_token * ctx_blocks * 16 * contexts + (std::int64_t{1} << 20) - 1) >> 20;
  file->reset();

  spdlog::set_level(spdlog::level::warn);
  worker::service_log().set_level(spdlog::level::warn);
  LlmOptions lo = a.llm;
  lo.n_ctx = ctx;
  lo.n_seq_max = max_running;
  lo.kv_cache_bytes = kv_mb << 20;

  std::vector<std::string> serve_args = {"--model",
                                         a.llm.model_path,
                                         "--device",
                                         a.llm.device,
                                         "--max-running",
                                         std::to_string(max_running),
                                         "--ctx",
                                         std::to_string(ctx),
                                         "--kv-cache-mb",
                                         std::to_string(kv_mb),
                                         "--max-step-tokens",
                                         std::to_string(a.max_step_tokens),
                                         "--max-queued",
                                         std::to_string(std::max(1024, a.jobs + 8)),
                                         "--drain-timeout",
                                         "10",
                                         "--log-level",
                                         "warn"};
  if (a.llm.n_threads > 0) {
    serve_args.push_back("--threads");
    serve_args.push_back(std::to_string(a.llm.n_threads));
  }
  if (!a.llm.exact_matmul) serve_args.push_back("--q8-act");
  if (a.llm.q16_act) serve_args.push_back("--q16-act");
  if (a.llm.fp16_matmul) serve_args.push_back("--fp16");
  if (a.llm.fp16_prompts) serve_args.push_back("--fp16-prompts");
  if (!a.llm.q16_on_cuda) serve_args.push_back("--exact");
  serve_args.push_back(a.llm.tensor_cores ? "--tensor-cores" : "--no-tensor-cores");
  if (!a.llm.batch_invariant) serve_args.push_back("--fast-prefill");
  if (!a.llm.cuda_graphs) serve_args.push_back("--no-graphs");
  if (a.llm.pad_decode_rows) serve_args.push_back("--pad-decode");
  if (!a.llm.gpu_sampling) serve_args.push_back("--no-gpu-sampling");

  std::ofstream results;
  if (!a.results_path.empty()) {
    results.open(a.results_path, std::ios::trunc);
    if (!results) {
      std::cerr << "error: --results: cannot write " << a.results_path << "\n";
      return kExitBadInput;
    }
  }

  const Workload unique = make_workload(a, n_vocab, false);
  std::optional<Workload> shared;
  if (a.shared_prefix > 0) shared = make_workload(a, n_vocab, true);

  // 1. The engine alone (before any child: the device holds one copy of the model at a time).
  std::optional<Summary> engine;
  std::optional<RunRecords> engine_run;
  EngineExtra extra;
  if (a.engine_baseline) {
    auto run = run_engine(a, lo, unique, max_running, extra);
    if (!run.ok()) return report_bad_input(run.error());
    engine = summarize("engine", *run, a.tokens);
    engine->workload = "unique";
    engine->transport = "none";
    engine->prefix_cache = a.prefix_cache;
    engine->prompt_tokens_cached = extra.prompt_tokens_cached;
    engine->engine_steps = extra.steps;
    if (results) write_results(results, "engine", unique, *run);
    engine_run = std::move(*run);
  }

  // 2. Through zinfer serve: the unique prompts over every transport, then the shared system
  //    prompt with the prefix cache on and off (first transport).
  struct Planned {
    const Workload* w;
    std::string transport;
    bool cache;
    std::string name;
  };
  std::vector<Planned> planned;
  for (const auto& t : a.transports) planned.push_back({&unique, t, a.prefix_cache, "unique/" + t});
  if (shared) {
    planned.push_back({&*shared, a.transports[0], true, "shared/" + a.transports[0] + "/cache-on"});
    planned.push_back(
        {&*shared, a.transports[0], false, "shared/" + a.transports[0] + "/cache-off"});
  }
  std::vector<Summary> runs;
  std::map<std::string, std::pair<std::string, RunRecords>> kept;  // first run per workload
  for (const Planned& p : planned) {
    auto endpoint = fresh_endpoint(p.transport);
    if (!endpoint.ok()) return report_bad_input(endpoint.error());
    std::vector<std::string> args = serve_args;
    if (!p.cache) args.push_back("--no-prefix-cache");
    auto child = ServeChild::start(*endpoint, args);
    if (!child.ok()) {
      std::cerr << "error: " << child.error().message << "\n";
      return 1;
    }
    if (Status st = (*child)->wait_ready(a.timeout_s); !st.ok()) {
      std::cerr << "error: " << st.error().message << "\n";
      return 1;
    }
    const RunRecords warm = run_clients(*endpoint, {p.w->warmup}, 1, a.timeout_s);
    if (!warm.failure.empty() || !warm.jobs[0].error.empty()) {
      std::cerr << "error: warm-up job on " << *endpoint << ": "
                << (warm.failure.empty() ? warm.jobs[0].error : warm.failure) << "\n";
      return 1;
    }
    const auto before = (*child)->stats(10.0);
    RunRecords run = run_clients(*endpoint, p.w->jobs, a.clients, a.timeout_s);
    const auto after = (*child)->stats(10.0);
    const int rc = (*child)->stop(30.0);
    Summary s = summarize(p.name, run, a.tokens);
    s.workload = p.w->name;
    s.transport = p.transport;
    s.prefix_cache = p.cache;
    if (before && after) {
      s.prompt_tokens_cached = after->prompt_tokens_cached - before->prompt_tokens_cached;
      s.engine_steps = after->engine_steps - before->engine_steps;
    }
    if (rc != 0 && s.failure.empty())
      s.failure = "zinfer serve exited with status " + std::to_string(rc);
    // Same jobs, same tokens: against the engine alone (unique prompts), else against the
    // first run of the same workload.
    if (p.w == &unique && engine_run) {
      compare_tokens(s, run, "engine", *engine_run);
    } else if (auto it = kept.find(p.w->name); it != kept.end()) {
      compare_tokens(s, run, it->second.first, it->second.second);
    }
    if (kept.count(p.w->name) == 0) kept.emplace(p.w->name, std::make_pair(p.name, run));
    if (results) write_results(results, p.name, *p.w, run);
    runs.push_back(std::move(s));
  }

  // 3. Report.
  const double engine_tps = engine ? engine->tokens_per_s : 0.0;
  const double decode_tps =
      extra.decode_only_ms > 0
          ? static_cast<double>(extra.decode_only_tokens) * 1000.0 / extra.decode_only_ms
          : 0.0;
  const double steps = static_cast<double>(std::max<std::uint64_t>(extra.steps, 1));
  double step_total = 0.0;
  for (double ms : extra.step_ms) step_total += ms;
  const double host_ms = (step_total - extra.forward_ms) / steps;
  bool all_ok = true;
  // Different tokens for the same seeded job fail the run too, unless --fast-prefill (cuBLAS
  // prompt matmuls) gave up batch invariance.
  for (const Summary& s : runs) {
    all_ok = all_ok && s.jobs_failed == 0 && s.failure.empty() &&
             (s.mismatched == 0 || !a.llm.batch_invariant);
  }
  if (engine) all_ok = all_ok && engine->jobs_failed == 0;

  if (a.json) {
    json j;
    j["mode"] = "e2e";
    j["device"] = engine ? extra.device : a.llm.device;
    j["model"] = {{"file", a.llm.model_path},
                  {"name", hp->name},
                  {"architecture", hp->arch},
                  {"layers", hp->n_layer}};
    j["workload"] = {{"jobs", a.jobs},
                     {"max_running", max_running},
                     {"prompt_tokens", a.prompt_tokens},
                     {"shared_prefix_tokens", a.shared_prefix},
                     {"tokens_per_job", a.tokens},
                     {"clients", std::min(a.clients, a.jobs)},
                     {"temperature", a.temperature},
                     {"top_p", a.top_p},
                     {"top_k", a.top_k},
                     {"top_logprobs", a.top_logprobs},
                     {"seed", a.seed},
                     {"ctx", ctx},
                     {"kv_cache_mb", kv_mb},
                     {"max_step_tokens", a.max_step_tokens},
                     {"threads", a.llm.n_threads}};
    if (engine) {
      json e = summary_json(*engine);
      e["step_ms"] = to_json(percentiles(extra.step_ms));
      e["forward_ms_per_step"] = extra.forward_ms / steps;
      e["host_ms_per_step"] = host_ms;
      e["host_ms"] = to_json(percentiles(extra.host_ms));
      e["host_ms_full_batch_decode"] = to_json(percentiles(extra.host_ms_full));
      e["host_cpu_ms"] = to_json(percentiles(extra.host_cpu_ms));
      e["host_cpu_ms_full_batch_decode"] = to_json(percentiles(extra.host_cpu_ms_full));
      e["encode_cpu_ms"] = to_json(percentiles(extra.encode_cpu_ms));
      e["encode_cpu_ms_full_batch_decode"] = to_json(percentiles(extra.encode_cpu_ms_full));
      e["decode_only"] = {{"steps", extra.decode_only_steps},
                          {"tokens", extra.decode_only_tokens},
                          {"mean_batch", extra.decode_only_steps > 0
                                             ? static_cast<double>(extra.decode_only_tokens) /
                                                   static_cast<double>(extra.decode_only_steps)
                                             : 0.0},
                          {"tokens_per_s", decode_tps}};
      j["engine"] = e;
    }
    for (const Summary& s : runs) {
      json r = summary_json(s);
      if (engine && s.workload == "unique" && engine_tps > 0) {
        r["ratio_vs_engine"] = s.tokens_per_s / engine_tps;
        if (decode_tps > 0) r["ratio_vs_engine_decode_only"] = s.tokens_per_s / decode_tps;
      }
      j["runs"].push_back(r);
    }
    j["ok"] = all_ok;
    std::cout << j.dump() << "\n";
    return all_ok ? 0 : 1;
  }

  std::printf(
      "zinfer bench --e2e: %s (%s) on %s; %d jobs × (%s%d prompt + %d sampled tokens), "
      "--max-running %d, %d client%s\n",
      hp->name.c_str(), hp->arch.c_str(), engine ? extra.device.c_str() : a.llm.device.c_str(),
      a.jobs, a.shared_prefix > 0 ? (std::to_string(a.shared_prefix) + " shared + ").c_str() : "",
      a.prompt_tokens, a.tokens, max_running, std::min(a.clients, a.jobs),
      std::min(a.clients, a.jobs) == 1 ? "" : "s");
  if (engine) {
    print_line(*engine, "engine alone (same jobs)", std::nullopt);
    for (const auto& e : engine->job_errors) std::printf("      %s\n", e.c_str());
    std::printf(
        "  %-34s %9.1f tok/s over %llu decode-only steps (mean batch %.1f); %llu steps, "
        "%.2f ms each (p50)\n",
        "engine decode steps", decode_tps, static_cast<unsigned long long>(extra.decode_only_steps),
        extra.decode_only_steps > 0 ? static_cast<double>(extra.decode_only_tokens) /
                                          static_cast<double>(extra.decode_only_steps)
                                    : 0.0,
        static_cast<unsigned long long>(extra.steps), percentiles(extra.step_ms).p50);
    const Percentiles full = percentiles(extra.host_ms_full);
    const Percentiles full_cpu = percentiles(extra.host_cpu_ms_full);
    std::printf(
        "  %-34s beside the forward pass: %.3f ms/step (mean wall), p50 %.3f wall / %.3f CPU; "
        "decode steps of all %d jobs: p50 %.3f wall / %.3f CPU, p99 %.3f / %.3f (%zu steps)\n",
        "engine host work", host_ms, percentiles(extra.host_ms).p50,
        percentiles(extra.host_cpu_ms).p50, max_running, full.p50, full_cpu.p50, full.p99,
        full_cpu.p99, full.n);
    const Percentiles enc = percentiles(extra.encode_cpu_ms_full);
    std::printf(
        "  %-34s encoding a step's events as token frames (the worker's engine thread): "
        "%.3f ms CPU p50, %.3f p99 at all %d jobs\n",
        "", enc.p50, enc.p99, max_running);
  }
  for (const Summary& s : runs) {
    std::string label = "serve over " + s.transport;
    if (s.workload == "shared") {
      label = std::to_string(a.shared_prefix) + "-tok system prompt, cache " +
              (s.prefix_cache ? "on" : "off");
    }
    std::optional<double> ratio;
    if (engine && s.workload == "unique" && engine_tps > 0) ratio = s.tokens_per_s / engine_tps;
    print_line(s, label.c_str(), ratio);
    for (const auto& e : s.job_errors) std::printf("      %s\n", e.c_str());
  }
  return all_ok ? 0 : 1;
}

}  // namespace zinfer::cli
