// Block-wide building blocks of the device sampler (sample_rows.cu, sample_rank_cut.cuh): one
// block of 1024 threads owns one row of logits. Ranking keys, fixed-order reductions and scans,
// the search for the first id in id order at which a running sum of integer weights crosses a
// goal, and radix selection by count. Every float reduction has a fixed order and every sum of
// weights is an exact integer, so results do not depend on scheduling.
#pragma once

#include <cuda_runtime.h>

#include <climits>

#include "kernels/sample_rows.h"

namespace zinfer::cuda::sample_detail {

inline constexpr int kThreads = 1024;
inline constexpr int kWarps = kThreads / 32;
inline constexpr int kDigits = 256;   // radix selection by count: 8-bit digits
inline constexpr int kMassBits = 11;  // selection by mass: digits of up to 11 bits
inline constexpr int kMassBins = 1 << kMassBits;
inline constexpr int kListCap = 2048;  // class items rank_cut gathers in shared memory
inline constexpr unsigned kFull = 0xffffffffu;
inline constexpr int kUnroll = 4;  // items a thread evaluates together in a pass over the row

struct SampleShared {
  unsigned long long u64[kWarps];
  long long i64[kWarps];
  double f64[kWarps];
  float f32[kWarps];
  int i32[kWarps];
  long long warp_mass[kWarps];  // per warp range: a sum of weights (warp_range_sums)
  unsigned int hist_count[kMassBins];
  // A bin's mass is hist_mass_hi · 2^32 + hist_mass_lo (mass_add): two native 32-bit adds
  // where a 64-bit one would be a compare-and-swap loop.
  unsigned int hist_mass_lo[kMassBins];
  unsigned int hist_mass_hi[kMassBins];
  unsigned list_key[kListCap];
  int list_id[kListCap];
  int list_n;
  int sel_digit;
  long long sel_base_count;
  long long sel_base_mass;
  long long sel_count;
  double sel_goal;
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
// each warp, then a butterfly over the warps' results in warp 0), so a float or double result
// is the same on every run.
template <typename T, typename Op>
__device__ T block_all_reduce(T v, T* scratch, Op op) {
  static_assert(kWarps == 32, "warp 0 folds one value per warp");
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(kFull, v, o));
  __syncthreads();  // scratch may still be read by an earlier call
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    T w = scratch[threadIdx.x];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) w = op(w, __shfl_xor_sync(kFull, w, o));
    if (threadIdx.x == 0) scratch[0] = w;  // every lane of warp 0 has read its slot
  }
  __syncthreads();
  return scratch[0];
}

__device__ __forceinline__ long long warp_sum_i64(long long v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

// Exclusive prefix sum of one int64 per thread, in thread order (exact).
__device__ inline long long block_exclusive_scan(long long v, SampleShared& s) {
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

// Warp ranges: warp w owns the ids [w * span, (w + 1) * span) of the row (span a multiple of
// 32), read 32 consecutive ids at a time.
__device__ __forceinline__ int warp_span(int vocab) {
  return ((vocab + kWarps - 1) / kWarps + 31) / 32 * 32;
}

__device__ __forceinline__ int warp_range_begin(int vocab, int warp) {
  return min(warp * warp_span(vocab), vocab);
}

// Each warp range's sum of weight(i) into s.warp_mass; returns the total (every thread).
template <typename Weight>
__device__ __noinline__ long long warp_range_sums(int vocab, Weight weight, SampleShared& s) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int lo = warp_range_begin(vocab, warp);
  const int hi = warp_range_begin(vocab, warp + 1);
  long long sum = 0;
  for (int b = lo; b < hi; b += kUnroll * 32) {  // kUnroll loads in flight
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = b + u * 32 + lane;
      if (i < hi) sum += weight(i);
    }
  }
  sum = warp_sum_i64(sum);
  __syncthreads();  // warp_mass may still be read by an earlier call
  if (lane == 0) s.warp_mass[warp] = sum;
  __syncthreads();
  long long total = 0;
  for (int w = 0; w < kWarps; ++w) total += s.warp_mass[w];
  return total;
}

// The first id, in ascending order, with weight(id) > 0 whose inclusive prefix sum of weights
// satisfies crossed (monotone: false, then true, and false at 0); -1 if none. s.warp_mass holds
// each warp range's sum of the same weights (warp_range_sums, or sums built along another
// pass). The range where the sum crosses is found from those sums; then the whole block walks
// that range alone, each thread a few consecutive ids, ordered by one block-wide scan.
template <typename Weight, typename Crossed>
__device__ __noinline__ int find_crossing(int vocab, Weight weight, Crossed crossed,
                                          SampleShared& s) {
  long long before = 0;
  int range = -1;
  for (int w = 0; w < kWarps; ++w) {  // every thread: the same walk, the same answer
    const long long m = s.warp_mass[w];
    if (m > 0 && crossed(before + m)) {
      range = w;
      break;
    }
    before += m;
  }
  if (range < 0) return -1;
  const int lo = warp_range_begin(vocab, range);
  const int hi = warp_range_begin(vocab, range + 1);
  const int chunk = (hi - lo + kThreads - 1) / kThreads;
  const int begin = min(lo + static_cast<int>(threadIdx.x) * chunk, hi);
  const int end = min(begin + chunk, hi);
  long long local = 0;
  for (int i = begin; i < end; ++i) local += weight(i);
  const long long at = before + block_exclusive_scan(local, s);
  if (threadIdx.x == 0) s.found = -1;
  __syncthreads();
  // Exactly one thread sees the crossing inside its ids.
  if (local > 0 && !crossed(at) && crossed(at + local)) {
    long long cum = at;
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
  long long count = 0;         // items with exactly this value key
};

// Radix selection by count over the value keys of the items (item(i, mask, prefix, key) says
// whether i takes part in this pass: it is an item and (key & mask) == prefix, the class the
// earlier passes chose): walking the items from the largest key down, the key at which the
// running count reaches count_goal. Four passes of 8 bits; histograms use warp-aggregated
// integer atomics.
template <typename Item>
__device__ Selection radix_select_count(int vocab, Item item, long long count_goal,
                                        SampleShared& s) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  unsigned prefix = 0;
  long long base_count = 0;
  Selection sel;
  for (int level = 0; level < 4; ++level) {
    const int shift = 24 - 8 * level;
    const unsigned class_mask = level == 0 ? 0u : ~((1u << (shift + 8)) - 1u);
    for (int d = threadIdx.x; d < kDigits; d += kThreads) s.hist_count[d] = 0;
    __syncthreads();
    // Uniform trip count, so whole warps take part in the aggregation: lanes with the same
    // digit form a group whose lowest lane adds the group's count with one atomic.
    for (int base = 0; base < vocab; base += kThreads) {
      const int i = base + static_cast<int>(threadIdx.x);
      unsigned key = 0;
      const bool in = i < vocab && item(i, class_mask, prefix, key);
      const unsigned d = in ? (key >> shift) & 0xffu : 0x100u;  // 0x100: not taking part
      const unsigned group = __match_any_sync(kFull, d);
      if (in && lane == __ffs(static_cast<int>(group)) - 1) {
        atomicAdd(&s.hist_count[d], static_cast<unsigned>(__popc(group)));
      }
    }
    __syncthreads();
    // Warp 0: the highest digit whose suffix (digits ≥ it, within the class) reaches the goal.
    if (warp == 0) {
      long long c[8];
      long long lane_c = 0;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        c[j] = s.hist_count[lane * 8 + j];
        lane_c += c[j];
      }
      long long suf_c = lane_c;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const long long tc = __shfl_down_sync(kFull, suf_c, o);
        if (lane + o < 32) suf_c += tc;
      }
      long long run_c = base_count + suf_c - lane_c;
      int found = -1;
      long long found_c = 0;
      for (int j = 7; j >= 0; --j) {
        const long long nc = run_c + c[j];
        if (nc >= count_goal) {
          found = lane * 8 + j;
          found_c = run_c;
          break;
        }
        run_c = nc;
      }
      const unsigned mask = __ballot_sync(kFull, found >= 0);
      const int src = mask != 0u ? 31 - __clz(static_cast<int>(mask)) : 0;
      found = __shfl_sync(kFull, found, src);
      found_c = __shfl_sync(kFull, found_c, src);
      if (lane == 0) {
        s.sel_digit = mask != 0u ? found : -1;
        s.sel_base_count = found_c;
        s.sel_count = mask != 0u ? s.hist_count[found] : 0;
      }
    }
    __syncthreads();
    const int digit = s.sel_digit;
    if (digit < 0) return sel;  // unreachable when the goal is within the items' total
    prefix |= static_cast<unsigned>(digit) << shift;
    base_count = s.sel_base_count;
    sel.count = s.sel_count;
    __syncthreads();  // sel_* are rewritten by the next level
  }
  sel.ok = true;
  sel.key = prefix;
  sel.before_count = base_count;
  return sel;
}

// The rank key of the n-th item (n ≥ 1) in ranking order among the items with in(i), ranked
// by value(i); 0 if the selection fails (a broken invariant).
template <typename Value, typename In>
__device__ unsigned long long nth_rank_key(int vocab, long long n, Value value, In in,
                                           SampleShared& s) {
  const Selection sel = radix_select_count(
      vocab,
      [&](int i, unsigned mask, unsigned prefix, unsigned& key) {
        if (!in(i)) return false;
        key = value_key(value(i));
        return (key & mask) == prefix;
      },
      n, s);
  if (!sel.ok) return 0;
  const long long need = n - sel.before_count;  // ≥ 1: the n-th item ties at sel.key
  if (need == sel.count) return static_cast<unsigned long long>(sel.key) << 32;  // all ties
  const auto tie = [&](int i) -> long long {
    return in(i) && value_key(value(i)) == sel.key ? 1 : 0;
  };
  warp_range_sums(vocab, tie, s);
  const int id = find_crossing(
      vocab, tie, [&](long long c) { return c >= need; }, s);
  if (id < 0) return 0;
  return (static_cast<unsigned long long>(sel.key) << 32) | static_cast<unsigned>(~id);
}

}  // namespace zinfer::cuda::sample_detail
