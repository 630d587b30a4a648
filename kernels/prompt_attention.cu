// prompt_attention_kernel: prompt_attention_body (prompt_attention.cuh) on the device — one
// block per (query tile, query head), 128 threads — and its launcher.
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"
#include "kernels/prompt_attention.cuh"
#include "kernels/prompt_attention.h"

namespace zinfer::cuda {
namespace {

using prompt_attn::kThreads;
using prompt_attn::Layout;
using prompt_attn::Params;

// The device side of the context prompt_attention_body is written against.
struct DeviceCtx {
  std::uint8_t* sm;
  __device__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ int tile() const { return static_cast<int>(blockIdx.x); }
  __device__ int head() const { return static_cast<int>(blockIdx.y); }
  __device__ std::uint8_t* smem() const { return sm; }
  __device__ void sync() const { __syncthreads(); }
  __device__ float shfl_xor(float v, int mask) const {
    return __shfl_xor_sync(0xffffffffu, v, mask);
  }
  // d = a·b + d on the tensor cores (m16n8k16, fp16 operands, fp32 sums).
  __device__ void mma_f16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                          std::uint32_t b1) const {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
};

template <int DP>
__global__ void __launch_bounds__(kThreads) prompt_attention_kernel(const Params p) {
  extern __shared__ __align__(16) std::uint8_t prompt_smem[];
  pdl_wait();
  pdl_launch_dependents();
  DeviceCtx x{prompt_smem};
  prompt_attn::prompt_attention_body<DP>(p, x);
}

template <int DP>
cudaError_t launch_dims(const Params& p, std::int32_t n_tiles, cudaStream_t stream) {
  constexpr std::size_t kSmem = Layout<DP>::kBytes;
  if (kSmem > 48 * 1024) {
    const cudaError_t e =
        cudaFuncSetAttribute(prompt_attention_kernel<DP>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kSmem));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>(n_tiles), static_cast<unsigned>(p.n_head));
  launch_pdl(prompt_attention_kernel<DP>, grid, dim3(kThreads), kSmem, stream, p);
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
  Params p;
  p.out = out.data;
  p.out_stride = out.stride;
  p.q = q.data;
  p.q_stride = q.stride;
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.positions = batch.positions;
  p.bt_offsets = batch.bt_offsets;
  p.block_tables = batch.block_tables;
  p.block_size = batch.block_size;
  p.n_head = a.n_head;
  p.n_head_kv = a.n_head_kv;
  p.head_dim = a.head_dim;
  p.window = a.window;
  p.scale = a.scale;
  p.softcap = a.softcap;
  p.sinks = a.sinks;
  p.tiles = tiles.tiles;
  const cudaError_t e = a.head_dim <= 64    ? launch_dims<64>(p, tiles.n, stream)
                        : a.head_dim <= 128 ? launch_dims<128>(p, tiles.n, stream)
                                            : launch_dims<256>(p, tiles.n, stream);
  if (e != cudaSuccess) {
    return make_error(ErrorCode::kInferenceFailed,
                      std::string("prompt_attention: ") + cudaGetErrorString(e));
  }
  ZINFER_CUDA_LAUNCH_CHECK("prompt_attention_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
