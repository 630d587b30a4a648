// paged_attention_kernel: one block per (query token, head), kWarps warps. The query row is
// staged in shared memory. Warps take chunks of 32 consecutive keys (warp w: keys first+32w,
// first+32(w+kWarps), ...); in a chunk each lane scores one key (its slot looked up in the
// block table, the key row read as float4s), so 32 keys' loads are in flight at once. Each
// warp keeps an online softmax (running max m, sum l, weighted values acc, lane l holding
// dims l, l+32, ...): per chunk the scores' max and the exponentials' sum are warp
// reductions, and the values are accumulated key by key in chunk order. The warps' partial
// states are merged in shared memory at the end, where a head's learned sink (when given)
// joins the max and the denominator as one more logit without a value row. All of it is fp32
// and the order of every sum depends only on the query's own position (batch invariance).
#include <cfloat>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/paged_attention.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;

// PL: dimensions per lane (head_dim <= 32 * PL), kUnroll: value rows loaded ahead. HD: the
// head dimension when known at compile time (64, 128, 256: the key row's loads are all issued
// before the first is used), 0 for any other (a runtime loop).
template <int PL, int HD>
__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(float* out, std::int64_t out_stride, const float* q,
                           std::int64_t q_stride, const float* k_cache, const float* v_cache,
                           AttentionBatch b, AttentionArgs a) {
  __shared__ float s_m[kWarps];
  __shared__ float s_l[kWarps];
  __shared__ float s_acc[kWarps][kMaxHeadDim];
  __shared__ __align__(16) float s_q[kMaxHeadDim];

  const std::int64_t row = blockIdx.x;
  const int h = static_cast<int>(blockIdx.y);
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int kvh = h / (a.n_head / a.n_head_kv);
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * a.head_dim;
  const int pos = b.positions[row];
  const int first = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const std::int32_t* table = b.block_tables + b.bt_offsets[row];
  const float* qh = q + row * q_stride + static_cast<std::int64_t>(h) * a.head_dim;
  for (int d = static_cast<int>(threadIdx.x); d < a.head_dim; d += kWarps * 32) s_q[d] = qh[d];
  __syncthreads();
  const int hd = HD > 0 ? HD : a.head_dim;
  const bool vec4 = hd % 4 == 0;
  constexpr int kUnroll = PL <= 2 ? 16 : (PL <= 4 ? 8 : 4);

  float acc[PL];
#pragma unroll
  for (int i = 0; i < PL; ++i) acc[i] = 0.0f;
  float m = -FLT_MAX;
  float l = 0.0f;
  for (int c = first + 32 * warp; c <= pos; c += 32 * kWarps) {
    const int j = c + lane;
    const bool valid = j <= pos;
    std::int64_t slot = 0;
    float s = -FLT_MAX;
    if (valid) {
      slot = static_cast<std::int64_t>(table[j / b.block_size]) * b.block_size + j % b.block_size;
      const float* kr = k_cache + slot * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
      float dot = 0.0f;
      if (vec4) {
#pragma unroll(HD > 0 ? HD / 4 : 4)
        for (int d = 0; d < hd; d += 4) {
          const float4 kv = *reinterpret_cast<const float4*>(kr + d);
          const float4 qv = *reinterpret_cast<const float4*>(s_q + d);
          dot = fmaf(qv.x, kv.x, dot);
          dot = fmaf(qv.y, kv.y, dot);
          dot = fmaf(qv.z, kv.z, dot);
          dot = fmaf(qv.w, kv.w, dot);
        }
      } else {
        for (int d = 0; d < a.head_dim; ++d) dot = fmaf(s_q[d], kr[d], dot);
      }
      s = dot * a.scale;
      if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    }
    const float m_new = fmaxf(m, warp_max(s));
    const float corr = expf(m - m_new);
    const float p = valid ? expf(s - m_new) : 0.0f;
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int i = 0; i < PL; ++i) acc[i] *= corr;
    // Values: kUnroll keys' rows are loaded before any is accumulated, so their loads are in
    // flight together; every dimension still accumulates the keys in chunk order.
    const int n_keys = min(32, pos - c + 1);
    for (int j0 = 0; j0 < n_keys; j0 += kUnroll) {
      float pj[kUnroll];
      float vv[kUnroll][PL];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int jj = j0 + u;  // the same in every lane
        pj[u] = __shfl_sync(0xffffffffu, p, jj & 31);
        const std::int64_t slot_j = __shfl_sync(0xffffffffu, slot, jj & 31);
        const float* vr = v_cache + slot_j * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
#pragma unroll
        for (int i = 0; i < PL; ++i) {
          const int d = lane + 32 * i;
          vv[u][i] = jj < n_keys && d < a.head_dim ? vr[d] : 0.0f;
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (j0 + u < n_keys) {
#pragma unroll
          for (int i = 0; i < PL; ++i) acc[i] = fmaf(pj[u], vv[u][i], acc[i]);
        }
      }
    }
    m = m_new;
  }
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < PL; ++i) {
    const int d = lane + 32 * i;
    if (d < a.head_dim) s_acc[warp][d] = acc[i];
  }
  __syncthreads();
  float m_all = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) m_all = fmaxf(m_all, s_m[w]);
  const bool has_sink = a.sinks != nullptr;
  const float sink = has_sink ? a.sinks[h] : 0.0f;
  if (has_sink) m_all = fmaxf(m_all, sink);
  float l_all = 0.0f;
  float f[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    // A warp that saw no key keeps l = 0, so its factor does not matter.
    f[w] = s_l[w] > 0.0f ? expf(s_m[w] - m_all) : 0.0f;
    l_all += s_l[w] * f[w];
  }
  if (has_sink) l_all += expf(sink - m_all);
  const float inv = 1.0f / l_all;
  float* o = out + row * out_stride + static_cast<std::int64_t>(h) * a.head_dim;
  for (int d = static_cast<int>(threadIdx.x); d < a.head_dim; d += kWarps * 32) {
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += s_acc[w][d] * f[w];
    o[d] = v * inv;
  }
}

}  // namespace

Status launch_paged_attention(MatrixView out, MatrixView q, const float* k_cache,
                              const float* v_cache, const AttentionBatch& batch,
                              const AttentionArgs& a, cudaStream_t stream) {
  if (a.n_head <= 0 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0 || a.head_dim <= 0 ||
      a.head_dim > kMaxHeadDim || q.cols != static_cast<std::int64_t>(a.n_head) * a.head_dim ||
      out.cols != q.cols || out.rows != q.rows || batch.block_size <= 0) {
    return make_error(ErrorCode::kInferenceFailed,
                      "paged_attention: unsupported geometry (n_head " + std::to_string(a.n_head) +
                          ", n_head_kv " + std::to_string(a.n_head_kv) + ", head_dim " +
                          std::to_string(a.head_dim) + ", max head_dim " +
                          std::to_string(kMaxHeadDim) + ")");
  }
  if (q.rows == 0) return ok_status();
  if (q.rows > 0x7fffffff || a.n_head > kMaxGridY) {
    return make_error(ErrorCode::kInferenceFailed,
                      "paged_attention: too many rows or heads for one launch");
  }
  const dim3 grid(static_cast<unsigned>(q.rows), static_cast<unsigned>(a.n_head));
  const auto launch = [&](auto kernel) {
    kernel<<<grid, kWarps * 32, 0, stream>>>(out.data, out.stride, q.data, q.stride, k_cache,
                                             v_cache, batch, a);
  };
  if (a.head_dim == 64) {
    launch(paged_attention_kernel<2, 64>);
  } else if (a.head_dim == 128) {
    launch(paged_attention_kernel<4, 128>);
  } else if (a.head_dim == 256) {
    launch(paged_attention_kernel<8, 256>);
  } else if (a.head_dim <= 64) {
    launch(paged_attention_kernel<2, 0>);
  } else if (a.head_dim <= 128) {
    launch(paged_attention_kernel<4, 0>);
  } else {
    launch(paged_attention_kernel<kMaxHeadDim / 32, 0>);
  }
  ZINFER_CUDA_LAUNCH_CHECK("paged_attention_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
