// Each logits processor on small vectors whose expected outputs are worked out by hand
// (numbers in comments; softmax values from numpy).
#include "engine/sample/logits_processor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

namespace zinfer::sample {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::set<std::int32_t> ids_of(const Candidates& c) {
  std::set<std::int32_t> ids;
  for (const TokenLogit& t : c.items()) ids.insert(t.id);
  return ids;
}

// Candidates whose logits are log(probs): softmax recovers the probabilities exactly
// enough for thresholds that are not placed on a boundary.
Candidates from_probs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (const double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  Candidates c;
  c.assign(logits);
  return c;
}

TEST(LogitBias, AddsEveryEntryIncludingRepeats) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<std::pair<std::int32_t, float>> bias = {{0, 0.5f}, {3, -10.0f}, {0, 0.25f}};
  apply_logit_bias(logits, bias);
  EXPECT_EQ(logits, (std::vector<float>{1.75f, 2.0f, 3.0f, -6.0f}));
}

TEST(RepetitionPenalty, DividesPositiveMultipliesNegativeWithinWindow) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.penalty_last_n = 3;
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};
  const std::vector<std::int32_t> history = {0, 1, 1, 5, 4};
  // Window = {1, 5, 4}: 1: -1*2; 5: 0*2; 4: -2*2. Token 0 fell out of the window and
  // token 1's two occurrences (one outside) still count once.
  ASSERT_TRUE(apply_penalties(logits, history, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -2.0f, 0.5f, 3.0f, -4.0f, 0.0f}));

  p.penalty_last_n = -1;  // whole history: token 0 too, 2 / 2
  logits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};
  ASSERT_TRUE(apply_penalties(logits, history, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f, -4.0f, 0.0f}));

  p.penalty_last_n = 0;  // disabled
  logits = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f};
  ASSERT_TRUE(apply_penalties(logits, history, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 0.0f}));
}

TEST(PresenceFrequencyPenalty, SubtractsPresenceOnceAndFrequencyPerCount) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.penalty_last_n = -1;
  std::vector<float> logits = {1.0f, 1.0f, 1.0f, 1.0f};
  // Token 2 seen 3x: 1 - 0.5 - 3*0.25 = -0.25. Token 0 seen once: 1 - 0.5 - 0.25 = 0.25.
  ASSERT_TRUE(apply_penalties(logits, std::vector<std::int32_t>{2, 2, 2, 0}, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{0.25f, 1.0f, -0.25f, 1.0f}));

  // Negative values reward repeats (OpenAI semantics allow [-2, 2]).
  p.presence_penalty = -1.0f;
  p.frequency_penalty = 0.0f;
  logits = {1.0f, 1.0f};
  ASSERT_TRUE(apply_penalties(logits, std::vector<std::int32_t>{1}, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 2.0f}));
}

TEST(Penalties, RepetitionComesBeforePresence) {
  SamplingParams p;
  p.repetition_penalty = 1.5f;
  p.presence_penalty = 1.0f;
  std::vector<float> logits = {3.0f, -3.0f};
  // 3 / 1.5 - 1 = 1 (the other order would give 4/3); -3 * 1.5 - 1 = -5.5.
  ASSERT_TRUE(apply_penalties(logits, std::vector<std::int32_t>{0, 1}, p).ok());
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -5.5f}));
}

TEST(Penalties, RejectsHistoryIdOutOfRange) {
  SamplingParams p;
  p.repetition_penalty = 1.1f;
  std::vector<float> logits = {0.0f, 0.0f, 0.0f};
  const Status s = apply_penalties(logits, std::vector<std::int32_t>{0, 1, 7}, p);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(s.error().message, "history[2] token id 7 out of range [0, 3)");
}

TEST(Argmax, LowestIndexWinsTies) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 5.0f, 5.0f, 2.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{7.0f, 7.0f, 7.0f}), 0);
  EXPECT_EQ(argmax(std::vector<float>{-kInf, -kInf, -3.0f}), 2);
  EXPECT_EQ(argmax(std::vector<float>{-1.0f, -2.0f, -1.0f}), 0);
}

TEST(Temperature, ScalesRelativeToMax) {
  Candidates c;
  c.assign(std::vector<float>{1.0f, 2.0f, 4.0f, -kInf});
  apply_temperature(c, 0.5f);
  // (l - 4) / 0.5 = {-6, -4, 0, -inf}; softmax = numpy softmax([2, 4, 8]) plus a 0.
  const auto items = c.items();
  EXPECT_FLOAT_EQ(items[0].logit, -6.0f);
  EXPECT_FLOAT_EQ(items[1].logit, -4.0f);
  EXPECT_FLOAT_EQ(items[2].logit, 0.0f);
  EXPECT_EQ(items[3].logit, -kInf);
  double z = 0;
  for (const TokenLogit& t : items) z += std::exp(t.logit);
  EXPECT_NEAR(std::exp(items[0].logit) / z, 0.00242826, 1e-7);
  EXPECT_NEAR(std::exp(items[1].logit) / z, 0.01794253, 1e-7);
  EXPECT_NEAR(std::exp(items[2].logit) / z, 0.97962921, 1e-7);
}

TEST(TopK, KeepsLargestWithLowerIdOnTies) {
  const std::vector<float> logits = {0.1f, 3.0f, 2.0f, 3.0f, -1.0f};
  Candidates c;
  c.assign(logits);
  apply_top_k(c, 2);
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{1, 3}));
  c.assign(logits);
  apply_top_k(c, 1);  // 1 and 3 tie at 3.0: the lower id survives
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{1}));
  c.assign(std::vector<float>{5.0f, 1.0f, 1.0f, 1.0f, 0.0f});
  apply_top_k(c, 3);  // cut through the run of 1.0s keeps ids 1, 2
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 1, 2}));
  c.assign(logits);
  apply_top_k(c, 0);  // off
  EXPECT_EQ(c.size(), 5u);
  c.assign(logits);
  apply_top_k(c, 1000);  // k > vocab: everything
  EXPECT_EQ(c.size(), 5u);
}

TEST(TopP, KeepsSmallestPrefixReachingP) {
  // Ranked: 0 (0.5), 2 (0.3), 1 (0.1), 3 (0.1).
  const std::vector<double> probs = {0.5, 0.1, 0.3, 0.1};
  Candidates c = from_probs(probs);
  apply_top_p(c, 0.7f);  // 0.5 < 0.7 <= 0.8
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 2}));
  c = from_probs(probs);
  apply_top_p(c, 0.85f);  // 0.8 < 0.85 <= 0.9: the 0.1 tie goes to the lower id
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 2, 1}));
  c = from_probs(probs);
  apply_top_p(c, 0.3f);  // first token alone reaches p
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0}));
  c = from_probs(probs);
  apply_top_p(c, 1e-6f);  // at least one kept
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0}));
  c = from_probs(probs);
  apply_top_p(c, 1.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(TopP, SeesDistributionRenormalisedByTopK) {
  // probs {0.4, 0.3, 0.2, 0.1}; after top-k 2: {0.571, 0.429}, so p = 0.55 keeps one
  // token, while without top-k 0.4 < 0.55 would keep two.
  const std::vector<double> probs = {0.4, 0.3, 0.2, 0.1};
  Candidates c = from_probs(probs);
  apply_top_k(c, 2);
  apply_top_p(c, 0.55f);
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0}));
  c = from_probs(probs);
  apply_top_p(c, 0.55f);
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 1}));
}

TEST(TopP, LargeVocabularyMatchesFullSortReference) {
  // A vocabulary big enough that the nucleus spans several sort chunks.
  constexpr int kVocab = 20000;
  std::vector<float> logits(kVocab);
  std::uint32_t state = 12345;
  for (float& l : logits) {
    state = state * 1664525u + 1013904223u;  // LCG; only needs to be deterministic
    l = static_cast<float>(state >> 8) / 16777216.0f * 6.0f;
  }
  for (const float p : {0.05f, 0.5f, 0.9f, 0.999f}) {
    // Reference: full sort by (logit desc, id asc), accumulate until >= p.
    std::vector<std::int32_t> order(kVocab);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    const float max = logits[order[0]];
    double total = 0;
    for (const float l : logits) total += std::exp(static_cast<double>(l - max));
    double cum = 0;
    std::set<std::int32_t> expected;
    for (const std::int32_t id : order) {
      expected.insert(id);
      cum += std::exp(static_cast<double>(logits[id] - max));
      if (cum >= p * total) break;
    }
    Candidates c;
    c.assign(logits);
    apply_top_p(c, p);
    EXPECT_EQ(ids_of(c), expected) << "p=" << p;
    EXPECT_GT(expected.size(), p < 0.1f ? 100u : 1000u);  // really spans chunks
  }
}

// Full-sort reference for the top n by (logit desc, id asc).
std::set<std::int32_t> reference_top(const std::vector<float>& logits, std::size_t n) {
  std::vector<std::int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  return std::set<std::int32_t>(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(TopK, LargeVocabularyWithHeavyTiesMatchesFullSortReference) {
  // 30000 tokens over 37 distinct logits (and some masked): every cut lands inside a run
  // of ties, which must resolve to the lower ids, in the histogram path too.
  std::vector<float> logits(30000);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    logits[i] = i % 101 == 0 ? -kInf : static_cast<float>((i * 7919) % 37) * 0.25f - 3.0f;
  }
  for (const std::int32_t k : {1, 5, 811, 812, 813, 5000, 29000, 29999}) {
    Candidates c;
    c.assign(logits);
    apply_top_k(c, k);
    ASSERT_EQ(c.size(), static_cast<std::size_t>(k));
    EXPECT_EQ(ids_of(c), reference_top(logits, static_cast<std::size_t>(k))) << "k=" << k;
  }
}

TEST(TopP, LargeVocabularyWithTiesKeepsAPrefixOfTheRanking) {
  std::vector<float> logits(30000);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    logits[i] = static_cast<float>((i * 7919) % 23) * 0.2f;
  }
  for (const float p : {0.01f, 0.3f, 0.77f}) {
    Candidates c;
    c.assign(logits);
    apply_top_p(c, p);
    // Whatever the size, the survivors must be exactly the top-|kept| of the ranking.
    EXPECT_EQ(ids_of(c), reference_top(logits, c.size())) << "p=" << p;
    // And the mass of the kept set reaches p while the set minus its last token does not.
    std::vector<double> w;
    for (const float l : logits) w.push_back(std::exp(static_cast<double>(l) - 4.4));
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    double kept = 0;
    double smallest = 1e300;
    for (const std::int32_t id : ids_of(c)) {
      kept += w[static_cast<std::size_t>(id)];
      smallest = std::min(smallest, w[static_cast<std::size_t>(id)]);
    }
    EXPECT_GE(kept, p * total * (1 - 1e-6));
    EXPECT_LT(kept - smallest, p * total);
  }
}

TEST(MinP, KeepsTokensAboveFractionOfMax) {
  // probs {0.5, 0.2, 0.05, 0.25}, min_p 0.45: threshold 0.225 keeps 0.5 and 0.25.
  const std::vector<double> probs = {0.5, 0.2, 0.05, 0.25};
  Candidates c = from_probs(probs);
  apply_min_p(c, 0.45f);
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 3}));
  c = from_probs(probs);
  apply_min_p(c, 1.0f);  // only the max
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0}));
  c = from_probs({0.4, 0.2, 0.4});
  apply_min_p(c, 1.0f);  // tied maxima both survive
  EXPECT_EQ(ids_of(c), (std::set<std::int32_t>{0, 2}));
  c = from_probs(probs);
  apply_min_p(c, 0.0f);  // off
  EXPECT_EQ(c.size(), 4u);
}

TEST(Candidates, SortByIdRestoresIdOrderAfterFiltering) {
  std::vector<float> logits(5000);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 7919) % 5000);
  for (const std::size_t keep : {std::size_t{3}, std::size_t{4000}}) {  // sort and counting paths
    Candidates c;
    c.assign(logits);
    c.keep_top(keep);
    c.sort_by_id();
    ASSERT_EQ(c.size(), keep);
    for (std::size_t i = 1; i < c.size(); ++i) ASSERT_LT(c.items()[i - 1].id, c.items()[i].id);
    for (const TokenLogit& t : c.items()) {
      ASSERT_EQ(t.logit, logits[static_cast<std::size_t>(t.id)]);
      ASSERT_GE(t.logit, static_cast<float>(5000 - keep));
    }
  }
}

}  // namespace
}  // namespace zinfer::sample
