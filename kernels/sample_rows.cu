// row_stats_kernel and sample_rows_kernel: sampling on the device (see sample_rows.h).
//
// Per row: (A) one pass over the raw logits, in slices of 8192 (row_stats_kernel): NaN/+inf
// check, the argmax rank key and an online log-sum-exp for the logprobs; the rest is
// sample_rows_kernel, one block of 1024 threads per row: the slices combined in order, the
// top-n raw logprobs by radix selection. (B) logit bias
// (one thread, in list order, as the host adds repeated ids) and penalties (distinct ids, in
// parallel), recording raw values first. (C) greedy: the largest rank key. (D) seeded: the
// chain on scaled = (logit - max) / T, recomputed from the row in every pass: the top-k and
// top-p cuts as rank-key thresholds (sample_rank_cut.cuh: two passes each in the usual case,
// counts for top-k, fixed-point masses for top-p, ties resolved in id order), min-p as a value
// threshold, then the inverse-CDF draw as an exact integer prefix sum in id order: sums per warp
// range of ids (taken along the last cut's second pass when it can), then one walk of the range
// where the sum crosses (sample_block.cuh).
#include <algorithm>
#include <cfloat>
#include <climits>
#include <string>

#include "engine/sample/philox.h"
#include "engine/sample/sample_math.h"
#include "kernels/cuda_check.h"
#include "kernels/pdl.h"
#include "kernels/sample_block.cuh"
#include "kernels/sample_rank_cut.cuh"
#include "kernels/sample_rows.h"

namespace zinfer::cuda {
namespace {

using namespace sample_detail;  // NOLINT(google-build-using-namespace)

// penalized_logit (engine/sample/logits_processor.cpp) with every rounding explicit.
__device__ float penalized(float x, int count, const SampleRowParams& p) {
  if (p.repetition_penalty != 1.0f) {
    x = x > 0.0f ? __fdiv_rn(x, p.repetition_penalty) : __fmul_rn(x, p.repetition_penalty);
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    x = __fsub_rn(x, fmaf(p.frequency_penalty, static_cast<float>(count), p.presence_penalty));
  }
  return x;
}

__device__ void fail(SampleRowResult* out, SampleRowStatus status, int detail, int detail_nan) {
  if (threadIdx.x == 0) {
    out->status = static_cast<std::int32_t>(status);
    out->token = 0;
    out->detail = detail;
    out->detail_nan = detail_nan;
    out->n_top = 0;
  }
}

// One slice of a row's raw pass. Empty threads and slices are neutral: best 0 (no key),
// bad INT_MAX, max -inf, sum 0.
struct RowStats {
  unsigned long long best = 0;  // the largest rank key
  double sum = 0.0;             // Σ exp(x - max) over the finite logits
  float max = -__builtin_huge_valf();
  int bad = INT_MAX;  // the first NaN/+inf index
};

constexpr int kSliceLogits = 8192;

__host__ __device__ int stat_slices(int vocab) { return (vocab + kSliceLogits - 1) / kSliceLogits; }

// Grid (slices, rows): the raw pass over logits [slice * 8192, +8192) of one row.
struct StatsShared {
  unsigned long long u64[kWarps];
  double f64[kWarps];
  float f32[kWarps];
  int i32[kWarps];
};

__global__ void __launch_bounds__(kThreads) row_stats_kernel(SampleRowsArgs a) {
  __shared__ StatsShared s;
  pdl_wait();
  pdl_launch_dependents();
  const SampleRowParams& p = a.params[blockIdx.y];
  const int vocab = static_cast<int>(a.logits.cols);
  RowStats r;
  if (p.logit_row >= 0 && p.logit_row < a.logits.rows) {
    const float* row = a.logits.data + static_cast<long long>(p.logit_row) * a.logits.stride;
    const float inf = pos_inf();
    const int begin = static_cast<int>(blockIdx.x) * kSliceLogits;
    const int end = min(begin + kSliceLogits, vocab);
    float m_t = -inf;
    double s_t = 0.0;
    // The slice's logits of this thread loaded up front (several loads in flight), then
    // taken in the same order as one at a time.
    constexpr int kPerThread = kSliceLogits / kThreads;
    float xs[kPerThread];
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int i = begin + static_cast<int>(threadIdx.x) + u * kThreads;
      xs[u] = i < end ? row[i] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kPerThread; ++u) {
      const int i = begin + static_cast<int>(threadIdx.x) + u * kThreads;
      if (i >= end) break;
      const float x = xs[u];
      if (!(x < inf)) {
        r.bad = min(r.bad, i);
        continue;
      }
      r.best = max(r.best, rank_key(x, i));
      if (x > m_t) {  // online log-sum-exp: rescale when the max grows
        s_t = s_t * static_cast<double>(expf(m_t - x)) + 1.0;
        m_t = x;
      } else if (x > -inf) {
        s_t += static_cast<double>(expf(x - m_t));
      }
    }
    r.bad = block_all_reduce(r.bad, s.i32, [](int u, int v) { return min(u, v); });
    r.best = block_all_reduce(r.best, s.u64,
                              [](unsigned long long u, unsigned long long v) { return max(u, v); });
    r.max = block_all_reduce(m_t, s.f32, [](float u, float v) { return fmaxf(u, v); });
    const double part = m_t == -inf ? 0.0 : s_t * exp(static_cast<double>(m_t) - r.max);
    r.sum = block_all_reduce(part, s.f64, [](double u, double v) { return u + v; });
  }
  if (threadIdx.x == 0) {
    static_cast<RowStats*>(a.stats)[blockIdx.y * stat_slices(vocab) + blockIdx.x] = r;
  }
}

__global__ void __launch_bounds__(kThreads) sample_rows_kernel(SampleRowsArgs a) {
  __shared__ SampleShared s;
  pdl_wait();
  pdl_launch_dependents();
  const SampleRowParams p = a.params[blockIdx.x];
  SampleRowResult* out = a.results + blockIdx.x;
  const int vocab = static_cast<int>(a.logits.cols);
  const int tid = static_cast<int>(threadIdx.x);
  if (p.logit_row < 0 || p.logit_row >= a.logits.rows) {
    fail(out, SampleRowStatus::kInternal, p.logit_row, 0);
    return;
  }
  float* row = a.logits.data + static_cast<long long>(p.logit_row) * a.logits.stride;
  const float inf = pos_inf();

  // ---- A. raw statistics: the slices' partial results, combined in slice order -----------
  const int n_slices = stat_slices(vocab);
  const RowStats* stats = static_cast<const RowStats*>(a.stats) + blockIdx.x * n_slices;
  RowStats mine;
  if (tid < n_slices) mine = stats[tid];
  unsigned long long best = mine.best;
  const int bad = block_all_reduce(mine.bad, s.i32, [](int u, int v) { return min(u, v); });
  if (bad != INT_MAX) {
    fail(out, SampleRowStatus::kBadLogit, bad, isnan(row[bad]) ? 1 : 0);
    return;
  }
  best = block_all_reduce(best, s.u64,
                          [](unsigned long long u, unsigned long long v) { return max(u, v); });
  const float raw_max =
      block_all_reduce(mine.max, s.f32, [](float u, float v) { return fmaxf(u, v); });
  if (raw_max == -inf) {
    fail(out, SampleRowStatus::kAllMasked, 0, 0);
    return;
  }
  const double part =
      mine.max == -inf ? 0.0 : mine.sum * exp(static_cast<double>(mine.max) - raw_max);
  const double sum = block_all_reduce(part, s.f64, [](double u, double v) { return u + v; });
  const double log_z = static_cast<double>(raw_max) + log(sum);

  // Top-n raw logprobs: by bins (sample_rank_cut.cuh), or when the bins are crowded the n-th
  // rank key by radix selection, then the ≤ n items at or above it, sorted.
  const int n_top = min(min(p.top_logprobs, kSampleMaxTopLogprobs), vocab);
  if (n_top > 0) {
    if (!top_n_by_bins(
            vocab, [row](int i) { return row[i]; }, raw_max, n_top, s)) {
      const unsigned long long cut = nth_rank_key(
          vocab, n_top, [&](int i) { return row[i]; }, [](int) { return true; }, s);
      if (cut == 0) {
        fail(out, SampleRowStatus::kInternal, 1, 0);
        return;
      }
      if (tid == 0) s.n_top = 0;
      __syncthreads();
      for (int i = tid; i < vocab; i += kThreads) {
        const unsigned long long k = rank_key(row[i], i);
        if (k >= cut) {
          const int slot = atomicAdd(&s.n_top, 1);
          if (slot < kSampleMaxTopLogprobs) s.top_keys[slot] = k;
        }
      }
      __syncthreads();
      if (s.n_top != n_top) {  // exactly n_top items rank at or above the n-th
        fail(out, SampleRowStatus::kInternal, 1, 0);
        return;
      }
      if (tid == 0) {
        const int n = n_top;
        for (int j = 1; j < n; ++j) {  // insertion sort, descending: ≤ 20 keys
          const unsigned long long k = s.top_keys[j];
          int q = j;
          for (; q > 0 && s.top_keys[q - 1] < k; --q) s.top_keys[q] = s.top_keys[q - 1];
          s.top_keys[q] = k;
        }
      }
    }
    if (tid == 0) {
      for (int j = 0; j < n_top; ++j) {
        const int id = rank_key_id(s.top_keys[j]);
        out->top_ids[j] = id;
        out->top_logprobs[j] = static_cast<float>(static_cast<double>(row[id]) - log_z);
      }
      out->n_top = n_top;
    }
    __syncthreads();  // row is edited below
  } else if (tid == 0) {
    out->n_top = 0;
  }

  // ---- B. logit bias, then penalties, in place; raw values recorded first ---------------
  const int nb = p.bias_count;
  const int np = p.penalty_count;
  const bool edited = nb + np > 0;
  if (edited) {
    for (int e = tid; e < nb; e += kThreads) {
      const int id = a.bias_ids[p.bias_begin + e];
      a.bias_raw[p.bias_begin + e] = id >= 0 && id < vocab ? row[id] : 0.0f;
    }
    for (int e = tid; e < np; e += kThreads) {
      const int id = a.penalty_ids[p.penalty_begin + e];
      a.penalty_raw[p.penalty_begin + e] = id >= 0 && id < vocab ? row[id] : 0.0f;
    }
    __syncthreads();
    if (tid == 0) {
      for (int e = 0; e < nb; ++e) {  // in list order: a repeated id adds its biases in turn
        const int id = a.bias_ids[p.bias_begin + e];
        if (id >= 0 && id < vocab) row[id] = __fadd_rn(row[id], a.bias_values[p.bias_begin + e]);
      }
    }
    __syncthreads();
    for (int e = tid; e < np; e += kThreads) {  // distinct ids: independent
      const int id = a.penalty_ids[p.penalty_begin + e];
      if (id >= 0 && id < vocab)
        row[id] = penalized(row[id], a.penalty_counts[p.penalty_begin + e], p);
    }
    __syncthreads();
    int first = INT_MAX;  // the first overflowed entry, bias entries before penalty entries
    for (int e = tid; e < nb + np; e += kThreads) {
      const int id =
          e < nb ? a.bias_ids[p.bias_begin + e] : a.penalty_ids[p.penalty_begin + e - nb];
      if (id < 0 || id >= vocab) continue;
      const float x = row[id];
      if (isnan(x) || x == inf) first = min(first, e);
    }
    first = block_all_reduce(first, s.i32, [](int u, int v) { return min(u, v); });
    if (first != INT_MAX) {
      const int id = first < nb ? a.bias_ids[p.bias_begin + first]
                                : a.penalty_ids[p.penalty_begin + first - nb];
      fail(out, SampleRowStatus::kOverflow, id, 0);
      return;
    }
  }

  int token = 0;
  if (p.temperature == 0.0f) {
    // ---- C. greedy: the largest rank key (lowest id among equal logits) -----------------
    if (edited) {
      best = 0;
      for (int i = tid; i < vocab; i += kThreads) best = max(best, rank_key(row[i], i));
      best = block_all_reduce(best, s.u64,
                              [](unsigned long long u, unsigned long long v) { return max(u, v); });
    }
    token = rank_key_id(best);
  } else {
    // ---- D. temperature, top-k, top-p, min-p, draw ----------------------------------------
    float row_max = raw_max;
    if (edited) {
      float m = -inf;
      for (int i = tid; i < vocab; i += kThreads) m = fmaxf(m, row[i]);
      row_max = block_all_reduce(m, s.f32, [](float u, float v) { return fmaxf(u, v); });
    }
    if (row_max == -inf) {
      fail(out, SampleRowStatus::kAllMaskedAfterPenalties, 0, 0);
      return;
    }
    const float t = p.temperature;
    const auto scaled = [row, row_max, t](int i) {
      return __fdiv_rn(__fsub_rn(row[i], row_max), t);
    };
    const float top = __fdiv_rn(__fsub_rn(row_max, row_max), t);  // the largest scaled value
    const auto weight_of = [top](float v) {
      return static_cast<long long>(
          sample::fixed_weight(sample::exp_nonpositive(__fsub_rn(v, top))));
    };

    // Top-k, then top-p (sample_rank_cut.cuh): survivors rank at or above cut (0: everyone);
    // min-p: scaled ≥ top + log(min_p), the host's threshold.
    const bool min_p = p.min_p_on != 0;
    const float threshold = __fadd_rn(top, p.log_min_p);
    const bool top_k = p.top_k > 0 && p.top_k < vocab;
    const bool top_p = p.top_p < 1.0f && (top_k ? p.top_k > 1 : vocab > 1);
    unsigned long long cut = 0;
    bool range_sums = false;
    for (int stage = 0; stage < 2; ++stage) {
      const bool by_mass = stage == 1;
      if (!(by_mass ? top_p : top_k)) continue;
      const CutRow<decltype(scaled), decltype(weight_of)> view{vocab, scaled, weight_of,
                                                               cut,   min_p,  threshold};
      const RankCut c = rank_cut(view, by_mass, static_cast<double>(p.top_p), p.top_k,
                                 /*sum_draw=*/by_mass || !top_p, s);
      if (c.status != 0) {
        fail(out, SampleRowStatus::kInternal, c.status + (by_mass ? 0 : 10), 0);
        return;
      }
      cut = c.cut;
      range_sums = c.range_sums;
    }
    // The draw: the first survivor, in id order, whose running mass exceeds u · total.
    const unsigned long long cut_p = cut;
    const auto draw_weight = [scaled, weight_of, cut_p, min_p, threshold](int i) -> long long {
      const float v = scaled(i);
      if (rank_key(v, i) < cut_p || (min_p && !(v >= threshold))) return 0;
      return weight_of(v);
    };
    long long total = 0;
    if (range_sums) {
      for (int w = 0; w < kWarps; ++w) total += s.warp_mass[w];
    } else {
      total = warp_range_sums(vocab, draw_weight, s);
    }
    const float u = sample::philox_uniform(p.seed, p.position);
    const double goal = __dmul_rn(static_cast<double>(u), static_cast<double>(total));
    token = find_crossing(
        vocab, draw_weight, [&](long long c) { return static_cast<double>(c) > goal; }, s);
    if (token < 0) {  // unreachable for u < 1; the host takes the last positive survivor
      int last = -1;
      for (int i = tid; i < vocab; i += kThreads) {
        if (draw_weight(i) > 0) last = max(last, i);
      }
      token = block_all_reduce(last, s.i32, [](int x, int y) { return max(x, y); });
      if (token < 0) {
        fail(out, SampleRowStatus::kInternal, 5, 0);
        return;
      }
    }
  }

  // ---- the token's raw logit (an edited token's was recorded) and its logprob -----------
  if (tid == 0) s.raw_token = row[token];
  __syncthreads();
  if (edited) {
    // Every entry of an id recorded the same raw value, so any match may write it.
    for (int e = tid; e < nb; e += kThreads) {
      if (a.bias_ids[p.bias_begin + e] == token) s.raw_token = a.bias_raw[p.bias_begin + e];
    }
    for (int e = tid; e < np; e += kThreads) {
      if (a.penalty_ids[p.penalty_begin + e] == token) {
        s.raw_token = a.penalty_raw[p.penalty_begin + e];
      }
    }
    __syncthreads();
  }
  if (tid == 0) {
    out->status = static_cast<std::int32_t>(SampleRowStatus::kOk);
    out->token = token;
    out->detail = 0;
    out->detail_nan = 0;
    out->logprob = static_cast<float>(static_cast<double>(s.raw_token) - log_z);
  }
}

}  // namespace

Status launch_sample_rows(const SampleRowsArgs& a, cudaStream_t stream) {
  if (a.logits.cols < 1 || a.logits.cols >= kSampleMaxVocab) {
    return make_error(ErrorCode::kInvalidParameter, "sample_rows: vocabulary of " +
                                                        std::to_string(a.logits.cols) +
                                                        " tokens outside [1, 2^23)");
  }
  if (a.n < 0 || a.n > 65535) {
    return make_error(ErrorCode::kInvalidParameter,
                      "sample_rows: " + std::to_string(a.n) + " rows outside [0, 65535]");
  }
  if (a.n == 0) return ok_status();
  const int slices = stat_slices(static_cast<int>(a.logits.cols));
  launch_pdl(row_stats_kernel, dim3(static_cast<unsigned>(slices), static_cast<unsigned>(a.n)),
             dim3(kThreads), 0, stream, a);
  ZINFER_CUDA_LAUNCH_CHECK("row_stats_kernel");
  launch_pdl(sample_rows_kernel, dim3(static_cast<unsigned>(a.n)), dim3(kThreads), 0, stream, a);
  ZINFER_CUDA_LAUNCH_CHECK("sample_rows_kernel");
  return ok_status();
}

std::size_t sample_rows_stats_bytes(std::int64_t vocab, std::int32_t n) {
  const auto v =
      static_cast<int>(std::min<std::int64_t>(std::max<std::int64_t>(vocab, 1), kSampleMaxVocab));
  return static_cast<std::size_t>(stat_slices(v)) * static_cast<std::size_t>(std::max(n, 0)) *
         sizeof(RowStats);
}

}  // namespace zinfer::cuda
