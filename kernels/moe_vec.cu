// moe_vec_kernel: the experts' matmuls of moe_vec.cuh on the device (launched with launch_pdl)
// — the thread context and the launcher both stages of moe_mma.cu take for few tokens.
#include "kernels/cuda_check.h"
#include "kernels/moe_vec.cuh"
#include "kernels/moe_vec.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

struct MoeVecCtx {
  std::uint8_t* sm;
  float* out;
  std::int64_t out_stride;
  __device__ int thread() const { return static_cast<int>(threadIdx.x); }
  __device__ std::int64_t block_x() const { return blockIdx.x; }
  __device__ std::uint8_t* smem() const { return sm; }
  __device__ void sync() const { __syncthreads(); }
  __device__ void store(std::int64_t slot, std::int64_t j, float v) const {
    out[slot * out_stride + j] = v;
  }
};

template <bool kGateUp, int kPasses>
__global__ void __launch_bounds__(moevec::kMoeVecThreads)
    moe_vec_kernel(const moemma::MoeMmaArgs p, float* out, std::int64_t out_stride) {
  __shared__ __align__(16) std::uint8_t sm[moevec::kMoeVecSmemBytes];
  pdl_wait();
  pdl_launch_dependents();
  MoeVecCtx x{sm, out, out_stride};
  moevec::moe_vec_body<kGateUp, kPasses>(p, x);
}

template <bool kGateUp>
void launch_typed(const moemma::MoeMmaArgs& p, float* out, std::int64_t out_stride, int passes,
                  cudaStream_t stream) {
  const dim3 grid(
      static_cast<unsigned>(moevec::moe_vec_row_blocks(p.rows_per_expert) * p.max_tiles));
  const dim3 block(moevec::kMoeVecThreads);
  switch (passes) {
    case 1:
      launch_pdl(moe_vec_kernel<kGateUp, 1>, grid, block, 0, stream, p, out, out_stride);
      break;
    case 2:
      launch_pdl(moe_vec_kernel<kGateUp, 2>, grid, block, 0, stream, p, out, out_stride);
      break;
    case 3:
      launch_pdl(moe_vec_kernel<kGateUp, 3>, grid, block, 0, stream, p, out, out_stride);
      break;
    default:
      launch_pdl(moe_vec_kernel<kGateUp, 4>, grid, block, 0, stream, p, out, out_stride);
      break;
  }
}

}  // namespace

bool moe_vec_fits(const moemma::MoeMmaArgs& p) {
  return moevec::moe_vec_passes(p.layout.k) > 0 && p.layout.k % 32 == 0 &&
         moevec::moe_vec_row_blocks(p.rows_per_expert) * p.max_tiles <= 0x7fffffff;
}

Status launch_moe_vec(const moemma::MoeMmaArgs& p, bool gate_up, MatrixView out,
                      cudaStream_t stream) {
  if (!moe_vec_fits(p)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "moe_vec: K " + std::to_string(p.layout.k) + " is over the kernel's " +
                          std::to_string(32 * 32 * moevec::kMoeVecMaxPasses));
  }
  const int passes = moevec::moe_vec_passes(p.layout.k);
  if (gate_up) {
    launch_typed<true>(p, out.data, out.stride, passes, stream);
  } else {
    launch_typed<false>(p, out.data, out.stride, passes, stream);
  }
  ZINFER_CUDA_LAUNCH_CHECK("moe_vec_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
