// Per-token numerics (LlmOptions::fp16_prompts) on the CPU backend, which the GPU is held to
// (cuda_forward_test's Fp16PromptsMatchCpuPerTokenPath): a prompt token's matmuls take the
// fp16-operand numerics (LlmOptions::fp16_matmul) and a generated token's the Q16 ones
// (q16_act), whatever else shares its step. Checked bit for bit on a synthetic Qwen2-shaped
// model (Q4_K, Q/K/V biases):
//  - a sequence fed as prompt tokens only gives exactly the fp16_matmul model's logits, and one
//    fed as generated tokens only exactly the q16_act model's — so the kind reaches every
//    matmul, the logits' rows included;
//  - a step mixing a decode (generated) with a prompt chunk of another sequence gives each
//    sequence exactly what it gets alone — the split of rows by kind keeps batch invariance.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

enum class Numerics { kF16, kQ16, kF16Prompts };

std::string model_path() {
  model::SyntheticOptions o;
  o.preset = "tiny-qwen2";
  o.type = quant::GgmlType::kQ4_K;
  o.seed = 7;
  return testing::write_synthetic(o, "per_token_numerics.gguf");
}

std::unique_ptr<Llm> load(const std::string& path, Numerics n) {
  LlmOptions lo = testing::llm_options(path, 128, 4);
  lo.n_threads = 2;
  lo.fp16_matmul = n == Numerics::kF16;
  lo.q16_act = n == Numerics::kQ16;
  lo.fp16_prompts = n == Numerics::kF16Prompts;
  auto llm = Llm::load(lo);
  if (!llm.ok()) {
    ADD_FAILURE() << llm.error().message;
    return nullptr;
  }
  return std::move(llm).value();
}

std::vector<std::int32_t> tokens(std::size_t n, std::int32_t salt, std::int32_t n_vocab) {
  std::vector<std::int32_t> t(n);
  for (std::size_t i = 0; i < n; ++i)
    t[i] =
        static_cast<std::int32_t>((salt * 7919 + static_cast<std::int64_t>(i) * 104729) % n_vocab);
  return t;
}

// Logits of a 9-token prompt fed in one chunk, then three single tokens; every forward fed
// with the given kind.
std::vector<std::vector<float>> run_sequence(Llm& llm, bool generated) {
  sched::SequenceRunner run(llm);
  const std::int32_t v = llm.hparams().n_vocab;
  std::vector<std::vector<float>> out;
  auto l = run.forward(0, tokens(9, 1, v), /*all_logits=*/true, generated);
  EXPECT_TRUE(l.ok()) << l.error().message;
  if (!l.ok()) return out;
  out.push_back(*l);
  for (std::int32_t s = 0; s < 3; ++s) {
    l = run.forward(0, tokens(1, 10 + s, v), false, generated);
    EXPECT_TRUE(l.ok()) << l.error().message;
    if (!l.ok()) return out;
    out.push_back(*l);
  }
  return out;
}

TEST(PerTokenNumerics, PromptTokensTakeFp16AndGeneratedTokensQ16) {
  const std::string path = model_path();
  ASSERT_FALSE(path.empty());
  auto mixed = load(path, Numerics::kF16Prompts);
  auto f16 = load(path, Numerics::kF16);
  auto q16 = load(path, Numerics::kQ16);
  ASSERT_TRUE(mixed && f16 && q16);
  const auto as_prompt = run_sequence(*mixed, false);
  const auto as_generated = run_sequence(*mixed, true);
  EXPECT_EQ(as_prompt, run_sequence(*f16, false));
  EXPECT_EQ(as_generated, run_sequence(*q16, false));
  EXPECT_NE(as_prompt, as_generated);  // the two numerics differ on this model
}

TEST(PerTokenNumerics, AStepMixingKindsGivesEachSequenceItsLogitsAlone) {
  const std::string path = model_path();
  ASSERT_FALSE(path.empty());
  auto llm = load(path, Numerics::kF16Prompts);
  ASSERT_TRUE(llm);
  const std::int32_t v = llm->hparams().n_vocab;
  const auto p0 = tokens(7, 2, v), p1 = tokens(5, 3, v), more = tokens(6, 4, v);
  const auto d0 = tokens(1, 5, v), d2 = tokens(1, 6, v);

  // Together: sequences 0 and 2 decode (generated) around sequence 1's second prompt chunk
  // (the logits of its last token only, so the logits' rows have kinds of their own), then
  // once more with every row's logits.
  sched::SequenceRunner together(*llm);
  std::vector<sched::SeqInput> first = {{0, p0, false}, {1, p1, false}, {2, p0, false}};
  ASSERT_TRUE(together.forward_batch(first).ok());
  std::vector<sched::SeqInput> step = {
      {0, d0, false, true}, {1, more, false, false}, {2, d2, false, true}};
  auto joint = together.forward_batch(step);
  ASSERT_TRUE(joint.ok()) << joint.error().message;
  std::vector<sched::SeqInput> step2 = {
      {0, d2, true, true}, {1, d0, true, false}, {2, d0, true, true}};
  auto joint2 = together.forward_batch(step2);
  ASSERT_TRUE(joint2.ok()) << joint2.error().message;

  // Alone: each sequence's same history and steps in a runner of its own.
  struct Alone {
    std::vector<float> last, all;
  };
  auto alone = [&](const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& next,
                   bool generated, const std::vector<std::int32_t>& next2, bool generated2) {
    sched::SequenceRunner run(*llm);
    Alone a;
    EXPECT_TRUE(run.forward(0, prompt, false).ok());
    auto l = run.forward(0, next, false, generated);
    EXPECT_TRUE(l.ok());
    if (l.ok()) a.last = *l;
    l = run.forward(0, next2, true, generated2);
    EXPECT_TRUE(l.ok());
    if (l.ok()) a.all = *l;
    return a;
  };
  const Alone a0 = alone(p0, d0, true, d2, true), a1 = alone(p1, more, false, d0, false),
              a2 = alone(p0, d2, true, d0, true);
  EXPECT_EQ((*joint)[0], a0.last);
  EXPECT_EQ((*joint)[1], a1.last);
  EXPECT_EQ((*joint)[2], a2.last);
  EXPECT_EQ((*joint2)[0], a0.all);
  EXPECT_EQ((*joint2)[1], a1.all);
  EXPECT_EQ((*joint2)[2], a2.all);
  // Fed as a prompt token instead, the decode's logits change: the kind reached the step.
  EXPECT_NE((*joint)[0], alone(p0, d0, false, d2, true).last);
}

TEST(PerTokenNumerics, RejectsQ8ActivationsAndFp16Matmul) {
  const std::string path = model_path();
  ASSERT_FALSE(path.empty());
  LlmOptions lo = testing::llm_options(path, 64, 1);
  lo.fp16_prompts = true;
  lo.fp16_matmul = true;
  auto a = Llm::load(lo);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::kInvalidParameter);
  lo.fp16_matmul = false;
  lo.exact_matmul = false;
  auto b = Llm::load(lo);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidParameter);
}

}  // namespace
}  // namespace zinfer
