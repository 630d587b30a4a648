// paged_attention_kernel: one block per (query token, head), kWarps warps. Warp w takes keys
// first+w, first+w+kWarps, ...; the lanes split head_dim (lane l holds dims l, l+32, ...),
// so a key row is one coalesced read and q·k one warp reduction. Each warp keeps an online
// softmax (running max m, sum l, weighted values acc); the warps' partial states are merged
// in shared memory at the end. Scores, exponentials and sums are fp32.
#include <cfloat>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/paged_attention.h"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kPerLane = kMaxHeadDim / 32;

__global__ void __launch_bounds__(kWarps * 32)
    paged_attention_kernel(float* out, std::int64_t out_stride, const float* q,
                           std::int64_t q_stride, const float* k_cache, const float* v_cache,
                           AttentionBatch b, AttentionArgs a) {
  __shared__ float s_m[kWarps];
  __shared__ float s_l[kWarps];
  __shared__ float s_acc[kWarps][kMaxHeadDim];

  const std::int64_t row = blockIdx.x;
  const int h = static_cast<int>(blockIdx.y);
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int kvh = h / (a.n_head / a.n_head_kv);
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * a.head_dim;
  const int pos = b.positions[row];
  const int first = a.window > 0 ? max(0, pos - a.window + 1) : 0;
  const std::int32_t* table = b.block_tables + b.bt_offsets[row];

  float qv[kPerLane];
  float acc[kPerLane];
  const float* qh = q + row * q_stride + static_cast<std::int64_t>(h) * a.head_dim;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    qv[i] = d < a.head_dim ? qh[d] : 0.0f;
    acc[i] = 0.0f;
  }
  float m = -FLT_MAX;
  float l = 0.0f;
  for (int j = first + warp; j <= pos; j += kWarps) {
    const std::int64_t slot =
        static_cast<std::int64_t>(table[j / b.block_size]) * b.block_size + j % b.block_size;
    const float* kr = k_cache + slot * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
    const float* vr = v_cache + slot * dkv + static_cast<std::int64_t>(kvh) * a.head_dim;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < a.head_dim) dot = fmaf(qv[i], kr[d], dot);
    }
    dot = warp_sum(dot);
    float s = dot * a.scale;
    if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);
    const float p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int d = lane + 32 * i;
      acc[i] = acc[i] * corr + (d < a.head_dim ? p * vr[d] : 0.0f);
    }
    m = m_new;
  }
  if (lane == 0) {
    s_m[warp] = m;
    s_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.head_dim) s_acc[warp][d] = acc[i];
  }
  __syncthreads();
  float m_all = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) m_all = fmaxf(m_all, s_m[w]);
  float l_all = 0.0f;
  float f[kWarps];
  for (int w = 0; w < kWarps; ++w) {
    // A warp that saw no key keeps l = 0, so its factor does not matter.
    f[w] = s_l[w] > 0.0f ? expf(s_m[w] - m_all) : 0.0f;
    l_all += s_l[w] * f[w];
  }
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
  paged_attention_kernel<<<grid, kWarps * 32, 0, stream>>>(out.data, out.stride, q.data, q.stride,
                                                           k_cache, v_cache, batch, a);
  ZINFER_CUDA_LAUNCH_CHECK("paged_attention_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
