// launch_sample_rows: the host Sampler's chain (engine/sample/sampler.h) on the device, one
// block per sampled row of a logits matrix: raw log-softmax statistics and the top-n raw
// logprobs, logit bias and penalties, then greedy argmax or temperature / top-k / top-p /
// min-p and one Philox draw keyed by (seed, position). Only the results come back.
//
// Exactness: for the same logits, parameters, penalty counts and position the token equals
// the host Sampler's. Every float operation that decides a token is the host's
// (sample_math.h: exp_nonpositive with explicit fmas, fixed-point weights whose sums are exact
// integers; __fadd_rn / __fdiv_rn / __fmul_rn where the host rounds each step), ranks use the
// same total order (larger value first, lower id on ties), and the top-k / top-p cuts are found
// without sorting: histograms of value bins, then digits of the order-preserving bits of the
// values within the bin that holds the cut (sample_rank_cut.cuh). Logprobs
// (log-softmax of the raw logits) use a different summation order: within ~1e-6 of the host.
//
// Two kernels: the raw pass (NaN check, argmax, log-sum-exp) over slices of 8192 logits, one
// block each, so greedy decoding at batch 1 uses many SMs; then one block per row combines the
// slices in slice order and runs the rest. Deterministic and batch-invariant: a row's blocks
// read only its row and parameters, the slicing depends only on the vocabulary, every float
// reduction has a fixed order, and the only atomics are integer histogram adds (exact in any
// order) and the collection of the top-n ids, which are then sorted.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/core/error.h"
#include "kernels/matrix_view.h"

namespace zinfer::cuda {

inline constexpr int kSampleMaxTopLogprobs = 20;
// Fixed-point masses stay exact below 2^23 tokens (engine/sample/sample_math.h).
inline constexpr std::int64_t kSampleMaxVocab = std::int64_t{1} << 23;

// One row to sample, as the host Sampler reads its SamplingParams.
struct SampleRowParams {
  std::int32_t logit_row = 0;       // row of the logits matrix (distinct per request)
  float temperature = 0.0f;         // 0 → greedy
  std::int32_t top_k = 0;           // ≤ 0 or ≥ vocab → off
  float top_p = 1.0f;               // ≥ 1 → off
  std::int32_t min_p_on = 0;        // min_p > 0
  float log_min_p = 0.0f;           // std::log(min_p), computed on the host like apply_min_p
  float repetition_penalty = 1.0f;  // 1 → off
  float presence_penalty = 0.0f;    // 0 → off (with frequency_penalty)
  float frequency_penalty = 0.0f;   //
  std::int32_t top_logprobs = 0;    // 0..kSampleMaxTopLogprobs
  std::uint64_t seed = 0;           // Philox key
  std::uint64_t position = 0;       // Philox counter: the token's index among the job's tokens
  std::int32_t bias_begin = 0;      // this row's logit-bias entries in SampleRowsArgs' arrays
  std::int32_t bias_count = 0;      //   (applied in order; ids may repeat)
  std::int32_t penalty_begin = 0;   // this row's penalty entries: distinct ids with counts
  std::int32_t penalty_count = 0;   //   (sample::penalty_counts)
};

enum class SampleRowStatus : std::int32_t {
  kOk = 0,
  kBadLogit = 1,                 // a raw logit is NaN or +inf (detail: its index)
  kAllMasked = 2,                // every raw logit is -inf
  kOverflow = 3,                 // bias/penalties made a logit NaN or +inf (detail: token id)
  kAllMaskedAfterPenalties = 4,  // seeded: every logit -inf after bias/penalties
  kInternal = 5,                 // a broken invariant of the kernel (bad row, selection failed)
};

struct SampleRowResult {
  std::int32_t status = 0;  // SampleRowStatus
  std::int32_t token = 0;
  std::int32_t detail = 0;      // see SampleRowStatus
  std::int32_t detail_nan = 0;  // kBadLogit: 1 if NaN, 0 if +inf
  float logprob = 0.0f;         // raw log-softmax of the token
  std::int32_t n_top = 0;       // entries of top_ids / top_logprobs
  std::int32_t top_ids[kSampleMaxTopLogprobs] = {};
  float top_logprobs[kSampleMaxTopLogprobs] = {};  // descending, lower id first on ties
};

struct SampleRowsArgs {
  MatrixView logits;                             // [rows][vocab]; sampled rows are edited in place
  const SampleRowParams* params = nullptr;       // [n] device
  std::int32_t n = 0;                            // rows to sample, ≤ 65535
  const std::int32_t* bias_ids = nullptr;        // [Σ bias_count] device
  const float* bias_values = nullptr;            // [Σ bias_count]
  float* bias_raw = nullptr;                     // [Σ bias_count] scratch: raw logit of each entry
  const std::int32_t* penalty_ids = nullptr;     // [Σ penalty_count] device
  const std::int32_t* penalty_counts = nullptr;  // [Σ penalty_count]
  float* penalty_raw = nullptr;                  // [Σ penalty_count] scratch
  SampleRowResult* results = nullptr;            // [n] device
  void* stats = nullptr;  // scratch of sample_rows_stats_bytes(vocab, n) bytes, device
};

// Bytes of SampleRowsArgs::stats: the raw pass over a row is split over blocks of 8192 logits
// whose partial results (argmax key, NaN index, max, sum of exp) are combined in block order.
std::size_t sample_rows_stats_bytes(std::int64_t vocab, std::int32_t n);

// kInvalidParameter for a vocabulary outside [1, kSampleMaxVocab) or n outside [0, 65535].
// Parameters are trusted (the host validated them: sample::validate, penalty_counts).
Status launch_sample_rows(const SampleRowsArgs& args, cudaStream_t stream);

}  // namespace zinfer::cuda
