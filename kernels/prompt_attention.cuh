// The prompt attention kernel's body (prompt_attention.cu), written once against a thread
// context so the CPU tests run it too (tests/engine/quant/prompt_attention_host_test.cpp, on
// tests/engine/quant/cuda_block_emulator.h). The context provides thread() (0..127), tile()
// and head() (the block's query tile and query head), smem() (Layout<DP>::kBytes, 16-byte
// aligned), sync() (__syncthreads), mma_f16(d, a, b0, b1) (mma.sync m16n8k16, fp16 operands,
// fp32 sums, d = a·b + d) and shfl_xor(v, mask) (__shfl_xor_sync over the whole warp).
//
// One block: a tile of up to 64 query rows of one sequence × one query head; four warps of 16
// rows. Per key tile of 64 positions (counted from the sequence's first position, the tiles
// covering the block's keys) the block stages the tile's keys as halves [key][dim] and its
// values transposed [dim][key] (rows padded by 8 halves, so the fragments' 32-bit loads hit 32
// different banks), then each warp whose rows see any of the tile's keys:
//  - S = Q·Kᵀ: 8 m16n8k16 products a 16-dimension chunk;
//  - scale, soft-cap, mask keys outside [first, pos] of each row to -inf;
//  - online softmax per row in fp32: the tile's max of a row from the four lanes that hold it,
//    m ← max(m, that), l and O scaled by exp(m_old − m), p = exp(s − m) rounded to fp16 — l sums
//    the rounded values, a lane its own columns, the four lanes' sums added at the end;
//  - O += P·V: P's accumulator fragments are the A fragments of the second product.
// A tile whose keys are all masked for a row leaves its m (finite: -FLT_MAX to start), l and O
// exactly as they were, so rows beside others in a block keep the bits they have alone. The
// numerics are cpu::f16_tile_attention's (engine/backend/cpu/f16_tile_attention.h).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

#ifndef __CUDA_ARCH__
#include "engine/quant/fp16.h"
#endif
#ifdef __CUDACC__
#include <cuda_fp16.h>
#endif

namespace zinfer::cuda::prompt_attn {

inline constexpr int kWarps = 4;
inline constexpr int kThreads = kWarps * 32;
inline constexpr int kRows = 16 * kWarps;  // query rows a block (kPromptTileRows)
inline constexpr int kKeys = 64;           // keys a tile (cpu::kF16KeyTile)
inline constexpr float kHalfMax = 65504.0f;

// A launch, as raw device pointers (no CUDA types: the CPU tests build it too).
struct Params {
  float* out = nullptr;  // [rows][out_stride]: query head h at columns [h·head_dim, +head_dim)
  std::int64_t out_stride = 0;
  const float* q = nullptr;  // [rows][q_stride], the same columns
  std::int64_t q_stride = 0;
  const float* k_cache = nullptr;  // one layer's [n_slots][n_head_kv · head_dim]
  const float* v_cache = nullptr;
  const std::int32_t* positions = nullptr;     // [rows] position of each query row
  const std::int32_t* bt_offsets = nullptr;    // [rows] start of its sequence's block table
  const std::int32_t* block_tables = nullptr;  // concatenated block tables
  std::int32_t block_size = 16;
  std::int32_t n_head = 0, n_head_kv = 0, head_dim = 0;
  std::int32_t window = 0;  // keys with pos > q_pos - window; 0 → all
  float scale = 1.0f, softcap = 0.0f;
  const float* sinks = nullptr;         // [n_head] or null
  const std::int32_t* tiles = nullptr;  // [n][2]: first row, rows; null → tile i is row i
};

// Shared memory for head dimensions up to DP (64, 128 or 256), in halves.
template <int DP>
struct Layout {
  static constexpr int kQS = DP + 8;     // a Q or K row
  static constexpr int kVS = kKeys + 8;  // a transposed V row (one dimension)
  static constexpr int kQ = 0;
  static constexpr int kK = kQ + kRows * kQS;
  static constexpr int kV = kK + kKeys * kQS;
  static constexpr int kSlot = kV + DP * kVS;  // then kKeys int32 KV slots (even: 4-aligned)
  static constexpr std::size_t kBytes = static_cast<std::size_t>(kSlot) * 2 + kKeys * 4;
};

// x as fp16 bits, saturating at ±65504 (NaN stays NaN): cpu::f16_saturate_round.
ZINFER_HD std::uint16_t half_bits(float x) {
  const float c = x > kHalfMax ? kHalfMax : (x < -kHalfMax ? -kHalfMax : x);
#ifdef __CUDA_ARCH__
  return __half_as_ushort(__float2half_rn(c));
#else
  return quant::f32_to_fp16(c);
#endif
}

ZINFER_HD float half_value(std::uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  return quant::fp16_to_f32(h);
#endif
}

ZINFER_HD std::uint32_t pack2(std::uint16_t lo, std::uint16_t hi) {
  return static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16);
}

ZINFER_HD int max_i(int a, int b) { return a > b ? a : b; }
ZINFER_HD int min_i(int a, int b) { return a < b ? a : b; }

struct F4 {
  float x = 0.0f, y = 0.0f, z = 0.0f, w = 0.0f;
};

// Elements d..d+3 of a row (zeros past hd), one 16-byte load where the row allows it.
ZINFER_HD F4 load4(const float* src, int d, int hd, bool vec4) {
  F4 v;
#ifdef __CUDA_ARCH__
  if (vec4 && d + 4 <= hd) {
    const float4 f = *reinterpret_cast<const float4*>(src + d);
    return F4{f.x, f.y, f.z, f.w};
  }
#else
  (void)vec4;
#endif
  if (d < hd) v.x = src[d];
  if (d + 1 < hd) v.y = src[d + 1];
  if (d + 2 < hd) v.z = src[d + 2];
  if (d + 3 < hd) v.w = src[d + 3];
  return v;
}

ZINFER_HD std::uint32_t ld32(const std::uint16_t* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}

// Two 32-bit words at p (8-byte aligned): one 64-bit store on the device.
ZINFER_HD void st64(std::uint16_t* p, std::uint32_t lo, std::uint32_t hi) {
#ifdef __CUDA_ARCH__
  *reinterpret_cast<uint2*>(p) = make_uint2(lo, hi);
#else
  std::uint32_t* w = reinterpret_cast<std::uint32_t*>(p);
  w[0] = lo;
  w[1] = hi;
#endif
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <int DP, typename Ctx>
ZINFER_HD void prompt_attention_body(const Params& p, Ctx& x) {
  using L = Layout<DP>;
  auto* const s_q = reinterpret_cast<std::uint16_t*>(x.smem()) + L::kQ;  // [kRows][kQS]
  auto* const s_k = reinterpret_cast<std::uint16_t*>(x.smem()) + L::kK;  // [kKeys][kQS]
  auto* const s_v = reinterpret_cast<std::uint16_t*>(x.smem()) + L::kV;  // [DP][kVS]
  // [kKeys] the KV slot of each key of the tile being loaded, -1 outside the block's keys
  auto* const s_slot =
      reinterpret_cast<std::int32_t*>(reinterpret_cast<std::uint16_t*>(x.smem()) + L::kSlot);
  const int tile = x.tile(), h = x.head();
  const std::int64_t row0 = p.tiles != nullptr ? p.tiles[2 * tile] : tile;
  const int nrows = p.tiles != nullptr ? p.tiles[2 * tile + 1] : 1;
  const int hd = p.head_dim;
  const int kvh = h / (p.n_head / p.n_head_kv);
  const std::int64_t dkv = static_cast<std::int64_t>(p.n_head_kv) * hd;
  const std::int64_t kv_col = static_cast<std::int64_t>(kvh) * hd;
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t4 = lane & 3;
  const auto first_of = [&](int pos) { return p.window > 0 ? max_i(0, pos - p.window + 1) : 0; };
  // The block's keys: from the first row's first key to the last row's position.
  const int pos_hi = p.positions[row0 + nrows - 1];
  const int first_lo = first_of(p.positions[row0]);
  const std::int32_t* table = p.block_tables + p.bt_offsets[row0];
  const bool vec4_q =
      hd % 4 == 0 && p.q_stride % 4 == 0 && reinterpret_cast<std::uintptr_t>(p.q) % 16 == 0;
  const bool vec4_kv = hd % 4 == 0 && reinterpret_cast<std::uintptr_t>(p.k_cache) % 16 == 0 &&
                       reinterpret_cast<std::uintptr_t>(p.v_cache) % 16 == 0;

  // The block's query rows as halves (zeros past its rows and past hd).
  for (int i = tid; i < kRows * (DP / 4); i += kThreads) {
    const int r = i / (DP / 4), d = (i % (DP / 4)) * 4;
    F4 v;
    if (r < nrows)
      v = load4(p.q + (row0 + r) * p.q_stride + static_cast<std::int64_t>(h) * hd, d, hd, vec4_q);
    st64(s_q + r * L::kQS + d, pack2(half_bits(v.x), half_bits(v.y)),
         pack2(half_bits(v.z), half_bits(v.w)));
  }

  // This lane's two rows (g and g + 8 of its warp's 16): positions, first keys; -1 → no row.
  const int wr = warp * 16;
  const int ra = wr + g, rb = wr + g + 8;
  const int pa = ra < nrows ? p.positions[row0 + ra] : -1;
  const int pb = rb < nrows ? p.positions[row0 + rb] : -1;
  const int fa = first_of(pa), fb = first_of(pb);
  // The warp's keys (none when it has no rows).
  const bool warp_rows = wr < nrows;
  const int w_first = warp_rows ? first_of(p.positions[row0 + wr]) : 0;
  const int w_pos = warp_rows ? p.positions[row0 + min_i(wr + 15, nrows - 1)] : -1;

  float o[DP / 8][4];
  ZINFER_UNROLL
  for (int n = 0; n < DP / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float ma = -FLT_MAX, mb = -FLT_MAX, la = 0.0f, lb = 0.0f;

  // The KV slots of keys [kb, kb + 64), one a thread of the first 64, into s_slot: -1 outside
  // the block's keys (their rows of the tile stay zero). Read by the next loads after a sync.
  const auto fill_slots = [&](int kb) {
    if (tid >= kKeys) return;
    const int j = kb + tid;
    s_slot[tid] =
        j < first_lo || j > pos_hi ? -1 : table[j / p.block_size] * p.block_size + j % p.block_size;
  };
  // The float4s of a tile a thread stages per matrix. Keys go [key][dim] (consecutive threads
  // take consecutive dimensions), values transposed [dim][key] (consecutive threads take
  // consecutive keys: conflict-free 16-bit stores).
  constexpr int kIt = kKeys * (DP / 4) / kThreads;
  const auto k_at = [](int u, int t, int& key, int& d) {
    const int i = t + u * kThreads;
    key = i / (DP / 4);
    d = (i % (DP / 4)) * 4;
  };
  const auto v_at = [](int u, int t, int& key, int& d) {
    const int i = t + u * kThreads;
    key = i % kKeys;
    d = (i / kKeys) * 4;
  };
  const auto fetch = [&](const float* cache, int key, int d) {
    const std::int32_t slot = s_slot[key];
    return slot >= 0 ? load4(cache + slot * dkv + kv_col, d, hd, vec4_kv) : F4{};
  };
  // Head sizes up to 64: the next tile's keys and values are loaded into registers while the
  // warps work on this one (software pipelining; 16 float4s a thread). Larger heads: a tile's
  // loads go in batches of kBatch float4s of each matrix, all of a batch in flight together.
  constexpr bool kPipe = DP == 64;
  constexpr int kBatch = kPipe ? kIt : (DP > 128 ? 4 : 8);
  static_assert(kIt % kBatch == 0, "whole batches");
  F4 rk[kBatch], rv[kBatch];
  const auto load_batch = [&](int i0) {  // the tile whose slots s_slot holds
    ZINFER_UNROLL
    for (int u = 0; u < kBatch; ++u) {
      int key = 0, d = 0;
      k_at(i0 + u, tid, key, d);
      rk[u] = fetch(p.k_cache, key, d);
      v_at(i0 + u, tid, key, d);
      rv[u] = fetch(p.v_cache, key, d);
    }
  };
  const auto put_batch = [&](int i0) {
    ZINFER_UNROLL
    for (int u = 0; u < kBatch; ++u) {
      int key = 0, d = 0;
      k_at(i0 + u, tid, key, d);
      st64(s_k + key * L::kQS + d, pack2(half_bits(rk[u].x), half_bits(rk[u].y)),
           pack2(half_bits(rk[u].z), half_bits(rk[u].w)));
      v_at(i0 + u, tid, key, d);
      std::uint16_t* dst = s_v + d * L::kVS + key;
      dst[0] = half_bits(rv[u].x);
      dst[L::kVS] = half_bits(rv[u].y);
      dst[2 * L::kVS] = half_bits(rv[u].z);
      dst[3 * L::kVS] = half_bits(rv[u].w);
    }
  };
  const int kb0 = first_lo / kKeys * kKeys;
  if constexpr (kPipe) {
    fill_slots(kb0);
    x.sync();
    load_batch(0);
  }
  for (int kb = kb0; kb <= pos_hi; kb += kKeys) {
    x.sync();  // the previous tile's keys, values and slots are read
    if constexpr (kPipe) {
      put_batch(0);
      if (kb + kKeys <= pos_hi) fill_slots(kb + kKeys);
    } else {
      fill_slots(kb);
      x.sync();
      ZINFER_UNROLL
      for (int i0 = 0; i0 < kIt; i0 += kBatch) {
        load_batch(i0);
        put_batch(i0);
      }
    }
    x.sync();
    if constexpr (kPipe) {
      if (kb + kKeys <= pos_hi) load_batch(0);  // the next tile, in flight during this one
    }
    // A warp none of whose rows sees a key of this tile skips it (exactly what computing it
    // would give: every key masked).
    if (!warp_rows || kb > w_pos || kb + kKeys - 1 < w_first) continue;

    float s[8][4];
    ZINFER_UNROLL
    for (int n = 0; n < 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
    ZINFER_UNROLL
    for (int kc = 0; kc < DP / 16; ++kc) {
      const std::uint16_t* qa = s_q + (wr + g) * L::kQS + 16 * kc + 2 * t4;
      const std::uint32_t af[4] = {ld32(qa), ld32(qa + 8 * L::kQS), ld32(qa + 8),
                                   ld32(qa + 8 * L::kQS + 8)};
      ZINFER_UNROLL
      for (int n = 0; n < 8; ++n) {
        const std::uint16_t* kp = s_k + (8 * n + g) * L::kQS + 16 * kc + 2 * t4;
        x.mma_f16(s[n], af, ld32(kp), ld32(kp + 8));
      }
    }
    // Scores: scaled, soft-capped, masked; the tile's max of each of this lane's rows.
    float mta = -INFINITY, mtb = -INFINITY;
    ZINFER_UNROLL
    for (int n = 0; n < 8; ++n) {
      ZINFER_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int j = kb + 8 * n + 2 * t4 + (e & 1);
        const bool upper = e >= 2;
        float v = mul_rn(s[n][e], p.scale);
        if (p.softcap > 0.0f) v = mul_rn(p.softcap, tanhf(div_rn(v, p.softcap)));
        const bool keep = upper ? (j >= fb && j <= pb) : (j >= fa && j <= pa);
        s[n][e] = keep ? v : -INFINITY;
        if (upper) {
          mtb = fmaxf(mtb, s[n][e]);
        } else {
          mta = fmaxf(mta, s[n][e]);
        }
      }
    }
    mta = fmaxf(mta, x.shfl_xor(mta, 1));
    mta = fmaxf(mta, x.shfl_xor(mta, 2));
    mtb = fmaxf(mtb, x.shfl_xor(mtb, 1));
    mtb = fmaxf(mtb, x.shfl_xor(mtb, 2));
    const float na = fmaxf(ma, mta), nb = fmaxf(mb, mtb);
    const float ca = expf(sub_rn(ma, na)), cb = expf(sub_rn(mb, nb));
    ma = na;
    mb = nb;
    la = mul_rn(la, ca);
    lb = mul_rn(lb, cb);
    ZINFER_UNROLL
    for (int n = 0; n < DP / 8; ++n) {
      o[n][0] = mul_rn(o[n][0], ca);
      o[n][1] = mul_rn(o[n][1], ca);
      o[n][2] = mul_rn(o[n][2], cb);
      o[n][3] = mul_rn(o[n][3], cb);
    }
    // Probabilities as halves, in the A-fragment order of P·V; l sums the rounded values.
    std::uint32_t pf[4][4];
    ZINFER_UNROLL
    for (int n = 0; n < 8; ++n) {
      std::uint16_t ph[4];
      ZINFER_UNROLL
      for (int e = 0; e < 4; ++e) {
        ph[e] = half_bits(expf(sub_rn(s[n][e], e >= 2 ? mb : ma)));
        if (e >= 2) {
          lb = add_rn(lb, half_value(ph[e]));
        } else {
          la = add_rn(la, half_value(ph[e]));
        }
      }
      pf[n / 2][(n % 2) * 2] = pack2(ph[0], ph[1]);
      pf[n / 2][(n % 2) * 2 + 1] = pack2(ph[2], ph[3]);
    }
    ZINFER_UNROLL
    for (int kc = 0; kc < 4; ++kc) {
      ZINFER_UNROLL
      for (int n = 0; n < DP / 8; ++n) {
        const std::uint16_t* vp = s_v + (8 * n + g) * L::kVS + 16 * kc + 2 * t4;
        x.mma_f16(o[n], pf[kc], ld32(vp), ld32(vp + 8));
      }
    }
  }

  // The four lanes' sums of each row; the sink; out = O · f / l.
  la = add_rn(la, x.shfl_xor(la, 1));
  la = add_rn(la, x.shfl_xor(la, 2));
  lb = add_rn(lb, x.shfl_xor(lb, 1));
  lb = add_rn(lb, x.shfl_xor(lb, 2));
  float fa_ = 1.0f, fb_ = 1.0f;
  if (p.sinks != nullptr) {
    const float sink = p.sinks[h];
    const float xa = fmaxf(ma, sink), xb = fmaxf(mb, sink);
    fa_ = expf(sub_rn(ma, xa));
    fb_ = expf(sub_rn(mb, xb));
    la = add_rn(mul_rn(la, fa_), expf(sub_rn(sink, xa)));
    lb = add_rn(mul_rn(lb, fb_), expf(sub_rn(sink, xb)));
  }
  const float ia = div_rn(1.0f, la), ib = div_rn(1.0f, lb);
  float* oa = p.out + (row0 + ra) * p.out_stride + static_cast<std::int64_t>(h) * hd;
  float* ob = p.out + (row0 + rb) * p.out_stride + static_cast<std::int64_t>(h) * hd;
  ZINFER_UNROLL
  for (int n = 0; n < DP / 8; ++n) {
    ZINFER_UNROLL
    for (int e = 0; e < 2; ++e) {
      const int d = 8 * n + 2 * t4 + e;
      if (d >= hd) continue;
      if (ra < nrows) oa[d] = mul_rn(mul_rn(o[n][e], fa_), ia);
      if (rb < nrows) ob[d] = mul_rn(mul_rn(o[n][2 + e], fb_), ib);
    }
  }
}

}  // namespace zinfer::cuda::prompt_attn
