// `zinfer mkmodel`: writes a synthetic GGUF model (real shapes, random weights) from a preset.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "engine/synthetic/synthetic_model.h"
#include "service/cli/commands.h"

namespace zinfer::cli {
namespace {

struct MkmodelArgs {
  std::string preset;
  std::string type = "Q4_K";
  std::string expert_type = "MXFP4";
  std::string out;
  std::uint64_t seed = 0;
  std::int32_t layers = 0;
  bool mix = false;
  bool list = false;
};

void print_presets() {
  std::printf("%-18s %-7s %6s %6s %6s %5s %4s %8s %10s %s\n", "preset", "arch", "layers", "embd",
              "ff", "heads", "kv", "vocab", "rope_base", "tied");
  for (const auto& p : model::synthetic_presets()) {
    std::printf("%-18s %-7s %6d %6d %6d %5d %4d %8d %10g %s\n", std::string(p.name).c_str(),
                std::string(p.arch).c_str(), p.n_layer, p.n_embd, p.n_ff, p.n_head, p.n_head_kv,
                p.n_vocab, static_cast<double>(p.rope_base), p.tied_output ? "yes" : "no");
  }
}

int run_mkmodel(const MkmodelArgs& a) {
  if (a.list) {
    print_presets();
    return 0;
  }
  if (a.preset.empty() || a.out.empty()) {
    std::fprintf(stderr, "mkmodel: --preset and --out are required (see --list)\n");
    return 2;
  }
  auto type = quant::type_from_name(a.type);
  if (!type) {
    std::fprintf(stderr, "mkmodel: --type: unknown type '%s'\n", a.type.c_str());
    return 2;
  }
  auto expert_type = quant::type_from_name(a.expert_type);
  if (!expert_type) {
    std::fprintf(stderr, "mkmodel: --expert-type: unknown type '%s'\n", a.expert_type.c_str());
    return 2;
  }
  model::SyntheticOptions o;
  o.preset = a.preset;
  o.type = *type;
  o.expert_type = *expert_type;
  o.seed = a.seed;
  o.n_layers = a.layers;
  o.embed_output =
      a.mix ? model::EmbedOutputTypes::kLlamaCppMix : model::EmbedOutputTypes::kRequested;
  const auto t0 = std::chrono::steady_clock::now();
  auto report = model::write_synthetic_model(o, a.out);
  if (!report.ok()) {
    std::fprintf(stderr, "mkmodel: %s: %s\n",
                 std::string(error_code_name(report.error().code)).c_str(),
                 report.error().message.c_str());
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One line per (ne0, requested, used) instead of one per tensor: real shapes repeat per layer.
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::pair<int, std::string>> groups;
  for (const auto& t : report->fallbacks) {
    auto& g = groups[{t.ne[0], std::string(quant::type_name(t.requested)),
                      std::string(quant::type_name(t.type))}];
    if (g.first++ == 0) g.second = t.name;
  }
  for (const auto& [key, g] : groups) {
    std::fprintf(
        stderr,
        "mkmodel: %d tensor(s) with ne0=%lld (e.g. %s): not a multiple of the %s block, using %s\n",
        g.first, static_cast<long long>(std::get<0>(key)), g.second.c_str(),
        std::get<1>(key).c_str(), std::get<2>(key).c_str());
  }
  std::printf(
      "wrote %s: preset %s, type %s, seed %llu, %zu tensors, %.1fM params, %.1f MiB in %.1f s\n",
      a.out.c_str(), a.preset.c_str(), std::string(quant::type_name(*type)).c_str(),
      static_cast<unsigned long long>(a.seed), report->n_tensors,
      static_cast<double>(report->n_params) / 1e6,
      static_cast<double>(report->file_size) / (1024.0 * 1024.0), secs);
  return 0;
}

}  // namespace

Command register_mkmodel(CLI::App& app) {
  auto args = std::make_shared<MkmodelArgs>();
  CLI::App* sub = app.add_subcommand(
      "mkmodel", "Write a synthetic GGUF model with real shapes and random weights");
  sub->add_option("--preset", args->preset, "Model shape (see --list)");
  sub->add_option("--type", args->type,
                  "Weight type: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K..Q6_K MXFP4")
      ->capture_default_str();
  sub->add_option("--expert-type", args->expert_type,
                  "Type of the stacked MoE expert matrices (gpt-oss presets)")
      ->capture_default_str();
  sub->add_option("--out", args->out, "Output .gguf path");
  sub->add_option("--seed", args->seed, "Random seed (same seed, same bytes)")
      ->capture_default_str();
  sub->add_option("--layers", args->layers, "Override the preset's layer count (0 = preset's)");
  sub->add_flag("--mix", args->mix, "llama.cpp-style output/embedding types (Q6_K or Q8_0)");
  sub->add_flag("--list", args->list, "List presets and exit");
  return Command{sub, [args] { return run_mkmodel(*args); }};
}

}  // namespace zinfer::cli
