// zinfer bench --model: see bench_engine.h. A decode step ends the way the scheduler's does:
// with a token sampled from each sequence's logits — greedy, or seeded with --temp / --top-p
// (on the device with CUDA, only the ids coming back) — or with --logits, with the logits on
// the host (the older measurement).
// Either way a timed pass includes its copy back and synchronisation. Token ids are fixed
// pseudo-random ids: speed does not depend on them. A warm-up runs first (sched/warm_up.h): a
// prefill of the measured prompt length, as llama-bench's warm-up runs its measured prompt,
// and decode steps; each batch size's decode then gets an untimed run of its own.
#include "service/cli/bench_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/sample/sampling_params.h"
#include "engine/sched/sequence_runner.h"
#include "engine/sched/warm_up.h"
#include "service/cli/exit_codes.h"

namespace zinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

std::vector<std::int32_t> ids(std::int32_t n_vocab, int n, int salt) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(
        (static_cast<std::int64_t>(i) * 7919 + salt * 104729 + 11) % (n_vocab / 2) + n_vocab / 8);
  }
  return out;
}

// The matmul numerics the options resolved to, as the report names them.
const char* numerics_label(const LlmOptions& o) {
  if (!o.exact_matmul) return "Q8-activation";
  if (o.fp16_prompts) return "per-token (fp16 prompts, Q16 generated)";
  if (o.fp16_matmul) return "fp16-operand";
  return o.q16_act ? "Q16-activation" : "exact float";
}

// Prompt processing: one forward pass over `n` tokens of a fresh sequence.
Result<double> time_prefill(Llm& llm, int n) {
  const auto prompt = ids(llm.hparams().n_vocab, n, 1);
  sched::SequenceRunner run(llm);
  const auto t0 = Clock::now();
  ZINFER_RETURN_IF_ERROR(run.forward(0, prompt, false));
  return ms_since(t0);
}

// Decoding: `batch` sequences that hold a `context`-token context, then `steps` forward
// passes of one token per sequence, each sampling a token with `a`'s sampling (or returning
// the logits). Returns the milliseconds per step.
Result<double> time_decode(Llm& llm, int batch, int steps, const EngineBenchArgs& a) {
  const int context = a.decode_context;
  const std::int32_t n_vocab = llm.hparams().n_vocab;
  std::vector<std::vector<std::int32_t>> ctx(static_cast<std::size_t>(batch));
  std::vector<sched::SeqInput> in(static_cast<std::size_t>(batch));
  sched::SequenceRunner run(llm);
  for (int b = 0; b < batch; ++b) {
    ctx[static_cast<std::size_t>(b)] = ids(n_vocab, context, 100 + b);
    in[static_cast<std::size_t>(b)] = sched::SeqInput{b, ctx[static_cast<std::size_t>(b)], false};
  }
  ZINFER_RETURN_IF_ERROR(run.forward_batch(in));
  std::vector<std::vector<std::int32_t>> next(static_cast<std::size_t>(batch));
  std::vector<sample::SamplingParams> params(static_cast<std::size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    sample::SamplingParams& sp = params[static_cast<std::size_t>(b)];
    sp.temperature = a.temperature;
    sp.top_p = a.top_p;
    sp.top_k = a.top_k;
    sp.top_logprobs = a.top_logprobs;
    sp.seed = static_cast<std::uint64_t>(b) + 1;
  }
  std::vector<sample::SampleRequest> requests(static_cast<std::size_t>(batch));
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) {
    for (int b = 0; b < batch; ++b) {
      next[static_cast<std::size_t>(b)] = {
          static_cast<std::int32_t>((s * 31 + b * 17) % (n_vocab / 2) + 1)};
      in[static_cast<std::size_t>(b)] =
          sched::SeqInput{b, next[static_cast<std::size_t>(b)], false, /*generated=*/true};
      requests[static_cast<std::size_t>(b)] =
          sample::SampleRequest{&params[static_cast<std::size_t>(b)], {}, s};
    }
    if (a.logits) {
      ZINFER_RETURN_IF_ERROR(run.forward_batch(in));
    } else {
      ZINFER_RETURN_IF_ERROR(run.forward_sample(in, requests));
    }
  }
  return ms_since(t0) / steps;
}

// Bytes one batch-1 decode step must read from the weights: all of them except an untied token
// embedding table, of which it reads one row (a tied table is the output matrix, read whole),
// and of a mixture of experts' stacked expert tensors (`*_exps.*`) only the share of the
// experts a token uses (expert_used_count / expert_count).
std::uint64_t decode_read_bytes(const std::string& path) {
  auto f = gguf::GgufFile::open(path);
  if (!f.ok()) return 0;
  const auto arch = (*f)->get_string_or("general.architecture", "");
  const auto n_expert = arch.ok() ? (*f)->get_u32_or(*arch + ".expert_count", 0) : 0u;
  const auto n_used = arch.ok() ? (*f)->get_u32_or(*arch + ".expert_used_count", 0) : 0u;
  const bool moe =
      n_expert.ok() && n_used.ok() && *n_expert > 0 && *n_used > 0 && *n_used <= *n_expert;
  std::uint64_t total = 0, embd = 0;
  bool has_output = false;
  for (const auto& t : (*f)->tensors()) {
    const bool expert = moe && t.name.find("_exps.") != std::string::npos;
    total += expert ? t.nbytes / *n_expert * *n_used : t.nbytes;
    if (t.name == "token_embd.weight") embd = t.nbytes;
    if (t.name == "output.weight") has_output = true;
  }
  return has_output ? total - embd : total;
}

struct DecodeResult {
  int batch = 0;
  double ms_per_step = 0.0;
};

}  // namespace

bool bench_sampling_ok(float temperature, float top_p, std::int32_t top_k,
                       std::int32_t top_logprobs) {
  sample::SamplingParams sp;
  sp.temperature = temperature;
  sp.top_p = top_p;
  sp.top_k = top_k;
  sp.top_logprobs = top_logprobs;
  if (const Status st = sample::validate(sp, 1); !st.ok()) {
    std::cerr << "error: --temp / --top-p / --top-k / --top-logprobs: " << st.error().message
              << "\n";
    return false;
  }
  return true;
}

int run_engine_bench(const EngineBenchArgs& a) {
  if (a.prompt_tokens < 1 || a.decode_tokens < 1 || a.decode_context < 1 || a.repeats < 1 ||
      a.batches.empty() ||
      std::any_of(a.batches.begin(), a.batches.end(), [](int b) { return b < 1; })) {
    std::cerr << "error: --prompt-tokens, --decode-tokens, --decode-context, --repeats and every "
                 "--batch must be ≥ 1\n";
    return 2;
  }
  if (!bench_sampling_ok(a.temperature, a.top_p, a.top_k, a.top_logprobs)) return 2;
  LlmOptions lo = a.llm;
  const int max_batch = *std::max_element(a.batches.begin(), a.batches.end());
  lo.n_seq_max = std::max(lo.n_seq_max, max_batch);
  lo.n_ctx = std::max(lo.n_ctx, std::max(a.prompt_tokens, a.decode_context + a.decode_tokens) + 1);
  const auto t_load = Clock::now();
  auto loaded = Llm::load(lo);
  if (!loaded.ok()) return report_bad_input(loaded.error());
  const double load_ms = ms_since(t_load);
  Llm& llm = **loaded;
  if (llm.options().n_ctx <= a.prompt_tokens ||
      llm.options().n_ctx <= a.decode_context + a.decode_tokens) {
    std::cerr << "error: the model's context (" << llm.options().n_ctx
              << " tokens) is too short for --prompt-tokens / --decode-tokens\n";
    return 2;
  }
  // Warm-up (sched/warm_up.h): the measured prompt length (its kernels and buffers are not a
  // short prompt's) and a few decode steps; each batch size gets an untimed run below.
  if (auto w = sched::warm_up(llm, sched::WarmUpPlan{a.prompt_tokens, 1, 2}); !w.ok()) {
    std::cerr << "error: " << w.error().message << "\n";
    return 1;
  }

  std::vector<double> prefill_ms;
  for (int r = 0; r < a.repeats; ++r) {
    auto ms = time_prefill(llm, a.prompt_tokens);
    if (!ms.ok()) {
      std::cerr << "error: prefill: " << ms.error().message << "\n";
      return 1;
    }
    prefill_ms.push_back(*ms);
  }
  std::vector<DecodeResult> decode;
  for (int b : a.batches) {
    std::vector<double> ms;
    for (int r = 0; r < a.repeats; ++r) {
      // A first untimed run captures this batch size's decode graphs.
      if (r == 0) {
        auto w = time_decode(llm, b, 3, a);
        if (!w.ok()) {
          std::cerr << "error: decode batch " << b << ": " << w.error().message << "\n";
          return 1;
        }
      }
      auto m = time_decode(llm, b, a.decode_tokens, a);
      if (!m.ok()) {
        std::cerr << "error: decode batch " << b << ": " << m.error().message << "\n";
        return 1;
      }
      ms.push_back(*m);
    }
    decode.push_back({b, median(ms)});
  }

  const model::DeviceReport dev = llm.device_report();
  const model::Hparams& hp = llm.hparams();
  std::error_code ec;
  const auto file_bytes = std::filesystem::file_size(lo.model_path, ec);
  const double p_ms = median(prefill_ms);
  if (a.json) {
    nlohmann::json j;
    j["device"] = dev.name;
    j["model"] = {{"file", lo.model_path},
                  {"name", hp.name},
                  {"architecture", hp.arch},
                  {"layers", hp.n_layer},
                  {"file_bytes", ec ? 0 : file_bytes},
                  {"decode_read_bytes", decode_read_bytes(lo.model_path)}};
    j["options"] = {{"batch_invariant", llm.options().batch_invariant},
                    {"exact_matmul", llm.options().exact_matmul},
                    {"q16_act", llm.options().q16_act},
                    {"threads", llm.options().n_threads},
                    {"repeats", a.repeats},
                    {"cuda_graphs", llm.options().cuda_graphs},
                    {"gpu_sampling", llm.options().gpu_sampling},
                    {"decode_returns", a.logits ? "logits" : "sampled token"},
                    {"temperature", a.temperature},
                    {"top_p", a.top_p},
                    {"top_k", a.top_k},
                    {"top_logprobs", a.top_logprobs},
                    {"decode_context", a.decode_context}};
    j["memory"] = {{"device_bytes", dev.device_bytes},
                   {"weight_bytes", dev.weight_bytes},
                   {"kv_bytes", dev.kv_bytes},
                   {"scratch_bytes", dev.scratch_bytes}};
    j["load_ms"] = load_ms;
    j["prefill"] = {{"tokens", a.prompt_tokens},
                    {"ms", p_ms},
                    {"tokens_per_s", a.prompt_tokens * 1000.0 / p_ms}};
    for (const auto& d : decode) {
      j["decode"].push_back({{"batch", d.batch},
                             {"steps", a.decode_tokens},
                             {"ms_per_step", d.ms_per_step},
                             {"tokens_per_s", d.batch * 1000.0 / d.ms_per_step}});
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("zinfer bench: %s (%s, %d layers, %.0f MB) on %s\n", hp.name.c_str(), hp.arch.c_str(),
              hp.n_layer, ec ? 0.0 : static_cast<double>(file_bytes) / 1e6, dev.name.c_str());
  if (dev.name != "cpu") {
    std::printf(
        "  VRAM held %.0f MiB (weights %.0f MiB, KV pool %.0f MiB, working memory %.0f MiB), "
        "residency %s; "
        "batch-invariant matmuls %s; %s matmuls; decode graphs %s; sampling on the %s\n",
        static_cast<double>(dev.device_bytes) / 1048576.0,
        static_cast<double>(dev.weight_bytes) / 1048576.0,
        static_cast<double>(dev.kv_bytes) / 1048576.0,
        static_cast<double>(dev.scratch_bytes) / 1048576.0,
        dev.vram_resident ? "verified" : "NOT verified",
        llm.options().batch_invariant ? "on" : "off (cuBLAS prefill)",
        numerics_label(llm.options()), llm.options().cuda_graphs ? "on" : "off",
        llm.options().gpu_sampling ? "device" : "host");
  } else {
    std::printf("  %d threads, %s matmuls\n", llm.options().n_threads,
                numerics_label(llm.options()));
  }
  std::string sampled = "a greedy token sampled";
  if (a.temperature > 0.0f) {
    char head[96];
    std::snprintf(head, sizeof(head), "a token sampled (temperature %.2f, top-p %.2f",
                  static_cast<double>(a.temperature), static_cast<double>(a.top_p));
    sampled = head;
    if (a.top_k > 0) sampled += ", top-k " + std::to_string(a.top_k);
    sampled += ")";
  }
  if (a.top_logprobs > 0) {
    sampled += " and its " + std::to_string(a.top_logprobs) + " top logprobs";
  }
  std::printf("  load %.0f ms; medians of %d runs; decode steps end with %s\n", load_ms, a.repeats,
              a.logits ? "the logits on the host" : sampled.c_str());
  std::printf("  prefill %5d tokens      %9.2f ms        %9.1f tokens/s\n", a.prompt_tokens, p_ms,
              a.prompt_tokens * 1000.0 / p_ms);
  for (const auto& d : decode) {
    std::printf("  decode  batch %3d        %9.3f ms/step   %9.1f tokens/s (%.1f per sequence)\n",
                d.batch, d.ms_per_step, d.batch * 1000.0 / d.ms_per_step, 1000.0 / d.ms_per_step);
  }
  return 0;
}

}  // namespace zinfer::cli
