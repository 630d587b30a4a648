// Synthetic models: the C++ writer reproduces the fixture files byte for byte (FNV-1a of
// the file recorded by scripts/golden/synthetic_logits.py), our reader sees the tensor
// table and metadata that gguf.GGUFReader saw, the vocabulary is a working tokenizer, the
// presets carry the published shapes and the block-size fallback follows llama.cpp.
#include "engine/synthetic/synthetic_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/engine/synthetic/synthetic_fixture.h"
#include "tests/test_util.h"

namespace zinfer::model {
namespace {

using quant::GgmlType;

using testing::SyntheticCase;

std::string case_name(const ::testing::TestParamInfo<SyntheticCase>& info) {
  return testing::synthetic_case_id(info.param);
}

std::string write_model(const std::string& preset, const std::string& type, std::uint64_t seed) {
  SyntheticOptions o;
  o.preset = preset;
  o.type = *quant::type_from_name(type);
  o.seed = seed;
  return testing::write_synthetic(o, preset + "_" + type + "_" + std::to_string(seed) + ".gguf");
}

class SyntheticFixture : public ::testing::TestWithParam<SyntheticCase> {};

TEST_P(SyntheticFixture, WriterReproducesFixtureFile) {
  const auto fx = testing::load_synthetic_fixture(GetParam());
  ASSERT_TRUE(fx.is_object()) << "missing fixture; run scripts/golden/synthetic_logits.py";
  const std::string path = testing::temp_dir() + "/" + GetParam().name() + ".gguf";
  auto written = write_synthetic_model(
      testing::synthetic_options(GetParam(), fx.at("seed").get<std::uint64_t>()), path);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(testing::read_file(path).size(), fx.at("file_size").get<std::size_t>());
  EXPECT_EQ(testing::fnv1a64_file(path), fx.at("file_fnv1a64").get<std::string>());

  auto file = gguf::GgufFile::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const auto& tensors = (*file)->tensors();
  const auto& want = fx.at("tensors");
  ASSERT_EQ(tensors.size(), want.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, want[i].at("name").get<std::string>());
    EXPECT_EQ(quant::type_name(t.type), want[i].at("type").get<std::string>());
    const auto ne = want[i].at("ne").get<std::vector<std::int64_t>>();
    ASSERT_EQ(t.n_dims, static_cast<int>(ne.size()));
    for (std::size_t d = 0; d < ne.size(); ++d) EXPECT_EQ(t.ne[d], ne[d]);
    EXPECT_EQ((*file)->data_offset() + t.offset, want[i].at("offset").get<std::uint64_t>());
  }
  for (const auto& [key, value] : fx.at("metadata").items()) {
    SCOPED_TRACE(key);
    const gguf::MetaValue* v = (*file)->find(key);
    ASSERT_NE(v, nullptr);
    if (value.is_object()) {
      EXPECT_EQ(v->arr.size(), value.at("array_len").get<std::size_t>());
    } else if (value.is_string()) {
      EXPECT_EQ(v->s, value.get<std::string>());
    } else if (value.is_boolean()) {
      EXPECT_EQ(v->u != 0, value.get<bool>());
    } else if (value.is_number_float()) {
      EXPECT_EQ(v->f, value.get<double>());
    } else {
      EXPECT_EQ(v->type == gguf::ValueType::kInt32 || v->type == gguf::ValueType::kInt64
                    ? static_cast<std::int64_t>(v->i)
                    : static_cast<std::int64_t>(v->u),
                value.get<std::int64_t>());
    }
  }
  EXPECT_EQ((*file)->metadata().size(), fx.at("metadata").size());
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SyntheticFixture,
                         ::testing::ValuesIn(testing::synthetic_cases()), case_name);

TEST(SyntheticModel, SeedDeterminesBytes) {
  const auto a = write_model("tiny-qwen2", "Q4_K", 5);
  const auto b = write_model("tiny-qwen2", "Q4_K", 5);
  const auto c = write_model("tiny-qwen2", "Q4_K", 6);
  EXPECT_EQ(testing::read_file(a), testing::read_file(b));
  EXPECT_NE(testing::read_file(a), testing::read_file(c));
}

TEST(SyntheticModel, VocabularyIsAWorkingTokenizer) {
  for (const std::string preset : {"tiny-llama", "tiny-qwen2"}) {
    SCOPED_TRACE(preset);
    auto file = gguf::GgufFile::open(write_model(preset, "Q8_0", 1));
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto tok = tok::Tokenizer::from_gguf(**file);
    ASSERT_TRUE(tok.ok()) << tok.error().message;
    const tok::Tokenizer& t = **tok;
    EXPECT_EQ(t.vocab_size(), 512);
    const std::string text =
        "The miller kept a careful record of the river, 42 sacks & caf\xc3\xa9!";
    const auto ids = t.encode(text, /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(t.decode(ids, false), text);
    EXPECT_LT(ids.size(), text.size() * 2 / 3) << "merges should compress English text";
    const auto the = t.encode(" the", false, false);
    EXPECT_EQ(the.size(), 1u) << "' the' is the most frequent word of the training text";
    const auto chat = t.encode("<|im_start|>user\nhi<|im_end|>", false, true);
    ASSERT_GE(chat.size(), 3u);
    EXPECT_EQ(t.token_type(chat.front()), tok::TokenType::kControl);
    EXPECT_EQ(t.token_text(chat.front()), "<|im_start|>");
    EXPECT_EQ(t.token_text(chat.back()), "<|im_end|>");
    EXPECT_EQ(t.token_text(t.eos_id()), "<|im_end|>");
    EXPECT_TRUE(t.is_eog(chat.back()));
    auto prompt = t.apply_chat_template({{"user", "hi"}}, true);
    ASSERT_TRUE(prompt.ok()) << prompt.error().message;
    EXPECT_EQ(*prompt, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  }
}

TEST(SyntheticModel, FallbackFollowsLlamaCpp) {
  EXPECT_EQ(fallback_type(GgmlType::kQ4_K, 576), GgmlType::kQ5_0);
  EXPECT_EQ(fallback_type(GgmlType::kQ5_K, 576), GgmlType::kQ5_1);
  EXPECT_EQ(fallback_type(GgmlType::kQ6_K, 576), GgmlType::kQ8_0);
  EXPECT_EQ(fallback_type(GgmlType::kQ2_K, 576), GgmlType::kQ4_0);
  EXPECT_EQ(fallback_type(GgmlType::kQ3_K, 896), GgmlType::kQ4_0);
  EXPECT_EQ(fallback_type(GgmlType::kQ4_K, 1536), GgmlType::kQ4_K);
  EXPECT_EQ(fallback_type(GgmlType::kQ4_K, 80), GgmlType::kF16);  // Q5_0 needs 32 too
  EXPECT_EQ(fallback_type(GgmlType::kQ8_0, 48), GgmlType::kF16);
  EXPECT_EQ(fallback_type(GgmlType::kBF16, 7), GgmlType::kBF16);

  SyntheticOptions o;
  o.preset = "smollm2-135m";
  o.type = GgmlType::kQ4_K;
  auto plan = plan_synthetic_model(o);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  auto type_of = [&](const SyntheticPlan& p, const std::string& name) {
    for (const auto& t : p.tensors) {
      if (t.name == name) return t.type;
    }
    ADD_FAILURE() << "no tensor " << name;
    return GgmlType::kF32;
  };
  EXPECT_EQ(type_of(*plan, "blk.0.attn_q.weight"), GgmlType::kQ5_0);    // ne0 576
  EXPECT_EQ(type_of(*plan, "blk.0.ffn_down.weight"), GgmlType::kQ4_K);  // ne0 1536
  EXPECT_EQ(type_of(*plan, "token_embd.weight"), GgmlType::kQ5_0);
  EXPECT_EQ(type_of(*plan, "blk.0.attn_norm.weight"), GgmlType::kF32);
  o.embed_output = EmbedOutputTypes::kLlamaCppMix;
  plan = plan_synthetic_model(o);
  EXPECT_EQ(type_of(*plan, "token_embd.weight"),
            GgmlType::kQ8_0);  // tied: output rules, 576 % 256 != 0
  o.preset = "llama-3-8b";
  plan = plan_synthetic_model(o);
  EXPECT_EQ(type_of(*plan, "output.weight"), GgmlType::kQ6_K);
  EXPECT_EQ(type_of(*plan, "token_embd.weight"), GgmlType::kQ4_K);
}

TEST(SyntheticModel, PresetsHavePublishedShapes) {
  struct Want {
    const char* preset;
    std::size_t n_tensors;  // layers × per-layer + token_embd + output_norm (+ output)
    std::int64_t q_rows, kv_rows, ff, vocab;
    bool has_output, has_bias;
  };
  const Want wants[] = {
      {"smollm2-135m", 30 * 9 + 2, 576, 192, 1536, 49152, false, false},
      {"qwen2.5-0.5b", 24 * 12 + 2, 896, 128, 4864, 151936, false, true},
      {"qwen2.5-1.5b", 28 * 12 + 2, 1536, 256, 8960, 151936, false, true},
      {"qwen2.5-7b", 28 * 12 + 3, 3584, 512, 18944, 152064, true, true},
      {"llama-3-8b", 32 * 9 + 3, 4096, 1024, 14336, 128256, true, false},
  };
  for (const auto& w : wants) {
    SCOPED_TRACE(w.preset);
    const auto plan = testing::synthetic_plan(w.preset);
    ASSERT_TRUE(plan.has_value());
    EXPECT_EQ(plan->tensors.size(), w.n_tensors);
    std::set<std::string> names;
    for (const auto& t : plan->tensors) {
      names.insert(t.name);
      const std::int64_t want_rows = t.name == "blk.0.attn_q.weight"   ? w.q_rows
                                     : t.name == "blk.0.attn_k.weight" ? w.kv_rows
                                     : t.name == "blk.0.ffn_up.weight" ? w.ff
                                     : t.name == "token_embd.weight"   ? w.vocab
                                                                       : t.ne[1];
      EXPECT_EQ(t.ne[1], want_rows) << t.name;
    }
    EXPECT_EQ(names.count("output.weight"), w.has_output ? 1u : 0u);
    EXPECT_EQ(names.count("blk.0.attn_k.bias"), w.has_bias ? 1u : 0u);
  }
}

TEST(SyntheticModel, RejectsBadOptionsNamingTheField) {
  SyntheticOptions o;
  o.preset = "no-such-model";
  auto r = plan_synthetic_model(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(r.error().message.find("preset"), std::string::npos);
  o.preset = "tiny-llama";
  o.type = GgmlType::kQ8_1;
  r = plan_synthetic_model(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("type"), std::string::npos);
  o.type = GgmlType::kQ4_0;
  o.n_layers = -1;
  r = plan_synthetic_model(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("layers"), std::string::npos);
  o.n_layers = 3;
  r = plan_synthetic_model(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_layers, 3);
  EXPECT_EQ(r->tensors.size(), 3u * 9 + 3);
}

}  // namespace
}  // namespace zinfer::model
