// Logits processors and the Candidates set (order and semantics: logits_processor.h).
#include "engine/sample/logits_processor.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>
#include <string>

#include "engine/sample/vec_math.h"

namespace zinfer::sample {

// ---- Candidates --------------------------------------------------------------------

void Candidates::assign(std::span<const float> logits) {
  items_.resize(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    items_[i] = TokenLogit{static_cast<std::int32_t>(i), logits[i]};
  }
  vocab_size_ = static_cast<std::int32_t>(logits.size());
  sorted_ = 0;
  id_ordered_ = true;
}

void Candidates::assign(std::vector<TokenLogit> items, std::int32_t vocab_size) {
  items_ = std::move(items);
  vocab_size_ = vocab_size;
  sorted_ = 0;
  id_ordered_ =
      std::is_sorted(items_.begin(), items_.end(),
                     [](const TokenLogit& a, const TokenLogit& b) { return a.id < b.id; });
}

float Candidates::max_logit() const {
  if (sorted_ > 0) return items_[0].logit;
  float m = -std::numeric_limits<float>::infinity();
  for (const TokenLogit& t : items_) m = std::max(m, t.logit);
  return m;
}

void Candidates::weights(std::vector<float>& out) const {
  out.resize(items_.size());
  for (std::size_t i = 0; i < items_.size(); ++i) out[i] = items_[i].logit;
  exp_shifted(out, max_logit(), out.data());
}

void Candidates::sort_prefix(std::size_t n) {
  n = std::min(n, items_.size());
  if (n <= sorted_) return;
  const auto first = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  const auto mid = items_.begin() + static_cast<std::ptrdiff_t>(n);
  // Select the next (n - sorted_) best in O(remaining), then sort only those.
  if (mid != items_.end()) std::nth_element(first, mid, items_.end(), logit_desc);
  std::sort(first, mid, logit_desc);
  sorted_ = n;
  id_ordered_ = false;
}

namespace {

// Sets smaller than this sort in chunks; larger ones use the histogram.
constexpr std::size_t kHistogramMinItems = 4096;
constexpr int kBuckets = 4096;

}  // namespace

bool Candidates::build_histogram(bool with_mass) {
  float max = -std::numeric_limits<float>::infinity();
  float min = std::numeric_limits<float>::infinity();
  for (const TokenLogit& t : items_) {
    max = t.logit > max ? t.logit : max;
    // Masked (-inf) tokens stay out of the range; they clamp into the last bucket.
    min = (t.logit < min && t.logit > -std::numeric_limits<float>::infinity()) ? t.logit : min;
  }
  if (!(max > min)) return false;
  // (max - logit) * scale is monotone in the logit, so bucket order never contradicts
  // logit order: every item of bucket b outranks every item of bucket b + 1.
  const float scale = static_cast<float>(kBuckets - 1) / (max - min);
  constexpr auto kLast = static_cast<float>(kBuckets - 1);
  bucket_.resize(items_.size());
  count_.assign(kBuckets, 0);
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const float f = (max - items_[i].logit) * scale;
    const auto b = static_cast<std::uint16_t>(f < kLast ? f : kLast);
    bucket_[i] = b;
    ++count_[b];
  }
  if (with_mass) {
    mass_.assign(kBuckets, 0);
    weights(weight_);
    for (std::size_t i = 0; i < items_.size(); ++i) mass_[bucket_[i]] += fixed_weight(weight_[i]);
  }
  return true;
}

template <typename Take>
void Candidates::cut_at_bucket(std::uint16_t b, Take take) {
  boundary_.clear();
  std::size_t w = 0;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (bucket_[i] < b) {
      items_[w++] = items_[i];
    } else if (bucket_[i] == b) {
      boundary_.push_back(items_[i]);
    }
  }
  items_.resize(w);
  std::sort(boundary_.begin(), boundary_.end(), logit_desc);
  const std::size_t n =
      std::min<std::size_t>(take(std::span<const TokenLogit>(boundary_)), boundary_.size());
  items_.insert(items_.end(), boundary_.begin(),
                boundary_.begin() + static_cast<std::ptrdiff_t>(n));
  sorted_ = w == 0 ? items_.size() : 0;
  id_ordered_ = false;
}

void Candidates::keep_top(std::size_t n) {
  assert(n >= 1);
  if (n >= items_.size()) return;
  if (n <= sorted_) {
    items_.resize(n);
    sorted_ = n;
    return;
  }
  if (items_.size() >= kHistogramMinItems && build_histogram(/*with_mass=*/false)) {
    std::size_t before = 0;
    std::uint16_t b = 0;
    while (before + count_[b] < n) before += count_[b++];
    cut_at_bucket(b, [&](std::span<const TokenLogit>) { return n - before; });
    return;
  }
  const auto first = items_.begin() + static_cast<std::ptrdiff_t>(sorted_);
  std::nth_element(first, items_.begin() + static_cast<std::ptrdiff_t>(n), items_.end(),
                   logit_desc);
  id_ordered_ = false;
  items_.resize(n);
}

void Candidates::keep_top_mass(double fraction) {
  if (items_.size() <= 1) return;
  const float max = max_logit();
  // Masses are exact integer sums (sample_math.h), so the cut does not depend on the order
  // the weights are added in; a prefix reaches the target when its mass, as a double, does.
  if (items_.size() >= kHistogramMinItems && build_histogram(/*with_mass=*/true)) {
    std::int64_t total = 0;
    for (const std::int64_t m : mass_) total += m;
    const double target = fraction * static_cast<double>(total);
    std::int64_t before = 0;
    int b = 0;
    while (b < kBuckets && static_cast<double>(before + mass_[b]) < target) before += mass_[b++];
    if (b == kBuckets) return;  // cannot happen for fraction <= 1; keep everything
    cut_at_bucket(static_cast<std::uint16_t>(b), [&](std::span<const TokenLogit> sorted) {
      std::int64_t cumulative = before;
      for (std::size_t i = 0; i < sorted.size(); ++i) {
        cumulative += fixed_weight(exp_nonpositive(sorted[i].logit - max));
        if (static_cast<double>(cumulative) >= target) return i + 1;
      }
      return sorted.size();
    });
    return;
  }
  std::int64_t total = 0;
  for (const TokenLogit& t : items_) total += fixed_weight(exp_nonpositive(t.logit - max));
  const double target = fraction * static_cast<double>(total);
  // Walk the ranking in growing chunks: the nucleus is usually a few dozen tokens.
  std::int64_t cumulative = 0;
  std::size_t walked = 0;
  std::size_t chunk = 64;
  while (walked < items_.size()) {
    sort_prefix(walked + chunk);
    for (; walked < sorted_; ++walked) {
      cumulative += fixed_weight(exp_nonpositive(items_[walked].logit - max));
      if (static_cast<double>(cumulative) >= target) {
        keep_top(walked + 1);
        return;
      }
    }
    chunk *= 4;
  }
}

void Candidates::keep_at_least(float threshold) {
  // Stable in-place compaction, so the sorted prefix stays sorted and id order stays id
  // order; the sorted survivors are exactly a prefix of the old sorted prefix.
  std::size_t sorted_kept = 0;
  for (std::size_t i = 0; i < sorted_ && items_[i].logit >= threshold; ++i) ++sorted_kept;
  std::size_t w = 0;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].logit >= threshold) items_[w++] = items_[i];
  }
  items_.resize(w);
  sorted_ = sorted_kept;
}

void Candidates::sort_by_id() {
  if (id_ordered_) return;
  const std::size_t n = items_.size();
  const auto by_id = [](const TokenLogit& a, const TokenLogit& b) { return a.id < b.id; };
  if (n * static_cast<std::size_t>(std::bit_width(n)) <= static_cast<std::size_t>(vocab_size_)) {
    std::sort(items_.begin(), items_.end(), by_id);
  } else {
    // Many survivors: a counting pass over the vocabulary is cheaper than a sort.
    present_.assign(static_cast<std::size_t>(vocab_size_), 0);
    dense_.resize(static_cast<std::size_t>(vocab_size_));
    for (const TokenLogit& t : items_) {
      present_[static_cast<std::size_t>(t.id)] = 1;
      dense_[static_cast<std::size_t>(t.id)] = t.logit;
    }
    std::size_t k = 0;
    for (std::int32_t id = 0; id < vocab_size_; ++id) {
      if (present_[static_cast<std::size_t>(id)]) {
        items_[k++] = TokenLogit{id, dense_[static_cast<std::size_t>(id)]};
      }
    }
  }
  sorted_ = n <= 1 ? n : 0;
  id_ordered_ = true;
}

// ---- dense-logit stages (1-3) and greedy ----------------------------------------------

void apply_logit_bias(std::span<float> logits,
                      std::span<const std::pair<std::int32_t, float>> logit_bias) {
  for (const auto& [id, bias] : logit_bias) {
    assert(id >= 0 && static_cast<std::size_t>(id) < logits.size());
    logits[static_cast<std::size_t>(id)] += bias;
  }
}

std::span<const std::int32_t> penalty_window(std::span<const std::int32_t> history,
                                             std::int32_t penalty_last_n) {
  if (penalty_last_n < 0) return history;
  const std::size_t n = std::min(history.size(), static_cast<std::size_t>(penalty_last_n));
  return history.subspan(history.size() - n);
}

Result<std::vector<PenaltyCount>> penalty_counts(std::span<const std::int32_t> history,
                                                 const SamplingParams& params,
                                                 std::int32_t vocab_size) {
  std::vector<PenaltyCount> counts;
  const bool repetition = params.repetition_penalty != 1.0f;
  const bool additive = params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f;
  if (!repetition && !additive) return counts;
  const std::span<const std::int32_t> window = penalty_window(history, params.penalty_last_n);
  if (window.empty()) return counts;

  const std::size_t offset = history.size() - window.size();
  for (std::size_t i = 0; i < window.size(); ++i) {
    if (window[i] < 0 || window[i] >= vocab_size) {
      return make_error(ErrorCode::kInvalidParameter,
                        "history[" + std::to_string(offset + i) + "] token id " +
                            std::to_string(window[i]) + " out of range [0, " +
                            std::to_string(vocab_size) + ")");
    }
  }
  // Windows are short (penalty_last_n defaults to 64): sorting a copy to count
  // occurrences beats hashing, and each distinct id appears exactly once.
  std::vector<std::int32_t> ids(window.begin(), window.end());
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    counts.push_back(PenaltyCount{ids[i], static_cast<std::int32_t>(j - i)});
    i = j;
  }
  return counts;
}

float penalized_logit(float logit, std::int32_t count, const SamplingParams& params) {
  // This file is compiled with -ffp-contract=off (engine/CMakeLists.txt): the product below
  // is rounded before the subtraction, as kernels/sample_rows.cu computes it.
  if (params.repetition_penalty != 1.0f) {
    logit = logit > 0.0f ? logit / params.repetition_penalty : logit * params.repetition_penalty;
  }
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    logit = logit -
            std::fma(params.frequency_penalty, static_cast<float>(count), params.presence_penalty);
  }
  return logit;
}

Status apply_penalties(std::span<float> logits, std::span<const std::int32_t> history,
                       const SamplingParams& params) {
  ZINFER_ASSIGN_OR_RETURN(
      const std::vector<PenaltyCount> counts,
      penalty_counts(history, params, static_cast<std::int32_t>(logits.size())));
  for (const PenaltyCount& c : counts) {
    float& logit = logits[static_cast<std::size_t>(c.id)];
    logit = penalized_logit(logit, c.count, params);
  }
  return ok_status();
}

std::int32_t argmax(std::span<const float> logits) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;  // strict: the first maximum wins ties
  }
  return static_cast<std::int32_t>(best);
}

// ---- candidate stages (4-7) ----------------------------------------------------------

void apply_temperature(Candidates& c, float temperature) {
  if (c.size() == 0) return;
  if (!(temperature > 0.0f)) {
    c.keep_top(1);
    return;
  }
  const float max = c.max_logit();
  for (TokenLogit& t : c.mutable_items()) t.logit = (t.logit - max) / temperature;
}

void apply_top_k(Candidates& c, std::int32_t k) {
  if (k <= 0) return;
  c.keep_top(static_cast<std::size_t>(k));
}

void apply_top_p(Candidates& c, float p) {
  if (!(p < 1.0f)) return;
  c.keep_top_mass(static_cast<double>(p));
}

void apply_min_p(Candidates& c, float p) {
  if (!(p > 0.0f) || c.size() <= 1) return;
  // prob_i / prob_max = exp(logit_i - max) >= p  <=>  logit_i >= max + log p. The max
  // always passes, so at least one token survives.
  c.keep_at_least(c.max_logit() + std::log(p));
}

}  // namespace zinfer::sample
