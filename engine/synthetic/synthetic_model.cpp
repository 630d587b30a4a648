// Writes a synthetic model: plan (tensor list + types), metadata in the order llama.cpp's
// converter emits it, then tensor data generated row by row from (seed, name, row) and
// streamed through GgufWriter in bounded chunks.
#include "engine/synthetic/synthetic_model.h"

#include <algorithm>
#include <utility>

#include "engine/gguf/gguf_writer.h"
#include "engine/synthetic/synthetic_weights.h"

namespace zinfer::model {
namespace {

using quant::GgmlType;

constexpr float kNormNoise = 0.1f;  // norms are 1 ± 0.1
constexpr float kBiasStd = 0.02f;
constexpr std::size_t kChunkBytes = std::size_t{8} << 20;

bool is_float_type(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

GgmlType type_for(const TensorSpec& t, const SyntheticOptions& o, const SyntheticPreset& p) {
  switch (t.role) {
    case TensorRole::kNorm:
    case TensorRole::kBias:
    case TensorRole::kRouter:
      return GgmlType::kF32;
    case TensorRole::kMatmul:
      return o.type;
    case TensorRole::kExpert:
      return o.expert_type;
    case TensorRole::kEmbedding:
      // A tied token_embd doubles as the output matrix and is quantized like one.
      if (!p.tied_output) return o.type;
      [[fallthrough]];
    case TensorRole::kOutput:
      if (o.embed_output == EmbedOutputTypes::kLlamaCppMix && !is_float_type(o.type)) {
        return t.ne[0] % 256 == 0 ? GgmlType::kQ6_K : GgmlType::kQ8_0;
      }
      return o.type;
  }
  return o.type;
}

InitKind init_for(TensorRole role) {
  switch (role) {
    case TensorRole::kNorm:
      return InitKind::kNorm;
    case TensorRole::kBias:
      return InitKind::kBias;
    default:
      return InitKind::kWeight;
  }
}

void write_metadata(const SyntheticPlan& plan, const SyntheticOptions& o,
                    const SyntheticVocab& vocab, gguf::GgufWriter& w) {
  const SyntheticPreset& p = *plan.preset;
  const std::string a(p.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.type", "model");
  w.set_string("general.name", std::string(p.model_name));
  w.set_string("general.size_label", std::string(p.size_label));
  w.set_string("zinfer.synthetic.preset", std::string(p.name));
  w.set_u64("zinfer.synthetic.seed", o.seed);
  w.set_u32(a + ".block_count", static_cast<std::uint32_t>(plan.n_layers));
  w.set_u32(a + ".context_length", static_cast<std::uint32_t>(p.n_ctx));
  w.set_u32(a + ".embedding_length", static_cast<std::uint32_t>(p.n_embd));
  w.set_u32(a + ".feed_forward_length", static_cast<std::uint32_t>(p.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<std::uint32_t>(p.n_head));
  if (plan.arch->gqa_rope_keys) {
    w.set_u32(a + ".attention.head_count_kv", static_cast<std::uint32_t>(p.n_head_kv));
    w.set_f32(a + ".rope.freq_base", p.rope_base);
  }
  w.set_f32(a + (plan.arch->rms_norm ? ".attention.layer_norm_rms_epsilon"
                                     : ".attention.layer_norm_epsilon"),
            p.rms_eps);
  const bool mxfp4_experts =
      std::any_of(plan.tensors.begin(), plan.tensors.end(), [](const PlannedTensor& t) {
        return t.role == TensorRole::kExpert && t.type == GgmlType::kMXFP4;
      });
  w.set_u32("general.file_type", mxfp4_experts ? llama_file_type(GgmlType::kMXFP4, o.embed_output)
                                               : llama_file_type(o.type, o.embed_output));
  plan.arch->extra_metadata(p, w);

  w.set_string("tokenizer.ggml.model", vocab.model);
  w.set_string("tokenizer.ggml.pre", vocab.pre);
  w.set("tokenizer.ggml.tokens", gguf::meta_string_array(vocab.tokens));
  if (!vocab.scores.empty()) w.set("tokenizer.ggml.scores", gguf::meta_f32_array(vocab.scores));
  w.set("tokenizer.ggml.token_type", gguf::meta_i32_array(vocab.token_types));
  if (!vocab.merges.empty()) w.set("tokenizer.ggml.merges", gguf::meta_string_array(vocab.merges));
  w.set_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(vocab.bos_id));
  w.set_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(vocab.eos_id));
  if (vocab.unk_id >= 0)
    w.set_u32("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(vocab.unk_id));
  if (vocab.pad_id >= 0)
    w.set_u32("tokenizer.ggml.padding_token_id", static_cast<std::uint32_t>(vocab.pad_id));
  w.set_bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  if (vocab.add_sep) w.set_bool("tokenizer.ggml.add_sep_token", *vocab.add_sep);
  if (vocab.add_eos) w.set_bool("tokenizer.ggml.add_eos_token", *vocab.add_eos);
  if (vocab.add_space_prefix)
    w.set_bool("tokenizer.ggml.add_space_prefix", *vocab.add_space_prefix);
  if (!vocab.chat_template.empty()) w.set_string("tokenizer.chat_template", vocab.chat_template);
  w.set_u32("general.quantization_version", 2);
}

}  // namespace

bool synthetic_type_supported(GgmlType type) {
  return quant::is_core_weight_type(type) || type == GgmlType::kMXFP4;
}

GgmlType fallback_type(GgmlType requested, std::int64_t ne0) {
  if (ne0 % quant::traits(requested).block_size == 0) return requested;
  GgmlType t = GgmlType::kF16;
  switch (requested) {
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
      t = GgmlType::kQ4_0;
      break;
    case GgmlType::kQ4_K:
      t = GgmlType::kQ5_0;
      break;
    case GgmlType::kQ5_K:
      t = GgmlType::kQ5_1;
      break;
    case GgmlType::kQ6_K:
      t = GgmlType::kQ8_0;
      break;
    default:
      break;
  }
  return ne0 % quant::traits(t).block_size == 0 ? t : GgmlType::kF16;
}

std::uint32_t llama_file_type(GgmlType type, EmbedOutputTypes embed_output) {
  const bool mix = embed_output == EmbedOutputTypes::kLlamaCppMix;
  switch (type) {
    case GgmlType::kF32:
      return 0;  // ALL_F32
    case GgmlType::kF16:
      return 1;  // MOSTLY_F16
    case GgmlType::kQ4_0:
      return 2;
    case GgmlType::kQ4_1:
      return 3;
    case GgmlType::kQ8_0:
      return 7;
    case GgmlType::kQ5_0:
      return 8;
    case GgmlType::kQ5_1:
      return 9;
    case GgmlType::kQ2_K:
      return 10;
    case GgmlType::kQ3_K:
      return mix ? 12 : 11;  // Q3_K_M : Q3_K_S
    case GgmlType::kQ4_K:
      return mix ? 15 : 14;  // Q4_K_M : Q4_K_S
    case GgmlType::kQ5_K:
      return mix ? 17 : 16;  // Q5_K_M : Q5_K_S
    case GgmlType::kQ6_K:
      return 18;
    case GgmlType::kBF16:
      return 32;
    case GgmlType::kMXFP4:
      return 38;  // MOSTLY_MXFP4_MOE
    default:
      return 0;
  }
}

Result<SyntheticPlan> plan_synthetic_model(const SyntheticOptions& o) {
  SyntheticPlan plan;
  plan.preset = find_synthetic_preset(o.preset);
  if (plan.preset == nullptr) {
    std::string names;
    for (const auto& p : synthetic_presets())
      names += (names.empty() ? "" : ", ") + std::string(p.name);
    return make_error(ErrorCode::kInvalidParameter,
                      "preset: unknown '" + o.preset + "' (known: " + names + ")");
  }
  plan.arch = find_synthetic_arch(plan.preset->arch);
  if (plan.arch == nullptr) {
    return make_error(ErrorCode::kInvalidParameter, "preset '" + o.preset + "': architecture '" +
                                                        std::string(plan.preset->arch) +
                                                        "' has no tensor list");
  }
  for (const auto& [field, t] : {std::pair{"type", o.type}, {"expert_type", o.expert_type}}) {
    if (!synthetic_type_supported(t)) {
      return make_error(ErrorCode::kInvalidParameter, std::string(field) + ": " +
                                                          std::string(quant::type_name(t)) +
                                                          " is not a supported weight type");
    }
  }
  if (o.n_layers < 0 || o.n_layers > 1024) {
    return make_error(ErrorCode::kInvalidParameter,
                      "layers: must be 0..1024, got " + std::to_string(o.n_layers));
  }
  if (!(o.weight_std > 0.0f && o.weight_std < 1.0f)) {
    return make_error(ErrorCode::kInvalidParameter, "weight_std: must be in (0, 1)");
  }
  plan.n_layers = o.n_layers > 0 ? o.n_layers : plan.preset->n_layer;
  for (auto& spec : plan.arch->tensors(*plan.preset, plan.n_layers)) {
    PlannedTensor t;
    t.requested = type_for(spec, o, *plan.preset);
    t.type = fallback_type(t.requested, spec.ne[0]);
    t.name = std::move(spec.name);
    t.ne = std::move(spec.ne);
    t.role = spec.role;
    plan.tensors.push_back(std::move(t));
  }
  return plan;
}

Result<SyntheticReport> write_synthetic_model(const SyntheticOptions& o, const std::string& path) {
  ZINFER_ASSIGN_OR_RETURN(SyntheticPlan plan, plan_synthetic_model(o));
  ZINFER_ASSIGN_OR_RETURN(SyntheticVocab vocab,
                          build_synthetic_vocab(plan.preset->vocab, plan.preset->n_vocab));

  gguf::GgufWriter w;
  write_metadata(plan, o, vocab, w);
  SyntheticReport report;
  for (const auto& t : plan.tensors) {
    ZINFER_RETURN_IF_ERROR(w.add_tensor(t.name, t.type, t.ne));
    if (t.type != t.requested) report.fallbacks.push_back(t);
    std::uint64_t n = 1;
    for (auto x : t.ne) n *= static_cast<std::uint64_t>(x);
    report.n_params += n;
  }
  report.n_tensors = plan.tensors.size();
  ZINFER_RETURN_IF_ERROR(w.open(path));

  std::vector<std::uint8_t> chunk;
  for (const auto& t : plan.tensors) {
    if (o.zero_sparse) {
      ZINFER_RETURN_IF_ERROR(w.skip_data(w.tensors()[w.current_tensor()].nbytes));
      continue;
    }
    const std::int64_t ne0 = t.ne[0];
    std::int64_t rows = 1;
    for (std::size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
    const std::size_t row_bytes = quant::row_size(t.type, ne0);
    const std::int64_t rows_per_chunk =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(kChunkBytes / row_bytes));
    const InitKind kind = init_for(t.role);
    const float scale = kind == InitKind::kNorm   ? kNormNoise
                        : kind == InitKind::kBias ? kBiasStd
                                                  : o.weight_std;
    for (std::int64_t r0 = 0; r0 < rows; r0 += rows_per_chunk) {
      const std::int64_t nr = std::min(rows_per_chunk, rows - r0);
      chunk.resize(static_cast<std::size_t>(nr) * row_bytes);
      for (std::int64_t r = 0; r < nr; ++r) {
        SynthRng rng(synth_row_seed(o.seed, t.name, r0 + r));
        synth_fill_row(t.type, kind, scale, ne0, rng,
                       chunk.data() + static_cast<std::size_t>(r) * row_bytes);
      }
      ZINFER_RETURN_IF_ERROR(w.write_data(chunk));
    }
  }
  ZINFER_RETURN_IF_ERROR(w.close());
  report.file_size = w.file_size();
  return report;
}

}  // namespace zinfer::model
