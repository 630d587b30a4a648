// The top-k and top-p cuts on the device (sample_rows.cu, section D): the first k items of the
// ranking, or the shortest prefix whose fixed-point mass, as a double, reaches p · total (the
// host's keep_top / keep_top_mass), found in two passes over the row in the usual case, with
// the draw's per-range sums taken along the second one.
//
// Pass 1 histograms the items by bins of 1/64 below the top (bin b holds the scaled values v in
// (-(b+1)/64, -b/64]; the last bin everything lower), with their counts and weights: 1 each
// for top-k; for top-p the exact int64 fixed-point masses of the items that have one (v ≥ -28:
// below, exp(v) < 2^-40 truncates to 0), whose total gives the goal. The bin where the running
// weight from the top reaches the goal is the class that holds the cut. Pass 2 gathers that
// class's items (value key, id) into shared memory when it has at most kListCap of them — a
// bin of 1/64 holds ~1,000 of 151,936 normally spread logits — and, along the way, sums per
// warp range the draw weights of the items ranked above the class (they all survive). The
// value keys of the class span a known range; 11-bit digits of the key's offset in it narrow
// the class level by level, on the gathered list (or by further passes over the row when the
// class is larger), to the exact value key where the goal is reached; items tying at it are
// resolved in id order. The draw then walks only the range of ids where its sum crosses.
// top_n_by_bins (the top-n logprobs) counts the same bins over the raw logits.
#pragma once

#include <cuda_runtime.h>

#include "kernels/sample_block.cuh"

namespace zinfer::cuda::sample_detail {

inline constexpr float kNoWeightBelow = -28.0f;  // exp(-28) · 2^40 < 1
inline constexpr float kBinsPerUnit = 64.0f;

// Bin of a scaled value v in [kNoWeightBelow, 0]: floor(-64 v) (the product is exact).
__device__ __forceinline__ int rank_bin(float v) {
  return min(__float2int_rz(-v * kBinsPerUnit), kMassBins - 1);  // saturates: -inf → the last
}

__device__ __forceinline__ long long bin_mass(const SampleShared& s, int d, bool counts_only) {
  if (counts_only) return s.hist_count[d];
  return static_cast<long long>((static_cast<unsigned long long>(s.hist_mass_hi[d]) << 32) |
                                s.hist_mass_lo[d]);
}

struct MassStep {
  int digit = -1;             // where the mass is reached; -1: never (a broken invariant)
  long long before_mass = 0;  // base + the mass of the higher digits
  long long count = 0;        // items with this digit
  double goal = 0.0;
};

// One level: item(j, digit, w) says whether j (in [0, n)) is in the class, and gives its digit
// in [0, bins) and weight w > 0. From the highest digit down, starting at base_mass, the digit
// at which the running mass, as a double, reaches the goal — given, or fraction · (base + the
// level's total) when from_total.
// counts_only: every weight is 1 (top-k), so the counts are the masses and no mass is added.
template <typename Item>
__device__ MassStep mass_step(int n, int bins, Item item, long long base_mass, bool from_total,
                              double fraction, double goal, bool counts_only, SampleShared& s) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  for (int d = threadIdx.x; d < bins; d += kThreads) {
    s.hist_count[d] = 0;
    s.hist_mass_lo[d] = 0;
    s.hist_mass_hi[d] = 0;
  }
  __syncthreads();
  // kUnroll items a trip, evaluated before any is added: their loads are in flight together.
  for (int j0 = threadIdx.x; j0 < n; j0 += kUnroll * kThreads) {
    int d[kUnroll];
    long long w[kUnroll];
    bool in[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = j0 + u * kThreads;
      d[u] = 0;
      w[u] = 0;
      in[u] = j < n && item(j, d[u], w[u]);
    }
    // A bin's mass exactly in two 32-bit words: the low word wraps, and whoever wraps it adds
    // the carry to the high word with its own high part.
    unsigned carry[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      carry[u] = 0;
      if (in[u]) {
        atomicAdd(&s.hist_count[d[u]], 1u);
        if (counts_only) continue;
        const auto lo = static_cast<unsigned>(static_cast<unsigned long long>(w[u]));
        carry[u] = atomicAdd(&s.hist_mass_lo[d[u]], lo) + lo < lo ? 1u : 0u;
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const auto hi = static_cast<unsigned>(static_cast<unsigned long long>(w[u]) >> 32) + carry[u];
      if (in[u] && hi != 0u && !counts_only) atomicAdd(&s.hist_mass_hi[d[u]], hi);
    }
  }
  __syncthreads();
  if (warp == 0) {
    // Lane l holds the digits [l * per, (l + 1) * per); higher lanes hold higher digits.
    const int per = (bins + 31) / 32;
    const int first = lane * per;
    long long lane_m = 0;
    for (int k = 0; k < per; ++k) {
      if (first + k < bins) lane_m += bin_mass(s, first + k, counts_only);
    }
    long long suf = lane_m;  // the mass of this lane's digits and every higher one
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const long long t = __shfl_down_sync(kFull, suf, o);
      if (lane + o < 32) suf += t;
    }
    const long long total = __shfl_sync(kFull, suf, 0);
    const double g =
        from_total ? __dmul_rn(fraction, static_cast<double>(base_mass + total)) : goal;
    // Suffixes shrink as the lane grows: the crossing is in the highest lane that reaches.
    const unsigned reach = __ballot_sync(kFull, static_cast<double>(base_mass + suf) >= g);
    const int at = reach != 0u ? 31 - __clz(static_cast<int>(reach)) : -1;
    if (lane == 0) {
      s.sel_digit = -1;
      s.sel_goal = g;
    }
    __syncwarp();
    if (lane == at) {
      long long run = base_mass + suf - lane_m;
      for (int k = per - 1; k >= 0; --k) {
        const int d = first + k;
        if (d >= bins) continue;
        const long long next = run + bin_mass(s, d, counts_only);
        if (static_cast<double>(next) >= g) {
          s.sel_digit = d;
          s.sel_base_mass = run;
          s.sel_count = s.hist_count[d];
          break;
        }
        run = next;
      }
    }
  }
  __syncthreads();
  MassStep r;
  r.digit = s.sel_digit;
  r.before_mass = s.sel_base_mass;
  r.count = s.sel_count;
  r.goal = s.sel_goal;
  return r;
}

// A row as section D sees it: scaled(i) and weight_of(v) as it defines them; the earlier cut
// (top-k's, when top-p follows it) keeps the items ranked at or above cut_k (0: everyone);
// min-p keeps v ≥ threshold when on.
template <typename Scaled, typename WeightOf>
struct CutRow {
  int vocab;
  Scaled scaled;
  WeightOf weight_of;
  unsigned long long cut_k;
  bool min_p;
  float threshold;
};

struct RankCut {
  int status = 0;              // 0 ok; else the kInternal detail
  unsigned long long cut = 0;  // survivors rank at or above it
  bool range_sums = false;     // s.warp_mass holds the survivors' draw weights per range
};

// The cut of the ranking (see the top of this file): by_mass, the shortest prefix whose mass
// reaches fraction · total (top-p); else the first k items (top-k: every item weighs 1, the
// goal is k). sum_draw: also leave the draw's per-range sums in s.warp_mass when the class
// fits the list (the cut is the last one before the draw).
template <typename Row>
__device__ __noinline__ RankCut rank_cut(const Row row, bool by_mass, double fraction, long long k,
                                         bool sum_draw, SampleShared& s) {
  const int vocab = row.vocab;
  const unsigned long long cut_k = row.cut_k;
  const auto in_top_k = [&](float v, int i) { return cut_k == 0 || rank_key(v, i) >= cut_k; };
  // An item's weight in the selection: its fixed-point mass, or 1; 0 leaves it out (by mass:
  // no mass, so it can never be where the prefix reaches the goal).
  const auto item_weight = [&](float v) -> long long {
    if (!by_mass) return 1;
    return v >= kNoWeightBelow ? row.weight_of(v) : 0;
  };
  RankCut out;

  // Pass 1: bins below the top, the goal, the class.
  const MassStep l0 = mass_step(
      vocab, kMassBins,
      [&](int i, int& d, long long& w) {
        const float v = row.scaled(i);
        if (!in_top_k(v, i)) return false;
        w = item_weight(v);
        d = kMassBins - 1 - rank_bin(v);
        return w > 0;
      },
      0, /*from_total=*/by_mass, fraction, static_cast<double>(k), !by_mass, s);
  if (l0.digit < 0) {
    out.status = 3;
    return out;
  }
  const double goal = l0.goal;
  const int b0 = kMassBins - 1 - l0.digit;
  // The class's values lie in (-(b0 + 1)/64, -b0/64] (the last bin: everything lower, -inf
  // included): value keys in [k_lo, k_hi].
  const unsigned k_lo = b0 == kMassBins - 1 ? value_key(-pos_inf())
                                            : value_key(-static_cast<float>(b0 + 1) / kBinsPerUnit);
  const unsigned k_hi = value_key(-static_cast<float>(b0) / kBinsPerUnit);
  int rem = 32 - __clz(static_cast<int>(k_hi - k_lo));  // offset bits still open
  unsigned known = 0;  // the offset's bits above rem, chosen so far
  long long base = l0.before_mass;
  long long count = l0.count;
  const bool listed = l0.count <= kListCap;
  sum_draw = sum_draw && listed;

  if (listed) {
    // Pass 2: gather the class; sum the draw weights of the items above it per warp range.
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int lo = warp_range_begin(vocab, warp);
    const int hi = warp_range_begin(vocab, warp + 1);
    if (threadIdx.x == 0) s.list_n = 0;
    __syncthreads();
    long long above = 0;
    for (int b = lo; b < hi; b += kUnroll * 32) {  // warp-uniform trips
      bool take[kUnroll];
      unsigned key[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int i = b + u * 32 + lane;
        take[u] = false;
        key[u] = 0;
        if (i < hi) {
          const float v = row.scaled(i);
          if (in_top_k(v, i)) {
            const int bin = rank_bin(v);
            if (bin < b0) {
              if (sum_draw && (!row.min_p || v >= row.threshold)) above += row.weight_of(v);
            } else if (bin == b0) {
              take[u] = item_weight(v) > 0;
              key[u] = value_key(v);
            }
          }
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const unsigned ballot = __ballot_sync(kFull, take[u]);
        if (ballot == 0u) continue;
        int slot = 0;
        if (lane == 0) slot = atomicAdd(&s.list_n, __popc(ballot));
        slot = __shfl_sync(kFull, slot, 0) + __popc(ballot & ((1u << lane) - 1u));
        if (take[u]) {
          s.list_key[slot] = key[u];
          s.list_id[slot] = b + u * 32 + lane;
        }
      }
    }
    above = warp_sum_i64(above);
    if (lane == 0) s.warp_mass[warp] = above;
    __syncthreads();
  }
  const int n_list = listed ? s.list_n : 0;

  // Levels: 11-bit digits of the value key's offset from k_lo, within the class.
  while (rem > 0) {
    const int take = min(kMassBits, rem);
    const int shift = rem - take;
    const unsigned digit_mask = (1u << take) - 1u;
    const auto digit_of = [&](unsigned key, int& d) {
      const unsigned off = key - k_lo;
      if ((off >> rem) != known) return false;  // rem ≤ 31
      d = static_cast<int>((off >> shift) & digit_mask);
      return true;
    };
    MassStep step;
    if (listed) {
      step = mass_step(
          n_list, 1 << take,
          [&](int j, int& d, long long& w) {
            const unsigned key = s.list_key[j];
            if (!digit_of(key, d)) return false;
            w = item_weight(key_value(key));
            return true;
          },
          base, false, 0.0, goal, !by_mass, s);
    } else {
      step = mass_step(
          vocab, 1 << take,
          [&](int i, int& d, long long& w) {
            const float v = row.scaled(i);
            if (rank_bin(v) != b0 || !in_top_k(v, i) || !digit_of(value_key(v), d)) {
              return false;
            }
            w = item_weight(v);
            return w > 0;
          },
          base, false, 0.0, goal, !by_mass, s);
    }
    if (step.digit < 0) {
      out.status = 3;
      return out;
    }
    known = (known << take) | static_cast<unsigned>(step.digit);
    rem = shift;
    base = step.before_mass;
    count = step.count;
  }
  const unsigned key = k_lo + known;
  if (count <= 0) {
    out.status = 3;
    return out;
  }

  // Items tying at the key weigh the same: how many of them, in id order, the prefix needs.
  const long long w = item_weight(key_value(key));
  long long lo_n = 1;
  long long hi_n = count;
  while (lo_n < hi_n) {
    const long long mid = lo_n + (hi_n - lo_n) / 2;
    if (static_cast<double>(base + mid * w) >= goal) {
      hi_n = mid;
    } else {
      lo_n = mid + 1;
    }
  }
  const long long need = lo_n;
  unsigned long long cut = static_cast<unsigned long long>(key) << 32;  // every tie
  if (need < count) {
    int id = -1;
    if (listed) {
      // The need-th smallest id among the listed ties.
      if (threadIdx.x == 0) s.found = -1;
      __syncthreads();
      for (int j = threadIdx.x; j < n_list; j += kThreads) {
        if (s.list_key[j] != key) continue;
        long long smaller = 0;
        for (int q = 0; q < n_list; ++q) {
          smaller += s.list_key[q] == key && s.list_id[q] < s.list_id[j] ? 1 : 0;
        }
        if (smaller == need - 1) s.found = s.list_id[j];
      }
      __syncthreads();
      id = s.found;
    } else {
      const auto tie = [&](int i) -> long long {
        const float v = row.scaled(i);
        return value_key(v) == key && in_top_k(v, i) ? 1 : 0;
      };
      warp_range_sums(vocab, tie, s);
      id = find_crossing(
          vocab, tie, [&](long long c) { return c >= need; }, s);
    }
    if (id < 0) {
      out.status = 4;
      return out;
    }
    cut |= static_cast<unsigned>(~id);
  }
  out.cut = cut > cut_k ? cut : cut_k;

  if (sum_draw) {
    // Complete the range sums with the listed survivors.
    for (int j = threadIdx.x; j < n_list; j += kThreads) {
      const float v = key_value(s.list_key[j]);
      const int i = s.list_id[j];
      if (rank_key(v, i) < out.cut || (row.min_p && !(v >= row.threshold))) continue;
      atomicAdd(reinterpret_cast<unsigned long long*>(&s.warp_mass[i / warp_span(vocab)]),
                static_cast<unsigned long long>(row.weight_of(v)));
    }
    __syncthreads();
    out.range_sums = true;
  }
  return out;
}

// The top-n logprobs' selection: the n ≤ 20 largest raw logits (lower id first on ties), their
// rank keys into s.top_keys[0, n) in ranking order. The same bins, of x - max (monotone in x,
// so a bin's items never outrank a higher bin's), counted; the items in and above the bin
// holding the n-th are gathered and ranked among themselves. False (nothing written) when they
// are more than kTopListCap: the caller then takes the radix selection.
inline constexpr int kTopListCap = 1024;

template <typename Value>
__device__ __noinline__ bool top_n_by_bins(int vocab, Value value, float vmax, int n,
                                           SampleShared& s) {
  const auto bin_of = [&](float x) { return rank_bin(__fsub_rn(x, vmax)); };
  const MassStep l0 = mass_step(
      vocab, kMassBins,
      [&](int i, int& d, long long& w) {
        d = kMassBins - 1 - bin_of(value(i));
        w = 1;
        return true;
      },
      0, false, 0.0, static_cast<double>(n), /*counts_only=*/true, s);
  if (l0.digit < 0 || l0.before_mass + l0.count > kTopListCap) return false;
  const int b0 = kMassBins - 1 - l0.digit;
  const int lane = threadIdx.x & 31;
  if (threadIdx.x == 0) s.list_n = 0;
  __syncthreads();
  for (int b = 0; b < vocab; b += kUnroll * kThreads) {  // block-uniform trips
    float x[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = b + u * kThreads + static_cast<int>(threadIdx.x);
      x[u] = i < vocab ? value(i) : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int i = b + u * kThreads + static_cast<int>(threadIdx.x);
      const bool take = i < vocab && bin_of(x[u]) <= b0;
      const unsigned ballot = __ballot_sync(kFull, take);
      if (ballot == 0u) continue;
      int slot = 0;
      if (lane == 0) slot = atomicAdd(&s.list_n, __popc(ballot));
      slot = __shfl_sync(kFull, slot, 0) + __popc(ballot & ((1u << lane) - 1u));
      if (take) {
        s.list_key[slot] = value_key(x[u]);
        s.list_id[slot] = i;
      }
    }
  }
  __syncthreads();
  const int m = s.list_n;
  const auto key_of = [&](int j) {
    return (static_cast<unsigned long long>(s.list_key[j]) << 32) |
           static_cast<unsigned>(~s.list_id[j]);
  };
  for (int j = threadIdx.x; j < m; j += kThreads) {
    const unsigned long long kj = key_of(j);
    int above = 0;
    for (int q = 0; q < m; ++q) above += key_of(q) > kj ? 1 : 0;
    if (above < n) s.top_keys[above] = kj;  // rank keys are distinct: one writer a slot
  }
  __syncthreads();
  return true;
}

}  // namespace zinfer::cuda::sample_detail
