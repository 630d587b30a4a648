// Preset table (hyperparameters from each model's published config.json) and the
// llama / qwen2 / gemma3 / phi3 / gpt2 / gpt-oss tensor lists and metadata with llama.cpp's names.
#include "engine/synthetic/synthetic_presets.h"

#include <array>

namespace zinfer::model {
namespace {

std::string blk(std::int32_t i, std::string_view suffix) {
  return "blk." + std::to_string(i) + "." + std::string(suffix);
}

// token_embd, then each layer's tensors as add_layer(t, i) appends them, output_norm, and
// output.weight unless the preset ties it to the embedding.
template <typename AddLayer>
std::vector<TensorSpec> stack_tensors(const SyntheticPreset& p, std::int32_t n_layer,
                                      AddLayer add_layer) {
  const std::int64_t d = p.n_embd;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {d, p.n_vocab}, TensorRole::kEmbedding});
  for (std::int32_t i = 0; i < n_layer; ++i) add_layer(t, i);
  t.push_back({"output_norm.weight", {d}, TensorRole::kNorm});
  if (!p.tied_output) t.push_back({"output.weight", {d, p.n_vocab}, TensorRole::kOutput});
  return t;
}

// Shared by the llama-like decoders: pre-norm attention + SwiGLU FFN.
std::vector<TensorSpec> decoder_tensors(const SyntheticPreset& p, std::int32_t n_layer,
                                        bool qkv_bias) {
  const std::int64_t d = p.n_embd;
  const std::int64_t q_dim = static_cast<std::int64_t>(p.n_head) * p.head_dim();
  const std::int64_t kv_dim = static_cast<std::int64_t>(p.n_head_kv) * p.head_dim();
  return stack_tensors(p, n_layer, [&](std::vector<TensorSpec>& t, std::int32_t i) {
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
  });
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

// Gemma 3: per-head q/k norms and post-attention / post-FFN norms; output tied.
std::vector<TensorSpec> gemma3_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  const std::int64_t d = p.n_embd, hd = p.head_dim();
  const std::int64_t q_dim = p.n_head * hd, kv_dim = p.n_head_kv * hd;
  return stack_tensors(p, n_layer, [&](std::vector<TensorSpec>& t, std::int32_t i) {
    t.push_back({blk(i, "attn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_q.weight"), {d, q_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_k.weight"), {d, kv_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_v.weight"), {d, kv_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_q_norm.weight"), {hd}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_k_norm.weight"), {hd}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_output.weight"), {q_dim, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "post_attention_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_gate.weight"), {d, p.n_ff}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_up.weight"), {d, p.n_ff}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_down.weight"), {p.n_ff, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "post_ffw_norm.weight"), {d}, TensorRole::kNorm});
  });
}

// Gemma3Model.set_gguf_parameters: head size, sliding window (rope scaling only for 4B+).
void gemma3_metadata(const SyntheticPreset& p, gguf::GgufWriter& w) {
  w.set_u32("gemma3.attention.key_length", static_cast<std::uint32_t>(p.head_dim()));
  w.set_u32("gemma3.attention.value_length", static_cast<std::uint32_t>(p.head_dim()));
  w.set_u32("gemma3.attention.sliding_window", static_cast<std::uint32_t>(p.sliding_window));
}

// Phi-3: fused [q | k | v] projection and fused [gate | up] FFN input.
std::vector<TensorSpec> phi3_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  const std::int64_t d = p.n_embd, hd = p.head_dim();
  const std::int64_t q_dim = p.n_head * hd, kv_dim = p.n_head_kv * hd;
  return stack_tensors(p, n_layer, [&](std::vector<TensorSpec>& t, std::int32_t i) {
    t.push_back({blk(i, "attn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_qkv.weight"), {d, q_dim + 2 * kv_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_output.weight"), {q_dim, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_up.weight"), {d, 2 * std::int64_t{p.n_ff}}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_down.weight"), {p.n_ff, d}, TensorRole::kMatmul});
  });
}

// Phi3MiniModel.set_gguf_parameters (4k model: no rope scaling, so no factor tensors).
void phi3_metadata(const SyntheticPreset& p, gguf::GgufWriter& w) {
  w.set_u32("phi3.rope.scaling.original_context_length", static_cast<std::uint32_t>(p.n_ctx));
  w.set_u32("phi3.rope.dimension_count", static_cast<std::uint32_t>(p.head_dim()));
  w.set_u32("phi3.attention.sliding_window", static_cast<std::uint32_t>(p.sliding_window));
}

// GPT-2: learned positions, LayerNorm and linear biases everywhere, fused QKV.
std::vector<TensorSpec> gpt2_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  const std::int64_t d = p.n_embd;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {d, p.n_vocab}, TensorRole::kEmbedding});
  t.push_back({"position_embd.weight", {d, p.n_ctx}, TensorRole::kMatmul});
  for (std::int32_t i = 0; i < n_layer; ++i) {
    t.push_back({blk(i, "attn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_norm.bias"), {d}, TensorRole::kBias});
    t.push_back({blk(i, "attn_qkv.weight"), {d, 3 * d}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_qkv.bias"), {3 * d}, TensorRole::kBias});
    t.push_back({blk(i, "attn_output.weight"), {d, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_output.bias"), {d}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_norm.bias"), {d}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_up.weight"), {d, p.n_ff}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_up.bias"), {p.n_ff}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_down.weight"), {p.n_ff, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "ffn_down.bias"), {d}, TensorRole::kBias});
  }
  t.push_back({"output_norm.weight", {d}, TensorRole::kNorm});
  t.push_back({"output_norm.bias", {d}, TensorRole::kBias});
  // llama.cpp's GPT2 converter copies wte into output.weight, so real files are untied.
  if (!p.tied_output) t.push_back({"output.weight", {d, p.n_vocab}, TensorRole::kOutput});
  return t;
}

// gpt-oss: biased attention with per-head sinks, a biased router and stacked expert
// matrices with biases (llama.cpp's converter splits the checkpoint's gate_up rows into
// ffn_gate_exps and ffn_up_exps).
std::vector<TensorSpec> gpt_oss_tensors(const SyntheticPreset& p, std::int32_t n_layer) {
  const std::int64_t d = p.n_embd, hd = p.head_dim();
  const std::int64_t q_dim = p.n_head * hd, kv_dim = p.n_head_kv * hd;
  const std::int64_t ne = p.n_expert, ff = p.n_ff_exp;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {d, p.n_vocab}, TensorRole::kEmbedding});
  for (std::int32_t i = 0; i < n_layer; ++i) {
    t.push_back({blk(i, "attn_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "attn_q.weight"), {d, q_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_q.bias"), {q_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_k.weight"), {d, kv_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_k.bias"), {kv_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_v.weight"), {d, kv_dim}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_v.bias"), {kv_dim}, TensorRole::kBias});
    t.push_back({blk(i, "attn_output.weight"), {q_dim, d}, TensorRole::kMatmul});
    t.push_back({blk(i, "attn_output.bias"), {d}, TensorRole::kBias});
    t.push_back({blk(i, "attn_sinks.weight"), {p.n_head}, TensorRole::kBias});
    t.push_back({blk(i, "post_attention_norm.weight"), {d}, TensorRole::kNorm});
    t.push_back({blk(i, "ffn_gate_inp.weight"), {d, ne}, TensorRole::kRouter});
    t.push_back({blk(i, "ffn_gate_inp.bias"), {ne}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_gate_exps.weight"), {d, ff, ne}, TensorRole::kExpert});
    t.push_back({blk(i, "ffn_gate_exps.bias"), {ff, ne}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_up_exps.weight"), {d, ff, ne}, TensorRole::kExpert});
    t.push_back({blk(i, "ffn_up_exps.bias"), {ff, ne}, TensorRole::kBias});
    t.push_back({blk(i, "ffn_down_exps.weight"), {ff, d, ne}, TensorRole::kExpert});
    t.push_back({blk(i, "ffn_down_exps.bias"), {d, ne}, TensorRole::kBias});
  }
  t.push_back({"output_norm.weight", {d}, TensorRole::kNorm});
  t.push_back({"output.weight", {d, p.n_vocab}, TensorRole::kOutput});
  return t;
}

// GptOssModel.set_gguf_parameters: experts, head size, sliding window and YaRN.
void gpt_oss_metadata(const SyntheticPreset& p, gguf::GgufWriter& w) {
  w.set_u32("gpt-oss.expert_count", static_cast<std::uint32_t>(p.n_expert));
  w.set_u32("gpt-oss.expert_used_count", static_cast<std::uint32_t>(p.n_expert_used));
  w.set_u32("gpt-oss.attention.key_length", static_cast<std::uint32_t>(p.head_dim()));
  w.set_u32("gpt-oss.attention.value_length", static_cast<std::uint32_t>(p.head_dim()));
  w.set_u32("gpt-oss.attention.sliding_window", static_cast<std::uint32_t>(p.sliding_window));
  w.set_u32("gpt-oss.expert_feed_forward_length", static_cast<std::uint32_t>(p.n_ff_exp));
  if (p.rope_scaling_factor > 0.0f) {
    w.set_string("gpt-oss.rope.scaling.type", "yarn");
    w.set_f32("gpt-oss.rope.scaling.factor", p.rope_scaling_factor);
    w.set_u32("gpt-oss.rope.scaling.original_context_length",
              static_cast<std::uint32_t>(p.n_ctx_orig));
  }
}

constexpr std::array<SyntheticArch, 6> kArchs = {{
    {"llama", llama_tensors, llama_metadata},
    {"qwen2", qwen2_tensors, no_metadata},
    {"gemma3", gemma3_tensors, gemma3_metadata},
    {"phi3", phi3_tensors, phi3_metadata},
    {"gpt2", gpt2_tensors, no_metadata, /*gqa_rope_keys=*/false, /*rms_norm=*/false},
    {"gpt-oss", gpt_oss_tensors, gpt_oss_metadata},
}};

// Tiny variants: every matmul ne0 (256, 512) is a multiple of 256 so all K-quants apply;
// tiny-llama has its own output.weight, tiny-qwen2 ties it to token_embd (as Qwen2.5-0.5B).
// tiny-gemma3 has 6 layers so layer 5 is global while 0-4 slide over a 4-token window,
// and a head size (128) unrelated to n_embd / n_head; tiny-phi3 uses GQA (4 q, 2 kv heads)
// inside its fused QKV. The trailing columns are attention.key_length (0: n_embd / n_head)
// and attention.sliding_window; GPT-2 presets ignore rope base and use eps as LayerNorm's.
// gpt-oss presets: tiny-gpt-oss has 4 layers (0 and 2 slide over a 4-token window), 8
// experts of which 4 are used, tiny-gpt-oss-top2 2 layers and 4 experts top-2; both keep the
// real head size 64, rope base, YaRN factor and original context, so the YaRN ramp lies
// inside the rotation pairs as in the real models (the reference asserts it). The real
// shapes are the published config.json values (20b: 24 layers, 32 experts; 120b: 36, 128).
constexpr std::array<SyntheticPreset, 19> kPresets = {{
    // name, arch, general.name, size, layers, ctx, embd, ff, heads, kv, vocab, rope, eps, tied,
    // vocab
    {"tiny-llama", "llama", "Tiny Llama (synthetic)", "1M", 2, 512, 256, 512, 4, 2, 512, 10000.0f,
     1e-5f, false, VocabStyle::kLlama3},
    {"tiny-qwen2", "qwen2", "Tiny Qwen2 (synthetic)", "1M", 2, 512, 256, 512, 4, 2, 512, 1000000.0f,
     1e-6f, true, VocabStyle::kQwen2},
    {"smollm2-135m", "llama", "SmolLM2 135M (synthetic)", "135M", 30, 8192, 576, 1536, 9, 3, 49152,
     100000.0f, 1e-5f, true, VocabStyle::kSmolLM},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5 0.5B (synthetic)", "0.5B", 24, 32768, 896, 4864, 14, 2,
     151936, 1000000.0f, 1e-6f, true, VocabStyle::kQwen2},
    {"qwen2.5-1.5b", "qwen2", "Qwen2.5 1.5B (synthetic)", "1.5B", 28, 32768, 1536, 8960, 12, 2,
     151936, 1000000.0f, 1e-6f, true, VocabStyle::kQwen2},
    {"qwen2.5-7b", "qwen2", "Qwen2.5 7B (synthetic)", "7B", 28, 32768, 3584, 18944, 28, 4, 152064,
     1000000.0f, 1e-6f, false, VocabStyle::kQwen2},
    {"llama-3-8b", "llama", "Llama 3 8B (synthetic)", "8B", 32, 8192, 4096, 14336, 32, 8, 128256,
     500000.0f, 1e-5f, false, VocabStyle::kLlama3},
    {"tiny-gemma3", "gemma3", "Tiny Gemma 3 (synthetic)", "1M", 6, 512, 256, 512, 4, 1, 512,
     1000000.0f, 1e-6f, true, VocabStyle::kGemma3, 128, 4},
    {"gemma-3-270m", "gemma3", "Gemma 3 270M (synthetic)", "270M", 18, 32768, 640, 2048, 4, 1,
     262144, 1000000.0f, 1e-6f, true, VocabStyle::kGemma3, 256, 512},
    {"gemma-3-1b", "gemma3", "Gemma 3 1B (synthetic)", "1B", 26, 32768, 1152, 6912, 4, 1, 262144,
     1000000.0f, 1e-6f, true, VocabStyle::kGemma3, 256, 512},
    {"tiny-phi3", "phi3", "Tiny Phi 3 (synthetic)", "1M", 2, 512, 256, 512, 4, 2, 512, 10000.0f,
     1e-5f, false, VocabStyle::kPhi3, 0, 2047},
    {"phi-3-mini-4k", "phi3", "Phi 3 Mini 4k (synthetic)", "3.8B", 32, 4096, 3072, 8192, 32, 32,
     32064, 10000.0f, 1e-5f, false, VocabStyle::kPhi3, 0, 2047},
    {"tiny-gpt2", "gpt2", "Tiny GPT-2 (synthetic)", "1M", 2, 128, 256, 1024, 4, 4, 512, 0.0f, 1e-5f,
     false, VocabStyle::kGpt2},
    {"gpt2", "gpt2", "GPT-2 (synthetic)", "124M", 12, 1024, 768, 3072, 12, 12, 50257, 0.0f, 1e-5f,
     false, VocabStyle::kGpt2},
    {"gpt2-medium", "gpt2", "GPT-2 Medium (synthetic)", "355M", 24, 1024, 1024, 4096, 16, 16, 50257,
     0.0f, 1e-5f, false, VocabStyle::kGpt2},
    // clang-format off
    // ..., key_length, sliding_window, experts, used, expert ff, YaRN factor, original ctx
    {"tiny-gpt-oss", "gpt-oss", "Tiny gpt-oss (synthetic)", "1M", 4, 4096, 256, 256, 4, 2, 512,
     150000.0f, 1e-5f, false, VocabStyle::kGptOss, 64, 4, 8, 4, 256, 32.0f, 4096},
    {"tiny-gpt-oss-top2", "gpt-oss", "Tiny gpt-oss top-2 (synthetic)", "1M", 2, 4096, 256, 256, 4,
     2, 512, 150000.0f, 1e-5f, false, VocabStyle::kGptOss, 64, 4, 4, 2, 256, 32.0f, 4096},
    {"gpt-oss-20b", "gpt-oss", "gpt-oss-20b (synthetic)", "20B", 24, 131072, 2880, 2880, 64, 8,
     201088, 150000.0f, 1e-5f, false, VocabStyle::kGptOss, 64, 128, 32, 4, 2880, 32.0f, 4096},
    {"gpt-oss-120b", "gpt-oss", "gpt-oss-120b (synthetic)", "120B", 36, 131072, 2880, 2880, 64, 8,
     201088, 150000.0f, 1e-5f, false, VocabStyle::kGptOss, 64, 128, 128, 4, 2880, 32.0f, 4096},
    // clang-format on
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
