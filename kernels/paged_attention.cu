// paged_attention_kernel: one block per (query token, group of up to GM query heads that share
// one KV head), four warps. The query rows are staged in shared memory. The block walks its
// keys in tiles of 128: every thread scores one key of the tile against every head of the group
// (the key row read once, as float4s, so a tile's loads are in flight at once and GQA's heads
// share them), the tile's max and sum of exponentials are block reductions in a fixed order,
// and the block keeps one online softmax per head (running max m, sum l, value sums acc); then
// the threads split the head's dimensions (and, at head sizes up to 64, the keys into two
// lanes) and accumulate the tile's value rows key by key in key order, each row read coalesced.
// Every thread of the block works on every tile, so a short row (decode at a few hundred keys)
// is a few dependent memory round trips, not one warp's serial walk. A head's learned sink
// (when given) joins the max and the denominator at the end as one more logit without a value
// row. All of it is fp32 with every rounding step explicit, and a head's arithmetic is the
// same whatever the group size: the order of every sum depends only on the query's own
// position (batch invariance), and a head computed in a group of 8 has the bits it has alone.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cstdlib>

#include "engine/core/env_switch.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/paged_attention.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = kThreads;  // keys a tile: one a thread when scoring

// Splits of a row with n keys (1 when not splitting): boundaries set by its own length.
__device__ __forceinline__ int split_count(int n, const AttentionSplit& sp) {
  return sp.keys > 0 ? (n + sp.keys - 1) / sp.keys : 1;
}

// Split z's state of (row, head h): m, l, then head_dim un-normalized value sums.
__device__ __forceinline__ float* split_state(const AttentionSplit& sp, const AttentionArgs& a,
                                              std::int64_t row, int h, int z) {
  const std::int64_t i = (row * a.n_head + h) * sp.splits + z;
  return sp.part + i * (a.head_dim + 2);
}

// PL: dimensions per lane of a warp (head_dim <= 32 * PL). HD: the head dimension when known
// at compile time (64, 128, 256: a key row's loads are all issued before the first is used),
// 0 for any other (a runtime loop). GM: most heads a block.
//
// A tile is kTile consecutive keys. Scores: thread i scores key tile + i against every head of
// the block (its key row read once, as float4s; the query rows broadcast from shared memory).
// Softmax: the tile's max and sum of exponentials per head are block reductions in a fixed
// order (lanes by the warp butterfly, then warps 0..3), and every thread keeps the same running
// m and l. Values: the block's threads are kKL key lanes × kDT dimensions (key lane c takes the
// tile's keys c, c + kKL, ...; thread d reads dimensions d, d + kDT of each of its key rows —
// one coalesced row read by kDT threads); the first kU rows are loaded before the softmax's
// reductions so their loads overlap them. Key lanes' sums are added in lane order at the end.
template <int PL, int HD, int GM>
__global__ void __launch_bounds__(kThreads)
    paged_attention_kernel(float* out, std::int64_t out_stride, const float* q,
                           std::int64_t q_stride, float* k_cache, float* v_cache, AttentionBatch b,
                           AttentionArgs a, int head_tiles, AttentionSplit sp) {
  constexpr int kDims = HD > 0 ? HD : 32 * PL;
  constexpr int kKL = kDims <= 64 ? 2 : 1;      // key lanes of the value phase
  constexpr int kDT = kThreads / kKL;           // threads a key lane (its dimensions a pass)
  constexpr int kDP = (kDims + kDT - 1) / kDT;  // dimensions a thread
  // Value rows a thread loads at once: more where a block is alone on its SM (one head a block
  // is the small-batch choice); which rows share a load never changes the order of a sum.
  constexpr int kU = kDP == 1 && GM == 1 ? 32 : 16;
  __shared__ __align__(16) float s_q[GM][kDims];
  __shared__ float s_p[GM][kTile];        // the tile's probabilities
  __shared__ std::int64_t s_slot[kTile];  // the tile's KV slots
  __shared__ float s_max[GM][kWarps];
  __shared__ float s_sum[GM][kWarps];
  __shared__ float s_acc[kKL > 1 ? GM : 1][kKL > 1 ? kDims : 1];  // key lane 1's value sums
  pdl_wait();
  pdl_launch_dependents();

  const std::int64_t row = blockIdx.x;
  const int group = a.n_head / a.n_head_kv;
  const int kvh = static_cast<int>(blockIdx.y) / head_tiles;
  const int h0 = kvh * group + (static_cast<int>(blockIdx.y) % head_tiles) * GM;
  const int gn = min(GM, kvh * group + group - h0);  // heads of this block
  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * a.head_dim;
  const int pos = b.positions[row];
  const int first = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  // This block's keys: all of them, or split z of the row's own splits (whole blocks leave).
  const int n_splits = split_count(pos - first + 1, sp);
  const int z = static_cast<int>(blockIdx.z);
  if (z >= n_splits) return;
  const int lo = sp.keys > 0 ? first + z * sp.keys : first;
  const int hi = sp.keys > 0 ? min(pos, lo + sp.keys - 1) : pos;
  const std::int32_t* table = b.block_tables + b.bt_offsets[row];
  if (b.store.k != nullptr) {  // this row's key and value of this KV head, before any read
    const std::int64_t dst = static_cast<std::int64_t>(b.store.slots[row]) * dkv +
                             static_cast<std::int64_t>(kvh) * a.head_dim;
    const std::int64_t src = static_cast<std::int64_t>(kvh) * a.head_dim;
    for (int d = tid; d < a.head_dim; d += kThreads) {
      k_cache[dst + d] = b.store.k[row * b.store.k_stride + src + d];
      v_cache[dst + d] = b.store.v[row * b.store.v_stride + src + d];
    }
  }
  for (int hh = 0; hh < gn; ++hh) {
    const float* qh = q + row * q_stride + static_cast<std::int64_t>(h0 + hh) * a.head_dim;
    for (int d = tid; d < a.head_dim; d += kThreads) s_q[hh][d] = qh[d];
  }
  __syncthreads();
  const int hd = HD > 0 ? HD : a.head_dim;
  const bool vec4 = hd % 4 == 0;
  const int kl = tid / kDT;  // key lane
  const int dt = tid % kDT;  // first dimension

  float acc[GM][kDP];
  float m[GM];
  float l[GM];
#pragma unroll
  for (int hh = 0; hh < GM; ++hh) {
    m[hh] = -FLT_MAX;
    l[hh] = 0.0f;
#pragma unroll
    for (int i = 0; i < kDP; ++i) acc[hh][i] = 0.0f;
  }
  float vv[kU][kDP];
  // Value rows of the tile's keys j0, j0 + kKL, ... (kU of them; zeros past nk).
  const auto load_values = [&](int j0, int nk) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int jj = j0 + u * kKL;
      const float* vr =
          v_cache + (jj < nk ? s_slot[jj] : 0) * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
#pragma unroll
      for (int i = 0; i < kDP; ++i) {
        const int d = dt + i * kDT;
        vv[u][i] = jj < nk && d < hd ? vr[d] : 0.0f;
      }
    }
  };
  for (int t0 = lo; t0 <= hi; t0 += kTile) {
    const int nk = min(kTile, hi - t0 + 1);
    float s[GM];
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) s[hh] = -FLT_MAX;
    if (tid < nk) {
      const int j = t0 + tid;
      const std::int64_t slot =
          static_cast<std::int64_t>(table[j / b.block_size]) * b.block_size + j % b.block_size;
      s_slot[tid] = slot;
      const float* kr = k_cache + slot * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
      float dot[GM];
#pragma unroll
      for (int hh = 0; hh < GM; ++hh) dot[hh] = 0.0f;
      if (vec4) {
#pragma unroll(HD > 0 ? HD / 4 : 4)
        for (int d = 0; d < hd; d += 4) {
          const float4 kv = *reinterpret_cast<const float4*>(kr + d);
#pragma unroll
          for (int hh = 0; hh < GM; ++hh) {
            if (hh >= gn) break;
            const float4 qv = *reinterpret_cast<const float4*>(&s_q[hh][d]);
            dot[hh] = __fmaf_rn(qv.x, kv.x, dot[hh]);
            dot[hh] = __fmaf_rn(qv.y, kv.y, dot[hh]);
            dot[hh] = __fmaf_rn(qv.z, kv.z, dot[hh]);
            dot[hh] = __fmaf_rn(qv.w, kv.w, dot[hh]);
          }
        }
      } else {
        for (int d = 0; d < a.head_dim; ++d) {
          const float kd = kr[d];
#pragma unroll
          for (int hh = 0; hh < GM; ++hh) {
            if (hh >= gn) break;
            dot[hh] = __fmaf_rn(s_q[hh][d], kd, dot[hh]);
          }
        }
      }
#pragma unroll
      for (int hh = 0; hh < GM; ++hh) {
        s[hh] = __fmul_rn(dot[hh], a.scale);
        if (a.softcap > 0.0f) s[hh] = __fmul_rn(a.softcap, tanhf(__fdiv_rn(s[hh], a.softcap)));
      }
    }
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) {
      if (hh >= gn) break;  // the same in every thread
      const float wm = warp_max(s[hh]);
      if (tid % 32 == 0) s_max[hh][warp] = wm;
    }
    __syncthreads();      // the tile's slots and warp maxima
    load_values(kl, nk);  // in flight during the reductions below
    float corr[GM];
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) {
      corr[hh] = 1.0f;
      if (hh >= gn) break;
      float mt = s_max[hh][0];
#pragma unroll
      for (int w = 1; w < kWarps; ++w) mt = fmaxf(mt, s_max[hh][w]);
      const float m_new = fmaxf(m[hh], mt);
      corr[hh] = expf(__fsub_rn(m[hh], m_new));
      const float p = tid < nk ? expf(__fsub_rn(s[hh], m_new)) : 0.0f;
      s_p[hh][tid] = p;
      const float ws = warp_sum(p);
      if (tid % 32 == 0) s_sum[hh][warp] = ws;
      m[hh] = m_new;
    }
    __syncthreads();  // the tile's probabilities and warp sums
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) {
      if (hh >= gn) break;
      float lt = s_sum[hh][0];
#pragma unroll
      for (int w = 1; w < kWarps; ++w) lt = __fadd_rn(lt, s_sum[hh][w]);
      l[hh] = __fadd_rn(__fmul_rn(l[hh], corr[hh]), lt);
#pragma unroll
      for (int i = 0; i < kDP; ++i) acc[hh][i] = __fmul_rn(acc[hh][i], corr[hh]);
    }
    // This key lane's keys in tile order, kU rows at a time (the first kU already loaded).
    for (int j0 = kl; j0 < nk; j0 += kKL * kU) {
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int jj = j0 + u * kKL;
        if (jj >= nk) break;  // the same in every thread of a warp
#pragma unroll
        for (int hh = 0; hh < GM; ++hh) {
          if (hh >= gn) break;
          const float pj = s_p[hh][jj];
#pragma unroll
          for (int i = 0; i < kDP; ++i) acc[hh][i] = __fmaf_rn(pj, vv[u][i], acc[hh][i]);
        }
      }
      if (j0 + kKL * kU < nk) load_values(j0 + kKL * kU, nk);
    }
    __syncthreads();  // the tile's shared arrays are read before the next tile writes them
  }
  if constexpr (kKL > 1) {  // key lane 1's sums to key lane 0
    if (kl == 1) {
#pragma unroll
      for (int hh = 0; hh < GM; ++hh) {
        if (hh >= gn) break;
#pragma unroll
        for (int i = 0; i < kDP; ++i) {
          const int d = dt + i * kDT;
          if (d < a.head_dim) s_acc[hh][d] = acc[hh][i];
        }
      }
    }
    __syncthreads();
    if (kl != 0) return;
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) {
      if (hh >= gn) break;
#pragma unroll
      for (int i = 0; i < kDP; ++i) {
        const int d = dt + i * kDT;
        if (d < a.head_dim) acc[hh][i] = __fadd_rn(acc[hh][i], s_acc[hh][d]);
      }
    }
  }
  if (n_splits > 1) {  // this split's state, for the combine kernel
#pragma unroll
    for (int hh = 0; hh < GM; ++hh) {
      if (hh >= gn) break;
      float* part = split_state(sp, a, row, h0 + hh, z);
      if (tid == 0) {
        part[0] = m[hh];
        part[1] = l[hh];
      }
#pragma unroll
      for (int i = 0; i < kDP; ++i) {
        const int d = dt + i * kDT;
        if (d < a.head_dim) part[2 + d] = acc[hh][i];
      }
    }
    return;
  }
#pragma unroll
  for (int hh = 0; hh < GM; ++hh) {
    if (hh >= gn) break;
    const int h = h0 + hh;
    // A head's learned sink joins the max and the denominator as one more logit.
    float f = 1.0f;
    float l_all = l[hh];
    if (a.sinks != nullptr) {
      const float sink = a.sinks[h];
      const float m_all = fmaxf(m[hh], sink);
      f = expf(__fsub_rn(m[hh], m_all));
      l_all = __fadd_rn(__fmul_rn(l_all, f), expf(__fsub_rn(sink, m_all)));
    }
    const float inv = __fdiv_rn(1.0f, l_all);
    float* o = out + row * out_stride + static_cast<std::int64_t>(h) * a.head_dim;
#pragma unroll
    for (int i = 0; i < kDP; ++i) {
      const int d = dt + i * kDT;
      if (d < a.head_dim) o[d] = __fmul_rn(__fmul_rn(acc[hh][i], f), inv);
    }
  }
}

// Rows split over their keys: one block per (row, head) merges its splits' states in split
// order — the same steps as the warps' merge above, the sink joining the max and the
// denominator once.
constexpr int kCombineThreads = 128;

__global__ void __launch_bounds__(kCombineThreads)
    attention_combine_kernel(float* out, std::int64_t out_stride, AttentionBatch b, AttentionArgs a,
                             AttentionSplit sp) {
  extern __shared__ float f_split[];  // [sp.splits]
  pdl_wait();
  pdl_launch_dependents();
  const std::int64_t row = blockIdx.x;
  const int h = static_cast<int>(blockIdx.y);
  const int pos = b.positions[row];
  const int first = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const int n = split_count(pos - first + 1, sp);
  if (n <= 1) return;  // written by the attention kernel
  const float* part0 = split_state(sp, a, row, h, 0);
  const int stride = a.head_dim + 2;
  float m_all = -FLT_MAX;
  for (int z = 0; z < n; ++z) m_all = fmaxf(m_all, part0[z * stride]);
  const bool has_sink = a.sinks != nullptr;
  const float sink = has_sink ? a.sinks[h] : 0.0f;
  if (has_sink) m_all = fmaxf(m_all, sink);
  for (int z = static_cast<int>(threadIdx.x); z < n; z += kCombineThreads)
    f_split[z] = expf(__fsub_rn(part0[z * stride], m_all));  // every split saw a key: l > 0
  __syncthreads();
  float l_all = 0.0f;
  for (int z = 0; z < n; ++z)
    l_all = __fadd_rn(l_all, __fmul_rn(part0[z * stride + 1], f_split[z]));
  if (has_sink) l_all = __fadd_rn(l_all, expf(__fsub_rn(sink, m_all)));
  const float inv = __fdiv_rn(1.0f, l_all);
  float* o = out + row * out_stride + static_cast<std::int64_t>(h) * a.head_dim;
  for (int d = static_cast<int>(threadIdx.x); d < a.head_dim; d += kCombineThreads) {
    float v = 0.0f;
    for (int z = 0; z < n; ++z) v = __fadd_rn(v, __fmul_rn(part0[z * stride + 2 + d], f_split[z]));
    o[d] = __fmul_rn(v, inv);
  }
}

// Most heads a block (1, 4 or 8) as set by set_attention_head_group; 0 → ZINFER_ATTN_GROUP
// when set (a measurement switch: the same bits either way), else 0: chosen per launch.
std::atomic<int> g_head_group{0};

int head_group_setting() {
  const int v = g_head_group.load(std::memory_order_relaxed);
  if (v > 0) return v;
  static const int env = [] {
    const char* e = std::getenv("ZINFER_ATTN_GROUP");
    return e != nullptr ? std::atoi(e) : 0;
  }();
  return env;
}

// The chosen most heads a block: grouping cuts the key/value bytes read by the group size but
// also the blocks by as much, so by default it is taken only when the grouped grid still has
// two blocks an SM. Measured on an H200 (zinfer bench, batch-1 decode at 512-640 tokens, Q16
// activations): grouping all 7 heads of a KV head made a step 35% slower at Qwen2.5-0.5B
// shapes (2 KV heads: 2 blocks a token) and 23% slower at 7B (4 KV heads).
int most_heads_a_block(std::int64_t rows, const AttentionArgs& a) {
  const int set = head_group_setting();
  if (set > 0) return set;
  const std::int64_t sms = a.sm_count > 0 ? a.sm_count : 132;
  return rows * a.n_head_kv >= 2 * sms ? 8 : 1;
}

}  // namespace

void set_attention_head_group(int most) { g_head_group.store(most, std::memory_order_relaxed); }

namespace {
std::atomic<std::int32_t> g_split_keys{-1};
std::atomic<int> g_io_fused{-1};
}  // namespace

bool attention_io_fused() {
  const int v = g_io_fused.load(std::memory_order_relaxed);
  if (v >= 0) return v == 1;
  static const bool env = env_flag("ZINFER_ATTN_FUSE", true);
  return env;
}

void set_attention_io_fused(int on) {
  g_io_fused.store(on == 0 || on == 1 ? on : -1, std::memory_order_relaxed);
}

std::int32_t attention_split_keys() {
  const std::int32_t v = g_split_keys.load(std::memory_order_relaxed);
  if (v >= 0) return v;
  static const std::int32_t env = [] {
    const char* e = std::getenv("ZINFER_ATTN_SPLIT");
    const int k = e != nullptr ? std::atoi(e) : 0;
    return k > 0 && k % 32 == 0 ? k : 0;
  }();
  return env;
}

void set_attention_split_keys(std::int32_t keys) {
  g_split_keys.store(keys >= 0 && keys % 32 == 0 ? keys : -1, std::memory_order_relaxed);
}

AttentionSplit attention_split(std::int64_t max_keys) {
  AttentionSplit sp;
  const std::int32_t keys = attention_split_keys();
  if (keys <= 0 || max_keys <= keys) return sp;
  sp.keys = keys;
  // Beyond kMaxGridY splits the launch refuses the split (16M keys at 256 a split).
  sp.splits = static_cast<std::int32_t>(
      std::min<std::int64_t>((max_keys + keys - 1) / keys, std::int64_t{kMaxGridY} + 1));
  return sp;
}

std::size_t attention_split_floats(std::int64_t rows, const AttentionArgs& a,
                                   const AttentionSplit& sp) {
  if (sp.keys <= 0) return 0;
  return static_cast<std::size_t>(rows) * static_cast<std::size_t>(a.n_head) *
         static_cast<std::size_t>(sp.splits) * static_cast<std::size_t>(a.head_dim + 2);
}

Status launch_paged_attention(MatrixView out, MatrixView q, float* k_cache, float* v_cache,
                              const AttentionBatch& batch, const AttentionArgs& a,
                              cudaStream_t stream, const AttentionSplit& split) {
  if (a.n_head <= 0 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0 || a.head_dim <= 0 ||
      a.head_dim > kMaxHeadDim || q.cols != static_cast<std::int64_t>(a.n_head) * a.head_dim ||
      out.cols != q.cols || out.rows != q.rows || batch.block_size <= 0) {
    return make_error(ErrorCode::kInferenceFailed,
                      "paged_attention: unsupported geometry (n_head " + std::to_string(a.n_head) +
                          ", n_head_kv " + std::to_string(a.n_head_kv) + ", head_dim " +
                          std::to_string(a.head_dim) + ", max head_dim " +
                          std::to_string(kMaxHeadDim) + ")");
  }
  if (batch.store.k != nullptr && (batch.store.v == nullptr || batch.store.slots == nullptr)) {
    return make_error(ErrorCode::kInferenceFailed, "paged_attention: incomplete key/value store");
  }
  if (split.keys < 0 || split.keys % 32 != 0 || split.splits < 1 || split.splits > kMaxGridY ||
      (split.keys > 0 && split.part == nullptr)) {
    return make_error(ErrorCode::kInferenceFailed, "paged_attention: bad key split");
  }
  if (q.rows == 0) return ok_status();
  if (q.rows > 0x7fffffff || a.n_head > kMaxGridY) {
    return make_error(ErrorCode::kInferenceFailed,
                      "paged_attention: too many rows or heads for one launch");
  }
  // Heads a block: the whole GQA group up to 8 (its heads share every key and value row read)
  // where the grouped grid still fills the GPU.
  const int group = a.n_head / a.n_head_kv;
  const int most = most_heads_a_block(q.rows, a);
  const int gm = group <= 1 || most == 1 ? 1 : (group <= 4 || most == 4 ? 4 : 8);
  const int head_tiles = (group + gm - 1) / gm;
  const AttentionSplit sp = split.keys > 0 ? split : AttentionSplit{};
  const dim3 grid(static_cast<unsigned>(q.rows), static_cast<unsigned>(a.n_head_kv * head_tiles),
                  static_cast<unsigned>(sp.splits));
  const auto launch = [&](auto kernel) {
    launch_pdl(kernel, grid, dim3(kThreads), 0, stream, out.data, out.stride, q.data, q.stride,
               k_cache, v_cache, batch, a, head_tiles, sp);
  };
  const auto by_dims = [&](auto gmc) {
    constexpr int kG = decltype(gmc)::value;
    if (a.head_dim == 64) {
      launch(paged_attention_kernel<2, 64, kG>);
    } else if (a.head_dim == 128) {
      launch(paged_attention_kernel<4, 128, kG>);
    } else if (a.head_dim == 256) {
      launch(paged_attention_kernel<8, 256, kG>);
    } else if (a.head_dim <= 64) {
      launch(paged_attention_kernel<2, 0, kG>);
    } else if (a.head_dim <= 128) {
      launch(paged_attention_kernel<4, 0, kG>);
    } else {
      launch(paged_attention_kernel<kMaxHeadDim / 32, 0, kG>);
    }
  };
  if (gm == 1) {
    by_dims(std::integral_constant<int, 1>{});
  } else if (gm == 4) {
    by_dims(std::integral_constant<int, 4>{});
  } else {
    by_dims(std::integral_constant<int, 8>{});
  }
  ZINFER_CUDA_LAUNCH_CHECK("paged_attention_kernel");
  if (sp.splits > 1) {
    const std::size_t smem = static_cast<std::size_t>(sp.splits) * sizeof(float);
    if (smem > 48 * 1024) {
      return make_error(ErrorCode::kInferenceFailed, "paged_attention: too many key splits");
    }
    launch_pdl(attention_combine_kernel,
               dim3(static_cast<unsigned>(q.rows), static_cast<unsigned>(a.n_head)),
               dim3(kCombineThreads), smem, stream, out.data, out.stride, batch, a, sp);
    ZINFER_CUDA_LAUNCH_CHECK("attention_combine_kernel");
  }
  return ok_status();
}

}  // namespace zinfer::cuda
