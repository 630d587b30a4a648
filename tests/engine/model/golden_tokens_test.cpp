// Model parity against llama.cpp: greedy token ids and logits of real models must match the
// golden fixtures in tests/data/golden/ (written by scripts/golden/model_goldens.py with
// llama-cpp-python; see tests/data/golden/README.md for how they were made).
//
// For every golden prompt: our tokenizer must produce llama.cpp's prompt ids (and our chat
// template the jinja2-rendered text), the prompt's logits must match llama.cpp's top-k per
// position, and 64 greedy steps must pick llama.cpp's ids. Decoding is teacher-forced (the
// golden id is fed back, not ours) so that one flipped token does not turn the remaining
// logit comparisons into noise. Flips are allowed only at llama.cpp near ties (see below);
// strict token identity is hf_golden_test's contract (transformers, exact path).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

using nlohmann::json;

// Tolerances on |our logit - llama.cpp logit| over the golden top-k ids of a position.
// Our default CPU path quantizes activations to Q8 as llama.cpp does and reproduces ggml's
// Q4_1/Q8_0 dots bit for bit, so on SmolLM2 position 0 (where attention is the identity)
// matches to the fixture's 5-decimal rounding; Qwen's K-quant dots agree only to ~1e-7. From the
// third position on, attention sums in a different order than ggml; a difference of one ulp that
// moves a Q8 activation across a rounding boundary shifts logits by ~0.05-0.1, and these steps add
// up. llama.cpp is no steadier against itself: its single-token and multi-token ubatch paths differ
// by up to 0.84 on SmolLM2 (scripts/golden/reference_noise.py). The numbers below come from those
// measurements; tests/data/golden/README.md has the tables.
struct GoldenFixture {
  const char* json_file;  // under tests/data/golden/
  double first_pos_tol;   // prompt position 0: no attention mixing, so near-exact
  double median_tol;      // median over the positions of a case (prompt and decode apart)
  double max_tol;         // any single position
};

const GoldenFixture kFixtures[] = {
    {"smollm2_greedy.json", 1e-3, 0.5, 1.5},
    {"qwen_greedy.json", 0.15, 0.5, 1.5},  // K-quant dots are not bit-exact: see README
};

// The name is a const char* (not std::string) so callers pass no temporary: GCC 13 warns
// (-Wdangling-reference) about a reference returned from a call with a temporary argument.
const json& load_fixture(const char* file) {
  static std::map<std::string, json> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    std::string text = testing::read_file(testing::data_path(std::string("golden/") + file));
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    it = cache.emplace(file, j.is_discarded() ? json() : std::move(j)).first;
  }
  return it->second;
}

struct CaseParam {
  std::size_t fixture = 0;  // index into kFixtures
  std::size_t index = 0;    // index into the fixture's "cases"
  std::string name;         // "<fixture>_<case>" for the test name
};

void PrintTo(const CaseParam& p, std::ostream* os) { *os << p.name; }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

std::vector<CaseParam> all_cases() {
  std::vector<CaseParam> out;
  for (std::size_t f = 0; f < std::size(kFixtures); ++f) {
    const json& j = load_fixture(kFixtures[f].json_file);
    if (j.is_null()) continue;
    std::string stem = std::filesystem::path(kFixtures[f].json_file).stem().string();
    for (std::size_t i = 0; i < j["cases"].size(); ++i)
      out.push_back({f, i, stem + "_" + j["cases"][i]["name"].get<std::string>()});
  }
  return out;
}

// One model per fixture, loaded once per process (ctest runs each case in its own process,
// a plain run of the binary shares it across cases).
Llm* shared_model(const std::string& path) {
  static std::map<std::string, std::unique_ptr<Llm>> models;
  auto it = models.find(path);
  if (it != models.end()) return it->second.get();
  LlmOptions opt = testing::llm_options(path, 2048, 1);  // n_ctx as the reference run
  opt.n_threads = 2;                                     // the test machines share their cores
  opt.exact_matmul = false;                              // Q8 activations like llama.cpp
  auto llm = Llm::load(opt);
  if (!llm.ok()) {
    ADD_FAILURE() << "Llm::load(" << path << "): " << llm.error().message;
    return nullptr;
  }
  return models.emplace(path, std::move(llm).value()).first->second.get();
}

std::int32_t argmax_first(const float* row, std::int32_t n) {
  return static_cast<std::int32_t>(std::max_element(row, row + n) - row);
}

// Max |ours - golden| over the golden (id, logit) pairs of one position.
double max_diff_at(const float* row, const json& ids, const json& logits) {
  double d = 0.0;
  for (std::size_t k = 0; k < ids.size(); ++k)
    d = std::max(d, std::abs(static_cast<double>(row[ids[k].get<std::int32_t>()]) -
                             logits[k].get<double>()));
  return d;
}

// llama.cpp's logit for id at a step, or a note when id is outside the recorded top-k.
std::string golden_logit_text(const json& step, std::int32_t id) {
  const json& ids = step["top_ids"];
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (ids[k].get<std::int32_t>() == id)
      return std::to_string(step["top_logits"][k].get<double>());
  return "< " + std::to_string(step["top_logits"].back().get<double>()) + " (outside top-k)";
}

class GoldenTokensTest : public ::testing::TestWithParam<CaseParam> {};

TEST_P(GoldenTokensTest, MatchesLlamaCpp) {
  const GoldenFixture& fx = kFixtures[GetParam().fixture];
  const json& root = load_fixture(fx.json_file);
  const json& gc = root["cases"][GetParam().index];
  const std::string case_name = gc["name"].get<std::string>();
  ZINFER_REQUIRE_MODEL(model_path, root["model"]["file"].get<std::string>());
  ASSERT_EQ(std::filesystem::file_size(model_path), root["model"]["size"].get<std::uintmax_t>())
      << model_path << " is not the file the golden fixture was made from";

  Llm* llm = shared_model(model_path);
  ASSERT_NE(llm, nullptr);
  const std::int32_t n_vocab = llm->hparams().n_vocab;
  ASSERT_EQ(n_vocab, root["model"]["n_vocab"].get<std::int32_t>());

  // Tokenizer parity: same text → same ids as llama.cpp's tokenizer.
  const std::string text = gc["text"].get<std::string>();
  const auto prompt = gc["prompt_ids"].get<std::vector<std::int32_t>>();
  const tok::Tokenizer& tk = llm->tokenizer();
  EXPECT_EQ(tk.add_bos(), root["model"]["add_bos"].get<bool>());
  EXPECT_EQ(tk.encode(text, gc["add_special"].get<bool>(), gc["parse_special"].get<bool>()), prompt)
      << "tokenization of case " << case_name << " differs from llama.cpp";
  if (gc.contains("messages")) {
    std::vector<tok::ChatMessage> msgs;
    for (const json& m : gc["messages"])
      msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    auto rendered = tk.apply_chat_template(msgs, /*add_generation_prompt=*/true);
    if (rendered.ok()) {
      EXPECT_EQ(*rendered, text) << "chat template differs from the jinja2 rendering";
    } else {
      ADD_FAILURE() << "apply_chat_template: " << rendered.error().message;
    }
  }

  // Prefill with all logits: every prompt position against llama.cpp's top-k.
  sched::SequenceRunner run(*llm);
  auto pre = run.forward(0, prompt, /*all_logits=*/true);
  ASSERT_TRUE(pre.ok()) << pre.error().message;
  ASSERT_EQ(pre->size(), prompt.size() * static_cast<std::size_t>(n_vocab));
  std::vector<double> prompt_diffs;  // per position: max over the golden top-k ids
  for (std::size_t p = 0; p < prompt.size(); ++p)
    prompt_diffs.push_back(max_diff_at(pre->data() + p * n_vocab, gc["prompt_top_ids"][p],
                                       gc["prompt_top_logits"][p]));
  const double prompt_diff = *std::max_element(prompt_diffs.begin(), prompt_diffs.end());
  std::vector<float> row(pre->end() - n_vocab, pre->end());

  // Greedy decode, teacher-forced with the golden ids.
  const auto golden = gc["generated_ids"].get<std::vector<std::int32_t>>();
  const json& steps = gc["steps"];
  ASSERT_EQ(golden.size(), steps.size());
  double gen_diff = 0.0;
  std::vector<double> gen_diffs;
  std::size_t worst_step = 0;
  int mismatches = 0;
  int unexplained = 0;  // flips where llama.cpp itself was not nearly tied
  std::string first_mismatch;
  std::ostringstream all_mismatches;  // "step:golden/ours@margin" for the log
  for (std::size_t s = 0; s < golden.size(); ++s) {
    ASSERT_EQ(row.size(), static_cast<std::size_t>(n_vocab));
    for (float v : row) ASSERT_TRUE(std::isfinite(v)) << "non-finite logit at step " << s;
    const json& st = steps[s];
    double d = max_diff_at(row.data(), st["top_ids"], st["top_logits"]);
    gen_diffs.push_back(d);
    if (d > gen_diff) gen_diff = d, worst_step = s;
    const std::int32_t ours = argmax_first(row.data(), n_vocab);
    if (ours != golden[s]) {
      if (st["margin"].get<double>() > 2.0 * fx.median_tol) ++unexplained;
      all_mismatches << " " << s << ":" << golden[s] << "/" << ours << "@"
                     << st["margin"].get<double>();
      if (mismatches++ == 0) {
        std::ostringstream m;
        m << "first greedy mismatch in case " << case_name << " at step " << s << " (position "
          << prompt.size() + s << "): llama.cpp id " << golden[s] << " (llama.cpp logit "
          << golden_logit_text(st, golden[s]) << ", ours " << row[golden[s]] << ") vs our id "
          << ours << " (ours " << row[ours] << ", llama.cpp " << golden_logit_text(st, ours)
          << "); golden top-1/top-2 margin " << st["margin"].get<double>();
        first_mismatch = m.str();
      }
    }
    if (s + 1 == golden.size()) break;
    const std::int32_t next = golden[s];
    auto out = run.forward(0, std::span<const std::int32_t>(&next, 1), /*all_logits=*/false);
    ASSERT_TRUE(out.ok()) << "step " << s << ": " << out.error().message;
    row = std::move(out).value();
  }

  std::cout << "[ golden   ] " << GetParam().name << ": prompt " << prompt.size()
            << " tokens, |dlogit| over golden top-k: prompt pos0 " << prompt_diffs[0] << " median "
            << median(prompt_diffs) << " max " << prompt_diff << "; decode median "
            << median(gen_diffs) << " max " << gen_diff << " (step " << worst_step
            << "); greedy mismatches " << mismatches << "/" << golden.size()
            << (mismatches > 0 ? " (step:golden/ours@margin" + all_mismatches.str() + ")" : "")
            << "\n";
  // Strict token identity is held against transformers on the exact path (hf_golden_test).
  // Against llama.cpp both engines round activations to 8 bits, which makes each of them
  // flip near ties under any change of summation order (llama.cpp flips 13/640 SmolLM2 steps
  // between its own F16 and F32 KV modes). So here a flip must sit where llama.cpp's own
  // top-1/top-2 margin is within twice the median logit noise, and flips stay rare.
  EXPECT_EQ(unexplained, 0) << first_mismatch << " (" << mismatches << " mismatching steps)";
  EXPECT_LE(mismatches, static_cast<int>(golden.size()) / 6) << first_mismatch;
  EXPECT_LT(prompt_diffs[0], fx.first_pos_tol) << "prompt position 0 of case " << case_name;
  EXPECT_LT(median(prompt_diffs), fx.median_tol) << "prompt logits of case " << case_name;
  EXPECT_LT(median(gen_diffs), fx.median_tol) << "decode logits of case " << case_name;
  EXPECT_LT(prompt_diff, fx.max_tol) << "prompt logits of case " << case_name;
  EXPECT_LT(gen_diff, fx.max_tol) << "decode logits of case " << case_name << " at step "
                                  << worst_step;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTokensTest, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<CaseParam>& info) {
                           return info.param.name;
                         });

// The fixtures themselves must be present: a missing file would silently drop every case.
TEST(GoldenFixtures, Present) {
  for (const GoldenFixture& fx : kFixtures) {
    const json& j = load_fixture(fx.json_file);
    ASSERT_FALSE(j.is_null()) << "missing or unparsable tests/data/golden/" << fx.json_file;
    EXPECT_GE(j["cases"].size(), 8u) << fx.json_file;
  }
}

}  // namespace
}  // namespace zinfer
