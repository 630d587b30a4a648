// row_stats_kernel and sample_rows_kernel: sampling on the device (see sample_rows.h).
//
// Per row: (A) one pass over the raw logits, in slices of 8192 (row_stats_kernel): NaN/+inf
// check, the argmax rank key and an online log-sum-exp for the logprobs; the rest is
// sample_rows_kernel, one block of 1024 threads per row: the slices combined in order, the
// top-n raw logprobs by radix selection. (B) logit bias
// (one thread, in list order, as the host adds repeated ids) and penalties (distinct ids, in
// parallel), recording raw values first. (C) greedy: the largest rank key. (D) seeded: the
// chain on scaled = (logit - max) / T, recomputed from the row in every pass: top-k and top-p
// cuts as rank-key thresholds found by 4 radix passes over the value bits (counts for top-k,
// fixed-point masses for top-p) plus one ordered scan for ties, min-p as a value threshold,
// then the inverse-CDF draw as an exact integer prefix sum in id order.
#include <algorithm>
#include <cfloat>
#include <climits>
#include <string>

#include "engine/sample/philox.h"
#include "engine/sample/sample_math.h"
#include "kernels/cuda_check.h"
#include "kernels/pdl.h"
#include "kernels/sample_rows.h"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kDigits = 256;
constexpr unsigned kFull = 0xffffffffu;

struct SampleShared {
  unsigned long long u64[kWarps];
  long long i64[kWarps];
  double f64[kWarps];
  float f32[kWarps];
  int i32[kWarps];
  unsigned int hist_count[kDigits];
  unsigned long long hist_mass[kDigits];
  long long lane_mass[kWarps][32];  // radix_select's per-warp staging of masses
  int sel_digit;
  long long sel_base_count;
  long long sel_base_mass;
  long long sel_count;
  long long sel_mass;
  int found;
  int n_top;
  unsigned long long top_keys[kSampleMaxTopLogprobs];
  float raw_token;
};

__device__ __forceinline__ float pos_inf() { return __int_as_float(0x7f800000); }

// Order-preserving bits of a float (a < b ⇔ key(a) < key(b)); -0 and +0 share a key, as they
// compare equal on the host. NaN never gets here.
__device__ __forceinline__ unsigned value_key(float x) {
  if (x == 0.0f) x = 0.0f;
  const unsigned u = __float_as_uint(x);
  return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float key_value(unsigned key) {
  return __uint_as_float((key & 0x80000000u) != 0u ? (key & 0x7fffffffu) : ~key);
}

// The host's ranking (logit_desc) as one integer: a larger key ranks first. Every real key is
// > 0, so 0 means "nothing".
__device__ __forceinline__ unsigned long long rank_key(float x, int id) {
  return (static_cast<unsigned long long>(value_key(x)) << 32) | static_cast<unsigned>(~id);
}

__device__ __forceinline__ int rank_key_id(unsigned long long key) {
  return static_cast<int>(~static_cast<unsigned>(key));
}

// Reduction over the block; every thread gets the result. The order is fixed (butterfly in
// each warp, then warps in order), so a float or double result is the same on every run.
template <typename T, typename Op>
__device__ T block_all_reduce(T v, T* scratch, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(kFull, v, o));
  __syncthreads();  // scratch may still be read by an earlier call
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = scratch[0];
  for (int w = 1; w < kWarps; ++w) r = op(r, scratch[w]);
  return r;
}

__device__ long long block_sum_i64(long long v, SampleShared& s) {
  return block_all_reduce(v, s.i64, [](long long a, long long b) { return a + b; });
}

// Exclusive prefix sum of one int64 per thread, in thread order (exact).
__device__ long long block_exclusive_scan(long long v, SampleShared& s) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  long long incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const long long t = __shfl_up_sync(kFull, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == 31) s.i64[warp] = incl;
  __syncthreads();
  long long base = 0;
  for (int w = 0; w < warp; ++w) base += s.i64[w];
  return base + incl - v;
}

// The first id, in ascending order, with weight(id) > 0 whose inclusive prefix sum of
// weights satisfies crossed (monotone: false, then true); -1 if none. Thread t owns the ids
// [t * chunk, (t + 1) * chunk), so one block-wide scan orders the chunks.
template <typename Weight, typename Crossed>
__device__ int find_in_id_order(int vocab, Weight weight, Crossed crossed, SampleShared& s) {
  const int chunk = (vocab + kThreads - 1) / kThreads;
  const int begin = min(static_cast<int>(threadIdx.x) * chunk, vocab);
  const int end = min(begin + chunk, vocab);
  long long local = 0;
  for (int i = begin; i < end; ++i) local += weight(i);
  const long long before = block_exclusive_scan(local, s);
  if (threadIdx.x == 0) s.found = -1;
  __syncthreads();
  // Exactly one thread sees the crossing inside its chunk.
  if (local > 0 && !crossed(before) && crossed(before + local)) {
    long long cum = before;
    for (int i = begin; i < end; ++i) {
      const long long w = weight(i);
      if (w <= 0) continue;
      cum += w;
      if (crossed(cum)) {
        s.found = i;
        break;
      }
    }
  }
  __syncthreads();
  return s.found;
}

struct Selection {
  bool ok = false;
  unsigned key = 0;            // the value key where the goal is reached
  long long before_count = 0;  // items with a larger value key
  long long before_mass = 0;   // their mass
  long long count = 0;         // items with exactly this value key
};

// Radix selection over the value keys of the items (item(i, mask, prefix, key, mass) says
// whether i takes part in this pass: it is an item and (key & mask) == prefix, the class the
// earlier passes chose; its mass is needed only then, so later passes skip most exps): walking the
// items from the largest key down, the key at which the running count reaches `count_goal` (by_mass
// false) or the running mass, as a double, reaches `mass_goal` (by_mass true). Four passes of 8
// bits; histograms use warp-aggregated integer atomics.
template <typename Item>
__device__ Selection radix_select(int vocab, Item item, bool by_mass, long long count_goal,
                                  double mass_goal, SampleShared& s) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  unsigned prefix = 0;
  long long base_count = 0;
  long long base_mass = 0;
  Selection sel;
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    const unsigned class_mask = level == 0 ? 0u : ~((1u << (shift + 8)) - 1u);
    for (int d = threadIdx.x; d < kDigits; d += kThreads) {
      s.hist_count[d] = 0;
      s.hist_mass[d] = 0;
    }
    __syncthreads();
    // Uniform trip count, so whole warps take part in the aggregation below: lanes with the
    // same digit form a group whose lowest lane adds the group's count and mass (summed from
    // a per-warp staging array) with one atomic each.
    for (int base = 0; base < vocab; base += kThreads) {
      const int i = base + static_cast<int>(threadIdx.x);
      unsigned key = 0;
      long long mass = 0;
      const bool in = i < vocab && item(i, class_mask, prefix, key, mass);
      const unsigned d = in ? (key >> shift) & 0xffu : 0x100u;  // 0x100: not taking part
      const unsigned group = __match_any_sync(kFull, d);
      if (by_mass) s.lane_mass[warp][lane] = in ? mass : 0;
      __syncwarp();
      if (in && lane == __ffs(static_cast<int>(group)) - 1) {
        atomicAdd(&s.hist_count[d], static_cast<unsigned>(__popc(group)));
        if (by_mass) {
          long long sum = 0;
          for (unsigned g = group; g != 0u; g &= g - 1u)
            sum += s.lane_mass[warp][__ffs(static_cast<int>(g)) - 1];
          atomicAdd(&s.hist_mass[d], static_cast<unsigned long long>(sum));
        }
      }
      __syncwarp();  // lane_mass is rewritten by the next iteration
    }
    __syncthreads();
    // Warp 0: the highest digit whose suffix (digits ≥ it, within the class) reaches the goal.
    if (warp == 0) {
      long long c[8];
      long long m[8];
      long long lane_c = 0;
      long long lane_m = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        c[j] = s.hist_count[lane * 8 + j];
        m[j] = static_cast<long long>(s.hist_mass[lane * 8 + j]);
        lane_c += c[j];
        lane_m += m[j];
      }
      long long suf_c = lane_c;
      long long suf_m = lane_m;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const long long tc = __shfl_down_sync(kFull, suf_c, o);
        const long long tm = __shfl_down_sync(kFull, suf_m, o);
        if (lane + o < 32) {
          suf_c += tc;
          suf_m += tm;
        }
      }
      long long run_c = base_count + suf_c - lane_c;
      long long run_m = base_mass + suf_m - lane_m;
      int found = -1;
      long long found_c = 0;
      long long found_m = 0;
      for (int j = 7; j >= 0; --j) {
        const long long nc = run_c + c[j];
        const long long nm = run_m + m[j];
        const bool reached = by_mass ? static_cast<double>(nm) >= mass_goal : nc >= count_goal;
        if (reached) {
          found = lane * 8 + j;
          found_c = run_c;
          found_m = run_m;
          break;
        }
        run_c = nc;
        run_m = nm;
      }
      const unsigned mask = __ballot_sync(kFull, found >= 0);
      const int src = mask != 0u ? 31 - __clz(static_cast<int>(mask)) : 0;
      found = __shfl_sync(kFull, found, src);
      found_c = __shfl_sync(kFull, found_c, src);
      found_m = __shfl_sync(kFull, found_m, src);
      if (lane == 0) {
        s.sel_digit = mask != 0u ? found : -1;
        s.sel_base_count = found_c;
        s.sel_base_mass = found_m;
        s.sel_count = mask != 0u ? s.hist_count[found] : 0;
      }
    }
    __syncthreads();
    const int digit = s.sel_digit;
    if (digit < 0) return sel;  // unreachable when the goal is within the items' total
    prefix |= static_cast<unsigned>(digit) << shift;
    base_count = s.sel_base_count;
    base_mass = s.sel_base_mass;
    sel.count = s.sel_count;
    __syncthreads();  // sel_* are rewritten by the next level
  }
  sel.ok = true;
  sel.key = prefix;
  sel.before_count = base_count;
  sel.before_mass = base_mass;
  return sel;
}

// The rank key of the n-th item (n ≥ 1) in ranking order among the items with in(i), ranked
// by value(i); 0 if the selection fails (a broken invariant).
template <typename Value, typename In>
__device__ unsigned long long nth_rank_key(int vocab, long long n, Value value, In in,
                                           SampleShared& s) {
  const Selection sel = radix_select(
      vocab,
      [&](int i, unsigned mask, unsigned prefix, unsigned& key, long long& mass) {
        if (!in(i)) return false;
        key = value_key(value(i));
        mass = 0;
        return (key & mask) == prefix;
      },
      /*by_mass=*/false, n, 0.0, s);
  if (!sel.ok) return 0;
  const long long need = n - sel.before_count;  // ≥ 1: the n-th item ties at sel.key
  const int id = find_in_id_order(
      vocab, [&](int i) -> long long { return in(i) && value_key(value(i)) == sel.key ? 1 : 0; },
      [&](long long c) { return c >= need; }, s);
  if (id < 0) return 0;
  return (static_cast<unsigned long long>(sel.key) << 32) | static_cast<unsigned>(~id);
}

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
__global__ void __launch_bounds__(kThreads) row_stats_kernel(SampleRowsArgs a) {
  __shared__ SampleShared s;
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
    for (int i = begin + static_cast<int>(threadIdx.x); i < end; i += kThreads) {
      const float x = row[i];
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

  // Top-n raw logprobs: the n-th rank key, then the ≤ n items at or above it, sorted.
  const int n_top = min(min(p.top_logprobs, kSampleMaxTopLogprobs), vocab);
  if (n_top > 0) {
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
    if (tid == 0) {
      const int n = min(s.n_top, n_top);
      for (int j = 1; j < n; ++j) {  // insertion sort, descending: ≤ 20 keys
        const unsigned long long k = s.top_keys[j];
        int q = j;
        for (; q > 0 && s.top_keys[q - 1] < k; --q) s.top_keys[q] = s.top_keys[q - 1];
        s.top_keys[q] = k;
      }
      for (int j = 0; j < n; ++j) {
        const int id = rank_key_id(s.top_keys[j]);
        out->top_ids[j] = id;
        out->top_logprobs[j] = static_cast<float>(static_cast<double>(row[id]) - log_z);
      }
      out->n_top = n;
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
    const auto scaled = [&](int i) { return __fdiv_rn(__fsub_rn(row[i], row_max), t); };
    const float top = __fdiv_rn(__fsub_rn(row_max, row_max), t);  // the largest scaled value
    const auto weight_of = [&](float v) {
      return static_cast<long long>(
          sample::fixed_weight(sample::exp_nonpositive(__fsub_rn(v, top))));
    };

    // Top-k: survivors rank at or above cut_k (0: everyone).
    unsigned long long cut = 0;
    long long survivors = vocab;
    if (p.top_k > 0 && p.top_k < vocab) {
      cut = nth_rank_key(
          vocab, p.top_k, scaled, [](int) { return true; }, s);
      if (cut == 0) {
        fail(out, SampleRowStatus::kInternal, 2, 0);
        return;
      }
      survivors = p.top_k;
    }
    // Top-p: the shortest prefix of the ranking whose mass, as a double, reaches p · total.
    if (p.top_p < 1.0f && survivors > 1) {
      long long mass = 0;
      for (int i = tid; i < vocab; i += kThreads) {
        const float v = scaled(i);
        if (rank_key(v, i) >= cut) mass += weight_of(v);
      }
      const long long total = block_sum_i64(mass, s);
      const double goal = __dmul_rn(static_cast<double>(p.top_p), static_cast<double>(total));
      const unsigned long long cut_k = cut;
      const Selection sel = radix_select(
          vocab,
          [&](int i, unsigned mask, unsigned prefix, unsigned& key, long long& m) {
            const float v = scaled(i);
            if (rank_key(v, i) < cut_k) return false;
            key = value_key(v);
            if ((key & mask) != prefix) return false;
            m = weight_of(v);
            return true;
          },
          /*by_mass=*/true, 0, goal, s);
      if (!sel.ok || sel.count <= 0) {
        fail(out, SampleRowStatus::kInternal, 3, 0);
        return;
      }
      // Every item tying at the cut value weighs the same: how many of them, in id order,
      // the prefix needs.
      const long long w = weight_of(key_value(sel.key));
      long long lo = 1;
      long long hi = sel.count;
      while (lo < hi) {
        const long long mid = lo + (hi - lo) / 2;
        if (static_cast<double>(sel.before_mass + mid * w) >= goal) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      const long long need = lo;
      const int id = find_in_id_order(
          vocab,
          [&](int i) -> long long {
            const float v = scaled(i);
            return rank_key(v, i) >= cut_k && value_key(v) == sel.key ? 1 : 0;
          },
          [&](long long c) { return c >= need; }, s);
      if (id < 0) {
        fail(out, SampleRowStatus::kInternal, 4, 0);
        return;
      }
      cut = (static_cast<unsigned long long>(sel.key) << 32) | static_cast<unsigned>(~id);
    }
    // Min-p: scaled ≥ top + log(min_p), the host's threshold.
    const bool min_p = p.min_p_on != 0;
    const float threshold = __fadd_rn(top, p.log_min_p);
    const unsigned long long cut_p = cut;
    const auto draw_weight = [&](int i) -> long long {
      const float v = scaled(i);
      if (rank_key(v, i) < cut_p || (min_p && !(v >= threshold))) return 0;
      return weight_of(v);
    };
    long long mass = 0;
    for (int i = tid; i < vocab; i += kThreads) mass += draw_weight(i);
    const long long total = block_sum_i64(mass, s);
    const float u = sample::philox_uniform(p.seed, p.position);
    const double goal = __dmul_rn(static_cast<double>(u), static_cast<double>(total));
    token = find_in_id_order(
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
