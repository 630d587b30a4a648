// Logits processors: logit bias, penalties, temperature, top-k, top-p, min-p, and the
// candidate set the filtering stages operate on.
//
// ## Order of the chain
// The Sampler applies the stages in exactly this order (each sees the previous output):
//   1. logit bias          logit[id] += bias                          (dense logits)
//   2. repetition penalty  for each distinct id in the last penalty_last_n history
//                          tokens: logit > 0 ? logit / penalty : logit * penalty
//   3. presence/frequency  logit[id] -= fma(frequency, count, presence), count =
//                          occurrences (> 0) of id in the same window
//      (temperature == 0 stops here: greedy argmax, lowest id on ties)
//   4. temperature         logit = (logit - max) / T   (shift is softmax-invariant and
//                          keeps tiny T from overflowing)
//   5. top-k               keep the k largest (k <= 0 or k >= size: off)
//   6. top-p               keep the smallest prefix (largest first) whose cumulative
//                          probability, over the distribution left by 1-5, is >= p
//   7. min-p               keep ids with prob >= p * max prob, i.e. logit - max >= log p
//   8. softmax over the survivors and one draw (sampler.h)
// Filters 5-7 each keep at least one token. These are llama.cpp's sampler-chain
// semantics for each stage (its llama_sampler_{penalties,temp,top_k,top_p,min_p});
// the order (temperature before the truncations) is vLLM's.
//
// ## Ties
// Every ranking uses one strict total order, logit_desc: larger logit first, lower token
// id first among equal logits. So a filter that cuts through a run of equal logits keeps
// the lower ids, and results never depend on std::sort's instability.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/sample/sampling_params.h"

namespace zinfer::sample {

struct TokenLogit {
  std::int32_t id;
  float logit;
};

// The ranking every filter uses (see "Ties" above).
inline bool logit_desc(const TokenLogit& a, const TokenLogit& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// A set of surviving tokens. Filters only ever cut a prefix of the logit_desc order, so
// the set tracks how much of that order it has materialised: items [0, sorted) are in
// logit_desc order and rank above every later item; the rest are in no particular order.
// Large sets find a cut without sorting: one pass buckets the logits into a histogram
// (bucket boundaries are monotone in the logit), the cut's bucket is located from the
// bucket counts or weights, and only that bucket is sorted. Small sets sort lazily in
// growing chunks. Either way top-k/top-p cost O(V) plus a small sort, not the
// O(V log V) of sorting a 262k vocabulary.
class Candidates {
 public:
  // All ids 0..V-1 with their logits, in id order.
  void assign(std::span<const float> logits);
  // Arbitrary survivors (tests; ids must be distinct and in [0, vocab_size)).
  void assign(std::vector<TokenLogit> items, std::int32_t vocab_size);

  std::span<const TokenLogit> items() const { return items_; }
  std::span<TokenLogit> mutable_items() { return items_; }
  std::size_t size() const { return items_.size(); }
  std::size_t sorted_prefix() const { return sorted_; }
  float max_logit() const;
  // out[i] = exp(items()[i].logit - max_logit()), computed 8 lanes at a time.
  void weights(std::vector<float>& out) const;

  // Makes items [0, min(n, size)) the top of the logit_desc order, sorted.
  void sort_prefix(std::size_t n);
  // Keeps the top n (n >= 1) of the logit_desc order.
  void keep_top(std::size_t n);
  // Keeps the shortest prefix of the logit_desc order whose weight, with weight =
  // fixed_weight(exp_nonpositive(logit - max)) (sample_math.h: exact integer sums), reaches
  // fraction * total weight, compared as doubles (at least one item). The core of top-p.
  void keep_top_mass(double fraction);
  // Keeps items whose logit is >= threshold (a prefix of the order, never reorders).
  void keep_at_least(float threshold);
  // Puts the items back in ascending id order (a draw walks ids in order, so it does not
  // depend on how far the filters happened to sort).
  void sort_by_id();

 private:
  std::vector<TokenLogit> items_;
  std::vector<std::uint8_t> present_;  // scratch for sort_by_id on large sets
  std::vector<float> dense_;           // scratch for sort_by_id on large sets
  std::vector<std::uint16_t> bucket_;  // [size] histogram bucket per item
  std::vector<std::uint32_t> count_;   // [kBuckets] items per bucket
  std::vector<std::int64_t> mass_;     // [kBuckets] fixed-point weight per bucket
  std::vector<float> weight_;          // [size] exp(logit - max) per item
  std::vector<TokenLogit> boundary_;   // items of the bucket the cut falls in

  // Fills bucket_/count_ (and mass_ if with_mass); false when all logits are equal.
  bool build_histogram(bool with_mass);
  // Keeps items of buckets < b, then the first n items (logit_desc) of bucket b, where
  // n = take(sorted items of bucket b).
  template <typename Take>
  void cut_at_bucket(std::uint16_t b, Take take);
  std::size_t sorted_ = 0;
  std::int32_t vocab_size_ = 0;
  bool id_ordered_ = true;
};

// 1. logit_bias ids must already be in range (validate()).
void apply_logit_bias(std::span<float> logits,
                      std::span<const std::pair<std::int32_t, float>> logit_bias);

// The history window the penalties see: the last penalty_last_n tokens (-1: all, 0: none).
std::span<const std::int32_t> penalty_window(std::span<const std::int32_t> history,
                                             std::int32_t penalty_last_n);

// A distinct token id of the penalty window and how often it occurs there.
struct PenaltyCount {
  std::int32_t id;
  std::int32_t count;
};

// The distinct ids of penalty_window(history) with their counts, ascending by id; empty when
// the penalties are off. kInvalidParameter if a windowed history id is outside
// [0, vocab_size). The device sampler gets the same list (engine/backend/cuda/device_sampler).
Result<std::vector<PenaltyCount>> penalty_counts(std::span<const std::int32_t> history,
                                                 const SamplingParams& params,
                                                 std::int32_t vocab_size);

// 2 + 3 for one token seen `count` times: repetition (logit > 0 ? logit / penalty : logit *
// penalty), then logit - fma(frequency, count, presence). kernels/sample_rows.cu computes the
// same operations.
float penalized_logit(float logit, std::int32_t count, const SamplingParams& params);

// 2 + 3. Repetition, then presence/frequency penalties over penalty_window(history).
// kInvalidParameter if a windowed history id is outside [0, logits.size()).
Status apply_penalties(std::span<float> logits, std::span<const std::int32_t> history,
                       const SamplingParams& params);

// Greedy: index of the largest logit, the lowest index among ties. O(V).
std::int32_t argmax(std::span<const float> logits);

// 4. temperature > 0. (A temperature of 0 is the greedy path and never gets here; if it
// does, only the top token survives, as llama.cpp's temp sampler does for t <= 0.)
void apply_temperature(Candidates& c, float temperature);
// 5-7.
void apply_top_k(Candidates& c, std::int32_t k);
void apply_top_p(Candidates& c, float p);
void apply_min_p(Candidates& c, float p);

}  // namespace zinfer::sample
