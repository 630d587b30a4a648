// `zinfer generate`: load a model, run one prompt or chat message, stream the text.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence.h"
#include "engine/sched/sequence_runner.h"
#include "engine/sched/warm_up.h"
#include "service/cli/backend_flags.h"
#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"

namespace zinfer::cli {
namespace {

struct GenerateArgs {
  LlmOptions llm;
  std::string prompt;
  std::string chat;
  std::string system;
  sched::GenerationParams gen;
  bool show_ids = false;
  bool show_reasoning = false;
  bool verbose = false;
};

int run_generate(GenerateArgs& a) {
  spdlog::set_level(a.verbose ? spdlog::level::debug : spdlog::level::warn);
  if (a.prompt.empty() == a.chat.empty()) {
    std::cerr << "error: give exactly one of --prompt or --chat\n";
    return 2;
  }
  auto t_load = std::chrono::steady_clock::now();
  auto llm_r = Llm::load(a.llm);
  if (!llm_r.ok()) return report_bad_input(llm_r.error());
  Llm& llm = **llm_r;
  const tok::Tokenizer& tok = llm.tokenizer();
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

  std::vector<std::int32_t> prompt_ids;
  if (!a.chat.empty()) {
    std::vector<tok::ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", a.chat});
    auto ids = tok.encode_chat(msgs, true);
    if (!ids.ok()) {
      std::cerr << "error: " << ids.error().message << "\n";
      return 2;
    }
    prompt_ids = std::move(*ids);
    // Harmony (gpt-oss): stdout gets the final channel; the analysis channel is reasoning.
    a.gen.harmony_channels = tok.chat_is_harmony();
  } else {
    prompt_ids = tok.encode(a.prompt, true, true);
  }
  if (prompt_ids.empty()) {
    std::cerr << "error: the prompt encodes to no tokens\n";
    return 2;
  }
  auto spec = sched::JobSpec::check(std::move(prompt_ids), a.gen,
                                    {llm.hparams().n_vocab, llm.options().n_ctx});
  if (!spec.ok()) {
    std::cerr << "error: " << spec.error().message << "\n";
    return 2;
  }
  const std::size_t n_prompt = spec->prompt().size();
  // On CUDA a warm-up of this prompt's length and a few decode steps (sched/warm_up.h), so the
  // prompt and decode rates printed below are not those of first launches.
  if (sched::warm_up_helps(llm)) {
    auto w = sched::warm_up(llm, sched::WarmUpPlan{static_cast<std::int32_t>(n_prompt), 1, 3});
    if (!w.ok()) {
      std::cerr << "error: " << w.error().message << "\n";
      return 1;
    }
  }

  sched::Sequence seq(tok, *spec);
  sched::SequenceRunner run(llm);
  double prompt_ms = 0.0;
  auto t_decode = std::chrono::steady_clock::now();
  bool first = true;
  bool ends_with_newline = true;  // nothing printed yet
  while (!seq.finished()) {
    auto t0 = std::chrono::steady_clock::now();
    // Sampled in the forward pass (on the device with CUDA), as the scheduler does.
    const sched::SeqInput in{0, seq.pending_input(), false, /*generated=*/!first};
    const sample::SampleRequest request = seq.sample_request();
    auto sampled = run.forward_sample(std::span<const sched::SeqInput>(&in, 1),
                                      std::span<const sample::SampleRequest>(&request, 1));
    if (!sampled.ok()) {
      std::cerr << "\nerror: " << error_code_name(sampled.error().code) << ": "
                << sampled.error().message << "\n";
      return 1;
    }
    StepSample& sample = (*sampled)[0];
    auto step = sample->ok() ? seq.accept_sample(std::move(*sample).value())
                             : Result<sched::StepOutput>(sample->error());
    if (!step.ok()) {
      std::cerr << "\nerror: " << step.error().message << "\n";
      return 1;
    }
    if (first) {
      prompt_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      t_decode = std::chrono::steady_clock::now();
      first = false;
    }
    if (a.show_reasoning && !step->reasoning.empty()) std::cerr << step->reasoning << std::flush;
    std::cout << step->text << std::flush;
    if (!step->text.empty()) ends_with_newline = step->text.back() == '\n';
  }
  const double decode_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_decode)
          .count();
  // The statistics go to stderr on a line of their own, also when the text has no final newline.
  if (!ends_with_newline) std::cout << "\n";
  std::cout << std::flush;
  const auto n_gen = static_cast<double>(seq.generated().size());
  if (a.show_ids) {
    std::cerr << "ids:";
    for (auto id : seq.generated()) std::cerr << " " << id;
    std::cerr << "\n";
  }
  std::fprintf(
      stderr,
      "[%s] load %.0f ms | prompt %zu tokens in %.1f ms (%.1f tok/s) | generated %.0f tokens, "
      "decode %.1f tok/s | finish: %s\n",
      llm.device_report().name.c_str(), load_ms, n_prompt, prompt_ms,
      1000.0 * static_cast<double>(n_prompt) / std::max(prompt_ms, 1e-3), n_gen,
      n_gen > 1 ? 1000.0 * (n_gen - 1) / std::max(decode_ms, 1e-3) : 0.0,
      sched::finish_reason_name(seq.finish_reason()));
  return 0;
}

}  // namespace

Command register_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  args->llm.device = "auto";              // cuda:0 when a GPU is present
  args->gen.sampling.temperature = 0.0f;  // greedy unless --temp is given
  CLI::App* sub = app.add_subcommand("generate", "Generate text from a prompt and stream it");
  sub->add_option("-m,--model", args->llm.model_path, "GGUF model file")->required();
  sub->add_option("-p,--prompt", args->prompt, "Plain prompt (special-token text is parsed)");
  sub->add_option("-c,--chat", args->chat,
                  "User message, formatted with the model's chat template");
  sub->add_option("--system", args->system, "System message for --chat");
  sub->add_option("-n,--max-tokens", args->gen.max_tokens, "Tokens to generate")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--temp", args->gen.sampling.temperature,
                  "Temperature (0 = greedy, the default)");
  sub->add_option("--top-k", args->gen.sampling.top_k, "Top-k (0 = off)");
  sub->add_option("--top-p", args->gen.sampling.top_p, "Top-p (1 = off)");
  sub->add_option("--min-p", args->gen.sampling.min_p, "Min-p (0 = off)");
  sub->add_option("--repeat-penalty", args->gen.sampling.repetition_penalty,
                  "Repetition penalty (1 = off)");
  sub->add_option("--presence-penalty", args->gen.sampling.presence_penalty, "Presence penalty");
  sub->add_option("--frequency-penalty", args->gen.sampling.frequency_penalty, "Frequency penalty");
  sub->add_option("--seed", args->gen.sampling.seed, "Sampling seed");
  sub->add_option("--stop", args->gen.stop, "Stop string (repeatable)");
  sub->add_flag("--ignore-eos", args->gen.ignore_eos, "Do not stop at end-of-generation tokens");
  sub->add_option("--device", args->llm.device,
                  "auto (cuda:0 when a GPU is present, else cpu), cpu, cuda, cuda:N")
      ->capture_default_str();
  sub->add_option("--tokenizer-pre", args->llm.tokenizer_pre,
                  "Use this pre-tokenizer instead of the file's tokenizer.ggml.pre (experts only)");
  sub->add_option("-t,--threads", args->llm.n_threads, "CPU threads (0 = all cores)");
  sub->add_option("--ctx", args->llm.n_ctx, "Context length (tokens)");
  add_backend_flags(sub, args->llm);
  sub->add_flag("--ids", args->show_ids, "Print generated token ids to stderr");
  sub->add_flag("--show-reasoning", args->show_reasoning,
                "Harmony (gpt-oss) --chat: stream the analysis channel to stderr (stdout gets "
                "the final channel only)");
  sub->add_flag("-v,--verbose", args->verbose, "Debug logging");
  args->llm.n_seq_max = 1;
  return Command{sub, [args] { return run_generate(*args); }};
}

}  // namespace zinfer::cli
