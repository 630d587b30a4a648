// prompt_attention_kernel: one block per (query tile, query head), four warps of 16 query rows
// each. Per key tile of 64 positions (counted from the sequence's first position, tiles
// covering the block's keys), the block stages the tile's keys as halves [key][dim] and its
// values transposed [dim][key] in shared memory (rows padded by 8 halves, so the fragments'
// 32-bit loads hit 32 different banks), then each warp whose rows see any of the tile's keys:
//  - S = Q·Kᵀ: 8 m16n8k16 products a 16-dimension chunk (fp32 sums in the tensor cores);
//  - scale, soft-cap, mask keys outside [first, pos] of each row to -inf;
//  - online softmax per row in fp32: the row's max over the tile from the four lanes that hold
//    it, m ← max(m, that), l and O scaled by exp(m_old − m), p = exp(s − m) rounded to fp16 —
//    l sums the rounded values, a lane its own columns, the four lanes' sums added at the end;
//  - O += P·V: P's C fragments are the A fragments of the second product (no shared memory).
// A tile whose keys are all masked for a row leaves its m (finite: -FLT_MAX to start), l and O
// exactly as they were, so rows beside others in a block keep the bits they have alone.
#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"
#include "kernels/prompt_attention.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kRows = kPromptTileRows;  // 16 a warp
constexpr int kKeys = 64;               // keys a tile (cpu::kF16KeyTile)
constexpr float kHalfMax = 65504.0f;

static_assert(kRows == 16 * kWarps, "a warp's m16 rows");

// Shared-memory layout for head dimensions up to DP (a multiple of 64): halves.
template <int DP>
struct Layout {
  static constexpr int kQS = DP + 8;     // a Q or K row
  static constexpr int kVS = kKeys + 8;  // a transposed V row (one dimension)
  static constexpr int kQ = 0;
  static constexpr int kK = kQ + kRows * kQS;
  static constexpr int kV = kK + kKeys * kQS;
  static constexpr std::size_t kBytes = static_cast<std::size_t>(kV + DP * kVS) * sizeof(__half);
};

// x as fp16, saturating at ±65504 (NaN stays NaN): cpu::f16_saturate_round.
__device__ __forceinline__ __half to_half(float x) {
  return __float2half_rn(x > kHalfMax ? kHalfMax : (x < -kHalfMax ? -kHalfMax : x));
}

__device__ __forceinline__ std::uint32_t pack2(__half lo, __half hi) {
  return static_cast<std::uint32_t>(__half_as_ushort(lo)) |
         (static_cast<std::uint32_t>(__half_as_ushort(hi)) << 16);
}

__device__ __forceinline__ std::uint32_t ld32(const __half* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}

// d = a·b + d on the tensor cores (m16n8k16, fp16 operands, fp32 sums).
__device__ __forceinline__ void mma_f16(float (&d)[4], const std::uint32_t (&a)[4],
                                        std::uint32_t b0, std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four consecutive floats of a row from `src` (elements d..d+3 of hd; zeros past hd), loaded as
// one float4 where the row allows it.
__device__ __forceinline__ float4 load4(const float* src, int d, int hd, bool vec4) {
  if (vec4 && d + 4 <= hd) return *reinterpret_cast<const float4*>(src + d);
  float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (d < hd) v.x = src[d];
  if (d + 1 < hd) v.y = src[d + 1];
  if (d + 2 < hd) v.z = src[d + 2];
  if (d + 3 < hd) v.w = src[d + 3];
  return v;
}

template <int DP>
__global__ void __launch_bounds__(kThreads)
    prompt_attention_kernel(float* out, std::int64_t out_stride, const float* q,
                            std::int64_t q_stride, const float* k_cache, const float* v_cache,
                            AttentionBatch b, AttentionArgs a, PromptTiles tiles) {
  using L = Layout<DP>;
  extern __shared__ __align__(16) unsigned char prompt_smem[];
  __half* const s_q = reinterpret_cast<__half*>(prompt_smem) + L::kQ;  // [kRows][kQS]
  __half* const s_k = reinterpret_cast<__half*>(prompt_smem) + L::kK;  // [kKeys][kQS]
  __half* const s_v = reinterpret_cast<__half*>(prompt_smem) + L::kV;  // [DP][kVS]
  pdl_wait();
  pdl_launch_dependents();

  const int tile = static_cast<int>(blockIdx.x);
  const int h = static_cast<int>(blockIdx.y);
  const std::int64_t row0 = tiles.tiles != nullptr ? tiles.tiles[2 * tile] : tile;
  const int nrows = tiles.tiles != nullptr ? tiles.tiles[2 * tile + 1] : 1;
  const int hd = a.head_dim;
  const int kvh = h / (a.n_head / a.n_head_kv);
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * hd;
  const std::int64_t kv_col = static_cast<std::int64_t>(kvh) * hd;
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t4 = lane & 3;
  const auto first_of = [&](int pos) { return a.window > 0 ? max(0, pos - a.window + 1) : 0; };
  // The block's keys: from the first row's first key to the last row's position.
  const int pos_hi = b.positions[row0 + nrows - 1];
  const int first_lo = first_of(b.positions[row0]);
  const std::int32_t* table = b.block_tables + b.bt_offsets[row0];
  const bool vec4_q =
      hd % 4 == 0 && q_stride % 4 == 0 && reinterpret_cast<std::uintptr_t>(q) % 16 == 0;
  const bool vec4_kv = hd % 4 == 0;  // the cache's rows are dkv floats from a 256-byte base

  // The block's query rows as halves (zeros past its rows and past hd).
  for (int i = tid; i < kRows * (DP / 4); i += kThreads) {
    const int r = i / (DP / 4), d = (i % (DP / 4)) * 4;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < nrows)
      v = load4(q + (row0 + r) * q_stride + static_cast<std::int64_t>(h) * hd, d, hd, vec4_q);
    __half* dst = s_q + r * L::kQS + d;
    *reinterpret_cast<uint2*>(dst) =
        make_uint2(pack2(to_half(v.x), to_half(v.y)), pack2(to_half(v.z), to_half(v.w)));
  }

  // This lane's two rows (g and g + 8 of its warp's 16): positions, first keys; -1 → no row.
  const int wr = warp * 16;
  const int ra = wr + g, rb = wr + g + 8;
  const int pa = ra < nrows ? b.positions[row0 + ra] : -1;
  const int pb = rb < nrows ? b.positions[row0 + rb] : -1;
  const int fa = first_of(pa), fb = first_of(pb);
  // The warp's keys (none when it has no rows).
  const bool warp_rows = wr < nrows;
  const int w_first = warp_rows ? first_of(b.positions[row0 + wr]) : 0;
  const int w_pos = warp_rows ? b.positions[row0 + min(wr + 15, nrows - 1)] : -1;

  float o[DP / 8][4];
#pragma unroll
  for (int n = 0; n < DP / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float ma = -FLT_MAX, mb = -FLT_MAX, la = 0.0f, lb = 0.0f;

  // A key's KV slot, or -1 outside the block's keys (its row of the tile stays zero).
  const auto slot_of = [&](int j) -> std::int64_t {
    if (j < first_lo || j > pos_hi) return -1;
    return static_cast<std::int64_t>(table[j / b.block_size]) * b.block_size + j % b.block_size;
  };
  // The float4s of a tile a thread stages per matrix. Keys go [key][dim] (consecutive threads
  // take consecutive dimensions), values transposed [dim][key] (consecutive threads take
  // consecutive keys: conflict-free 16-bit stores).
  constexpr int kIt = kKeys * (DP / 4) / kThreads;
  const auto k_at = [](int u, int t) {
    const int i = t + u * kThreads;
    return make_int2(i / (DP / 4), (i % (DP / 4)) * 4);
  };
  const auto v_at = [](int u, int t) {
    const int i = t + u * kThreads;
    return make_int2(i % kKeys, (i / kKeys) * 4);
  };
  const auto fetch = [&](const float* cache, int kb, int2 at) {
    const std::int64_t slot = slot_of(kb + at.x);
    return slot >= 0 ? load4(cache + slot * dkv + kv_col, at.y, hd, vec4_kv)
                     : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  };
  const auto put_k = [&](int2 at, float4 v) {
    *reinterpret_cast<uint2*>(s_k + at.x * L::kQS + at.y) =
        make_uint2(pack2(to_half(v.x), to_half(v.y)), pack2(to_half(v.z), to_half(v.w)));
  };
  const auto put_v = [&](int2 at, float4 v) {
    __half* dst = s_v + at.y * L::kVS + at.x;
    dst[0] = to_half(v.x);
    dst[L::kVS] = to_half(v.y);
    dst[2 * L::kVS] = to_half(v.z);
    dst[3 * L::kVS] = to_half(v.w);
  };
  // Head sizes up to 64: the next tile's keys and values are loaded into registers while the
  // warps work on this one (software pipelining; 16 float4s a thread). Larger heads: a tile's
  // loads go in batches of kBatch float4s of each matrix, all of a batch in flight together.
  constexpr bool kPipe = DP == 64;
  constexpr int kBatch = kPipe ? kIt : (DP > 128 ? 4 : 8);
  static_assert(kIt % kBatch == 0, "whole batches");
  float4 rk[kBatch], rv[kBatch];
  const auto load_batch = [&](int kb, int i0) {
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      rk[u] = fetch(k_cache, kb, k_at(i0 + u, tid));
      rv[u] = fetch(v_cache, kb, v_at(i0 + u, tid));
    }
  };
  const auto put_batch = [&](int i0) {
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      put_k(k_at(i0 + u, tid), rk[u]);
      put_v(v_at(i0 + u, tid), rv[u]);
    }
  };
  const int kb0 = first_lo / kKeys * kKeys;
  if constexpr (kPipe) load_batch(kb0, 0);
  for (int kb = kb0; kb <= pos_hi; kb += kKeys) {
    __syncthreads();  // the previous tile's keys and values are read
    if constexpr (kPipe) {
      put_batch(0);
    } else {
#pragma unroll
      for (int i0 = 0; i0 < kIt; i0 += kBatch) {
        load_batch(kb, i0);
        put_batch(i0);
      }
    }
    __syncthreads();
    if constexpr (kPipe) {
      if (kb + kKeys <= pos_hi) load_batch(kb + kKeys, 0);  // in flight during this tile
    }
    // A warp none of whose rows sees a key of this tile skips it (exactly what computing it
    // would give: every key masked).
    if (!warp_rows || kb > w_pos || kb + kKeys - 1 < w_first) continue;

    float s[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < DP / 16; ++kc) {
      const __half* qa = s_q + (wr + g) * L::kQS + 16 * kc + 2 * t4;
      const std::uint32_t af[4] = {ld32(qa), ld32(qa + 8 * L::kQS), ld32(qa + 8),
                                   ld32(qa + 8 * L::kQS + 8)};
#pragma unroll
      for (int n = 0; n < 8; ++n) {
        const __half* kp = s_k + (8 * n + g) * L::kQS + 16 * kc + 2 * t4;
        mma_f16(s[n], af, ld32(kp), ld32(kp + 8));
      }
    }
    // Scores: scaled, soft-capped, masked; the tile's max of each of this lane's rows.
    float mta = -INFINITY, mtb = -INFINITY;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = kb + 8 * n + 2 * t4 + (e & 1);
        const bool upper = e >= 2;
        float v = __fmul_rn(s[n][e], a.scale);
        if (a.softcap > 0.0f) v = __fmul_rn(a.softcap, tanhf(__fdiv_rn(v, a.softcap)));
        const bool keep = upper ? (j >= fb && j <= pb) : (j >= fa && j <= pa);
        s[n][e] = keep ? v : -INFINITY;
        if (upper) {
          mtb = fmaxf(mtb, s[n][e]);
        } else {
          mta = fmaxf(mta, s[n][e]);
        }
      }
    }
    mta = fmaxf(mta, __shfl_xor_sync(0xffffffffu, mta, 1));
    mta = fmaxf(mta, __shfl_xor_sync(0xffffffffu, mta, 2));
    mtb = fmaxf(mtb, __shfl_xor_sync(0xffffffffu, mtb, 1));
    mtb = fmaxf(mtb, __shfl_xor_sync(0xffffffffu, mtb, 2));
    const float na = fmaxf(ma, mta), nb = fmaxf(mb, mtb);
    const float ca = expf(__fsub_rn(ma, na)), cb = expf(__fsub_rn(mb, nb));
    ma = na;
    mb = nb;
    la = __fmul_rn(la, ca);
    lb = __fmul_rn(lb, cb);
#pragma unroll
    for (int n = 0; n < DP / 8; ++n) {
      o[n][0] = __fmul_rn(o[n][0], ca);
      o[n][1] = __fmul_rn(o[n][1], ca);
      o[n][2] = __fmul_rn(o[n][2], cb);
      o[n][3] = __fmul_rn(o[n][3], cb);
    }
    // Probabilities as halves, in the A-fragment order of P·V; l sums the rounded values.
    std::uint32_t pf[4][4];
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      __half ph[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        ph[e] = __float2half_rn(expf(__fsub_rn(s[n][e], e >= 2 ? mb : ma)));
        if (e >= 2) {
          lb = __fadd_rn(lb, __half2float(ph[e]));
        } else {
          la = __fadd_rn(la, __half2float(ph[e]));
        }
      }
      pf[n / 2][(n % 2) * 2] = pack2(ph[0], ph[1]);
      pf[n / 2][(n % 2) * 2 + 1] = pack2(ph[2], ph[3]);
    }
#pragma unroll
    for (int kc = 0; kc < 4; ++kc) {
#pragma unroll
      for (int n = 0; n < DP / 8; ++n) {
        const __half* vp = s_v + (8 * n + g) * L::kVS + 16 * kc + 2 * t4;
        mma_f16(o[n], pf[kc], ld32(vp), ld32(vp + 8));
      }
    }
  }

  // The four lanes' sums of each row; the sink; out = O · f / l.
  la = __fadd_rn(la, __shfl_xor_sync(0xffffffffu, la, 1));
  la = __fadd_rn(la, __shfl_xor_sync(0xffffffffu, la, 2));
  lb = __fadd_rn(lb, __shfl_xor_sync(0xffffffffu, lb, 1));
  lb = __fadd_rn(lb, __shfl_xor_sync(0xffffffffu, lb, 2));
  float fa_ = 1.0f, fb_ = 1.0f;
  if (a.sinks != nullptr) {
    const float sink = a.sinks[h];
    const float xa = fmaxf(ma, sink), xb = fmaxf(mb, sink);
    fa_ = expf(__fsub_rn(ma, xa));
    fb_ = expf(__fsub_rn(mb, xb));
    la = __fadd_rn(__fmul_rn(la, fa_), expf(__fsub_rn(sink, xa)));
    lb = __fadd_rn(__fmul_rn(lb, fb_), expf(__fsub_rn(sink, xb)));
  }
  const float ia = __fdiv_rn(1.0f, la), ib = __fdiv_rn(1.0f, lb);
  float* oa = out + (row0 + ra) * out_stride + static_cast<std::int64_t>(h) * hd;
  float* ob = out + (row0 + rb) * out_stride + static_cast<std::int64_t>(h) * hd;
#pragma unroll
  for (int n = 0; n < DP / 8; ++n) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int d = 8 * n + 2 * t4 + e;
      if (d >= hd) continue;
      if (ra < nrows) oa[d] = __fmul_rn(__fmul_rn(o[n][e], fa_), ia);
      if (rb < nrows) ob[d] = __fmul_rn(__fmul_rn(o[n][2 + e], fb_), ib);
    }
  }
}

template <int DP>
cudaError_t launch_dims(MatrixView out, MatrixView q, const float* k_cache, const float* v_cache,
                        const AttentionBatch& batch, const AttentionArgs& a,
                        const PromptTiles& tiles, cudaStream_t stream) {
  constexpr std::size_t kSmem = Layout<DP>::kBytes;
  if (kSmem > 48 * 1024) {
    const cudaError_t e =
        cudaFuncSetAttribute(prompt_attention_kernel<DP>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>(tiles.n), static_cast<unsigned>(a.n_head));
  launch_pdl(prompt_attention_kernel<DP>, grid, dim3(kThreads), kSmem, stream, out.data, out.stride,
             q.data, q.stride, k_cache, v_cache, batch, a, tiles);
  return cudaSuccess;
}

}  // namespace

Status launch_prompt_attention(MatrixView out, MatrixView q, const float* k_cache,
                               const float* v_cache, const AttentionBatch& batch,
                               const AttentionArgs& a, const PromptTiles& tiles,
                               cudaStream_t stream) {
  if (a.n_head <= 0 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0 || a.head_dim <= 0 ||
      a.head_dim > 256 || q.cols != static_cast<std::int64_t>(a.n_head) * a.head_dim ||
      out.cols != q.cols || out.rows != q.rows || batch.block_size <= 0 ||
      batch.store.k != nullptr || tiles.n < 0 || a.n_head > kMaxGridY) {
    return make_error(ErrorCode::kInferenceFailed,
                      "prompt_attention: unsupported geometry (n_head " + std::to_string(a.n_head) +
                          ", n_head_kv " + std::to_string(a.n_head_kv) + ", head_dim " +
                          std::to_string(a.head_dim) + ", max head_dim 256)");
  }
  if (tiles.tiles == nullptr && tiles.n > q.rows) {
    return make_error(ErrorCode::kInferenceFailed, "prompt_attention: more tiles than rows");
  }
  if (tiles.n == 0) return ok_status();
  const cudaError_t e =
      a.head_dim <= 64    ? launch_dims<64>(out, q, k_cache, v_cache, batch, a, tiles, stream)
      : a.head_dim <= 128 ? launch_dims<128>(out, q, k_cache, v_cache, batch, a, tiles, stream)
                          : launch_dims<256>(out, q, k_cache, v_cache, batch, a, tiles, stream);
  if (e != cudaSuccess) {
    return make_error(ErrorCode::kInferenceFailed,
                      std::string("prompt_attention: ") + cudaGetErrorString(e));
  }
  ZINFER_CUDA_LAUNCH_CHECK("prompt_attention_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
