// Preset table (hyperparameters from each model's published config.json) and the
// llama / qwen2 tensor lists with llama.cpp's tensor names.
#include "engine/model/synthetic_presets.h"

#include <array>

namespace zinfer::model {
namespace {

std::string blk(std::int32_t i, std::string_view suffix) {
  return "blk." + std::to_string(i) + "." + std::string(suffix);
}

// Shared by the llama-like decoders: pre-norm attention + SwiGLU FFN.
std::vector<TensorSpec> decoder_tensors(const SyntheticPreset& p, std::int32_t n_layer, bool qkv_bias) {
  const std::int64_t d = p.n_embd;
  const std::int64_t q_dim = static_cast<std::int64_t>(p.n_head) * p.head_dim();
  const std::int64_t kv_dim = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim();
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {d, p.n_vocab}, TensorRole::kEmbedding});
  for (std::int32_t i = 0; i < n_layer; ++i) {
    t.push_back({blk(i, "attn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_q.weight"), {d, q_dim}, TensorRole::kMatmul});
    if (qkv_bias) t.push_back({blk(i, "attn_q.bias"), {q_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_k.weight"), {d, kv_dim}, TensorRole::kMatmul});
    if (qkv_bias) t.push_back({blk(i, "attn_k.bias"), {kv_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_v.weight"), {d, kv_dim}, TensorRole::kMatmul});
    if (qkv_bias) t.push_back({blk(i, "attn_v.bias"), {kv_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_output.weight"), {q_dim, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_gate.weight"), {d, p.n_ff}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_up.weight"), {d, p.n_ff}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_down.weight"), {p.n_ff, d}, TensorRole::kMatmul});
  }
  t.push_back({"output_norm.weight", {d}, TensorRole::kNorm});
  if (!p.tied_output) t.push_back({"output.weight", {d, p.n_vocab}, TensorRole::kOutput});
  return t;
}

std::vector<TensorSpec> llama_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  return decoder_tensors(p, n_layer, false);
}

std::vector<TensorSpec> qwen2_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  return decoder_tensors(p, n_layer, true);
}

// LlamaModel.set_gguf_parameters adds these two; Qwen2Model does not (the loader then
// derives rope.dimension_count from embedding_length / head_count).
void llama_metadata(const SyntheticPreset& p, gguf::GgufWriter& w) {
  w.set_u32("llama.vocab_size", static_cast<std::uint32_t>(p.n_vocab));
  w.set_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(p.head_dim()));
}

void no_metadata(const SyntheticPreset&, gguf::GgufWriter&) {}

constexpr std::array<SyntheticArch, 2> kArchs = {{
    {"llama", llama_tensors, llama_metadata},
    {"qwen2", qwen2_tensors, no_metadata},
}};

// Tiny variants: every matmul ne0 (256, 512) is a multiple of 256 so all K-quants apply;
// tiny-llama has its own output.weight, tiny-qwen2 ties it to token_embd (as Qwen2.5-0.5B).
constexpr std::array<SyntheticPreset, 7> kPresets = {{
    // name, arch, general.name, size, layers, ctx, embd, ff, heads, kv, vocab, rope, eps, tied, vocab
    {"tiny-llama", "llama", "Tiny Llama (synthetic)", "1M", 2, 512, 256, 512, 4, 2, 512, 10000.0f,
     1e-5f, false, VocabStyle::kLlama3},
    {"tiny-qwen2", "qwen2", "Tiny Qwen2 (synthetic)", "1M", 2, 512, 256, 512, 4, 2, 512, 1000000.0f,
     1e-6f, true, VocabStyle::kQwen2},
    {"smollm2-135m", "llama", "SmolLM2 135M (synthetic)", "135M", 30, 8192, 576, 1536, 9, 3, 49152,
     100000.0f, 1e-5f, true, VocabStyle::kSmolLM},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B (synthetic)", "0.5B", 24, 32768, 896, 4864, 14, 2, 151936,
     1000000.0f, 1e-6f, true, VocabStyle::kQwen2},
    {"qwen2.5-1.5b", "qwen2", "Qwen2.5 1.5B (synthetic)", "1.5B", 28, 32768, 1536, 8960, 12, 2, 151936,
     1000000.0f, 1e-6f, true, VocabStyle::kQwen2},
    {"qwen2.5-7b", "qwen2", "Qwen2.5 7B (synthetic)", "7B", 28, 32768, 3584, 18944, 28, 4, 152064,
     1000000.0f, 1e-6f, false, VocabStyle::kQwen2},
    {"llama-3-8b", "llama", "Llama 3 8B (synthetic)", "8B", 32, 8192, 4096, 14336, 32, 8, 128256,
     500000.0f, 1e-5f, false, VocabStyle::kLlama3},
}};

}  // namespace

std::span<const SyntheticPreset> synthetic_presets() { return kPresets; }
std::span<const SyntheticArch> synthetic_archs() { return kArchs; }

const SyntheticPreset* find_synthetic_preset(std::string_view name) {
  for (const auto& p : kPresets) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const SyntheticArch* find_synthetic_arch(std::string_view name) {
  for (const auto& a : kArchs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace zinfer::model
