// Synthetic gpt-oss presets: the published sizes of gpt-oss-20b and gpt-oss-120b (parameter
// counts of the model cards, the 20b release file's size and tensor types: MXFP4 experts, Q8_0
// attention/embedding/output, F32 router, norms, biases and sinks), the metadata keys
// llama.cpp's GptOssModel converter writes and their values read back as Hparams, a working
// `gpt-4o` BPE vocabulary, and the tiny presets loading and running on the CPU backend
// (their agreement with the PyTorch reference is gpt_oss_reference_test's business).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/architecture.h"
#include "engine/model/hparams.h"
#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace zinfer::model {
namespace {

using quant::GgmlType;

std::string write_tiny(const std::string& preset, GgmlType type = GgmlType::kQ8_0) {
  SyntheticOptions o;
  o.preset = preset;
  o.type = type;
  o.seed = 5;
  return testing::write_synthetic(o, preset + "_" + std::string(quant::type_name(type)) + ".gguf");
}

TEST(SyntheticGptOss, RealShapesMatchThePublishedModels) {
  struct Want {
    const char* preset;
    double params_b;      // model card: 20.91B and 116.83B total parameters
    double file_gb;       // bytes of tensor data, 1e9
    std::size_t n_mxfp4;  // expert matrices: 3 per layer
  };
  for (const Want w :
       {Want{"gpt-oss-20b", 20.91, 12.1, 72}, Want{"gpt-oss-120b", 116.83, 63.4, 108}}) {
    SCOPED_TRACE(w.preset);
    SyntheticOptions o;
    o.preset = w.preset;
    o.type = GgmlType::kQ8_0;
    auto plan = plan_synthetic_model(o);
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    double n = 0.0, bytes = 0.0;
    std::map<GgmlType, std::size_t> by_type;
    for (const auto& t : plan->tensors) {
      double e = 1.0;
      for (auto x : t.ne) e *= static_cast<double>(x);
      n += e;
      bytes += e / static_cast<double>(quant::traits(t.type).block_size) *
               static_cast<double>(quant::traits(t.type).type_size);
      ++by_type[t.type];
      if (t.name.find("_exps.weight") != std::string::npos) {
        EXPECT_EQ(t.type, GgmlType::kMXFP4) << t.name;
        EXPECT_EQ(t.ne.size(), 3u) << t.name;
      }
      if (t.name.find("ffn_gate_inp.weight") != std::string::npos) {
        EXPECT_EQ(t.type, GgmlType::kF32) << t.name;
      }
    }
    EXPECT_NEAR(n / 1e9, w.params_b, w.params_b * 0.002);
    EXPECT_NEAR(bytes / 1e9, w.file_gb, w.file_gb * 0.01);
    const std::size_t layers = w.n_mxfp4 / 3;
    // As llama.cpp loads ggml-org/gpt-oss-20b-GGUF: f32 289, q8_0 98, mxfp4 72 tensors.
    EXPECT_EQ(by_type[GgmlType::kMXFP4], w.n_mxfp4);
    EXPECT_EQ(by_type[GgmlType::kQ8_0], layers * 4 + 2);
    EXPECT_EQ(by_type[GgmlType::kF32], layers * 12 + 1);
  }
}

TEST(SyntheticGptOss, MetadataIsTheConvertersAndReadsBack) {
  auto file = gguf::GgufFile::open(write_tiny("tiny-gpt-oss"));
  ASSERT_TRUE(file.ok()) << file.error().message;
  std::set<std::string> keys;
  for (const auto& kv : (*file)->metadata()) {
    if (kv.first.rfind("gpt-oss.", 0) == 0) keys.insert(kv.first);
  }
  const std::set<std::string> want = {"gpt-oss.block_count",
                                      "gpt-oss.context_length",
                                      "gpt-oss.embedding_length",
                                      "gpt-oss.feed_forward_length",
                                      "gpt-oss.attention.head_count",
                                      "gpt-oss.attention.head_count_kv",
                                      "gpt-oss.attention.key_length",
                                      "gpt-oss.attention.value_length",
                                      "gpt-oss.attention.layer_norm_rms_epsilon",
                                      "gpt-oss.attention.sliding_window",
                                      "gpt-oss.rope.freq_base",
                                      "gpt-oss.rope.scaling.type",
                                      "gpt-oss.rope.scaling.factor",
                                      "gpt-oss.rope.scaling.original_context_length",
                                      "gpt-oss.expert_count",
                                      "gpt-oss.expert_used_count",
                                      "gpt-oss.expert_feed_forward_length"};
  EXPECT_EQ(keys, want);
  EXPECT_EQ((*file)->get_u32("general.file_type").value(), 38u);  // MOSTLY_MXFP4_MOE
  auto hp = read_hparams(**file);
  ASSERT_TRUE(hp.ok()) << hp.error().message;
  EXPECT_EQ(hp->arch, "gpt-oss");
  EXPECT_EQ(hp->n_layer, 4);
  EXPECT_EQ(hp->head_dim, 64);
  EXPECT_EQ(hp->n_head, 4);
  EXPECT_EQ(hp->n_head_kv, 2);
  EXPECT_EQ(hp->n_expert, 8);
  EXPECT_EQ(hp->n_expert_used, 4);
  EXPECT_EQ(hp->n_ff_exp, 256);
  EXPECT_EQ(hp->sliding_window, 4);
  EXPECT_EQ(hp->rope_scaling_type, "yarn");
  EXPECT_FLOAT_EQ(hp->rope_freq_scale, 1.0f / 32.0f);
  EXPECT_EQ(hp->n_ctx_orig, 4096);
  EXPECT_EQ(hp->yarn_beta_fast, 32.0f);
  EXPECT_EQ(hp->yarn_beta_slow, 1.0f);
  EXPECT_EQ(hp->n_vocab, 512);
  const gguf::TensorInfo* down = (*file)->find_tensor("blk.3.ffn_down_exps.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->type, GgmlType::kMXFP4);
  EXPECT_EQ(down->ne[0], 256);
  EXPECT_EQ(down->ne[2], 8);
}

TEST(SyntheticGptOss, ExpertTypeIsAnOption) {
  SyntheticOptions o;
  o.preset = "tiny-gpt-oss-top2";
  o.type = GgmlType::kF16;
  o.expert_type = GgmlType::kQ4_0;
  auto plan = plan_synthetic_model(o);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  for (const auto& t : plan->tensors) {
    if (t.role == TensorRole::kExpert) {
      EXPECT_EQ(t.type, GgmlType::kQ4_0) << t.name;
    } else if (t.role == TensorRole::kMatmul) {
      EXPECT_EQ(t.type, GgmlType::kF16) << t.name;
    }
  }
  o.expert_type = GgmlType::kQ8_1;
  auto bad = plan_synthetic_model(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("expert_type"), std::string::npos);
}

TEST(SyntheticGptOss, VocabularyIsAWorkingGpt4oTokenizer) {
  auto file = gguf::GgufFile::open(write_tiny("tiny-gpt-oss"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->get_string("tokenizer.ggml.pre").value(), "gpt-4o");
  auto tok = tok::Tokenizer::from_gguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const std::string text = "The miller kept 1234 sacks of grain, didn't he?";
  const auto ids = (*tok)->encode(text, /*add_special=*/false, /*parse_special=*/false);
  EXPECT_EQ((*tok)->decode(ids, false), text);
}

// Both tiny presets load on the CPU in every path and give finite logits that depend on the
// prompt; a row's logits are the same bits alone or batched with another sequence.
TEST(SyntheticGptOss, TinyPresetsRunOnTheCpu) {
  for (const std::string preset : {"tiny-gpt-oss", "tiny-gpt-oss-top2"}) {
    for (bool exact : {true, false}) {
      SCOPED_TRACE(preset + (exact ? " exact" : " q8"));
      LlmOptions lo = testing::llm_options(write_tiny(preset), 64, 2);
      lo.exact_matmul = exact;
      lo.n_threads = 2;
      auto llm = Llm::load(lo);
      ASSERT_TRUE(llm.ok()) << llm.error().message;
      sched::SequenceRunner run(**llm);
      const std::vector<std::int32_t> a = {5, 17, 300, 42, 9, 111, 7, 260, 12};
      const std::vector<std::int32_t> b = {400, 3, 3, 3};
      auto la = run.forward(0, a, /*all_logits=*/false);
      ASSERT_TRUE(la.ok()) << la.error().message;
      for (float v : *la) ASSERT_TRUE(std::isfinite(v));
      run.reset(0);
      const sched::SeqInput in[] = {{0, a, false}, {1, b, false}};
      auto both = run.forward_batch(in);
      ASSERT_TRUE(both.ok()) << both.error().message;
      EXPECT_EQ((*both)[0], *la) << "batched with another sequence changed the logits";
      EXPECT_NE((*both)[1], *la);
    }
  }
}

// Missing or inconsistent MoE metadata is a load error naming the key.
TEST(SyntheticGptOss, BadExpertMetadataIsALoadError) {
  auto file = gguf::GgufFile::open(write_tiny("tiny-gpt-oss-top2"));
  ASSERT_TRUE(file.ok());
  auto hp = read_hparams(**file);
  ASSERT_TRUE(hp.ok());
  BackendConfig bc;
  bc.n_threads = 1;
  bc.n_layer = hp->n_layer;
  bc.n_embd_kv = hp->n_embd_kv();
  bc.kv_blocks = 4;
  bc.kv_block_size = 16;
  auto backend = create_cpu_backend(**file, bc);
  ASSERT_TRUE(backend.ok());
  Hparams bad = *hp;
  bad.n_expert = 0;
  auto arch = create_architecture(bad, (*backend)->weights());
  ASSERT_FALSE(arch.ok());
  EXPECT_EQ(arch.error().code, ErrorCode::kModelLoadFailed);
  EXPECT_NE(arch.error().message.find("gpt-oss.expert_count"), std::string::npos);
  bad = *hp;
  bad.n_expert = 5;  // the stacked tensors hold 4
  arch = create_architecture(bad, (*backend)->weights());
  ASSERT_FALSE(arch.ok());
  EXPECT_NE(arch.error().message.find("ffn_gate_inp.weight"), std::string::npos)
      << arch.error().message;
  bad = *hp;
  bad.rope_scaling_type = "longrope";
  arch = create_architecture(bad, (*backend)->weights());
  ASSERT_FALSE(arch.ok());
  EXPECT_NE(arch.error().message.find("rope.scaling.type"), std::string::npos);
}

}  // namespace
}  // namespace zinfer::model
