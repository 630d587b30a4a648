// moe_vec_kernel: the experts' matmuls of moe_vec.cuh on the device (launched with launch_pdl)
// — the thread context and the launcher both stages of moe_mma.cu take for few tokens.
#include <atomic>
#include <cstdlib>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/moe_vec.cuh"
#include "kernels/moe_vec.h"
#include "kernels/pdl.h"

namespace zinfer::cuda {
namespace {

template <bool kGateUp, int kPasses, int kRows>
__global__ void __launch_bounds__(moevec::kMoeVecThreads, 2)
    moe_vec_kernel(const moemma::MoeMmaArgs p, float* out, std::int64_t out_stride) {
  __shared__ __align__(16) std::uint8_t sm[moevec::kMoeVecSmemBytes];
  pdl_wait();
  pdl_launch_dependents();
  moemma::MoeDeviceCtx x{sm, out, out_stride};
  moevec::moe_vec_body<kGateUp, kPasses, kRows>(p, x);
}

template <bool kGateUp, int kRows>
void launch_rows(const moemma::MoeMmaArgs& p, float* out, std::int64_t out_stride, int passes,
                 cudaStream_t stream) {
  const dim3 grid(
      static_cast<unsigned>(moevec::moe_vec_row_blocks(p.rows_per_expert, kRows) * p.max_tiles));
  const dim3 block(moevec::kMoeVecThreads);
  switch (passes) {
    case 1:
      launch_pdl(moe_vec_kernel<kGateUp, 1, kRows>, grid, block, 0, stream, p, out, out_stride);
      break;
    case 2:
      launch_pdl(moe_vec_kernel<kGateUp, 2, kRows>, grid, block, 0, stream, p, out, out_stride);
      break;
    case 3:
      launch_pdl(moe_vec_kernel<kGateUp, 3, kRows>, grid, block, 0, stream, p, out, out_stride);
      break;
    default:
      launch_pdl(moe_vec_kernel<kGateUp, 4, kRows>, grid, block, 0, stream, p, out, out_stride);
      break;
  }
}

std::atomic<int> g_vec_rows{0};

// Weight rows a warp takes: set_moe_vec_rows's value, else ZINFER_MOE_VEC_ROWS (1, 2 or 4; a
// measurement switch, the same bits), else kMoeVecRows; at most what the matrices allow
// (gate/up: 2).
int vec_rows(bool gate_up) {
  const int set = g_vec_rows.load(std::memory_order_relaxed);
  static const int env = [] {
    const char* e = std::getenv("ZINFER_MOE_VEC_ROWS");
    const int v = e != nullptr ? std::atoi(e) : 0;
    return v == 1 || v == 2 || v == 4 ? v : 0;
  }();
  const int want = set != 0 ? set : (env != 0 ? env : kMoeVecRows);
  const int most = moevec::kMoeVecMaxPairs / (gate_up ? 2 : 1);
  return want < most ? want : most;
}

}  // namespace

void set_moe_vec_rows(int rows) {
  g_vec_rows.store(rows == 1 || rows == 2 || rows == 4 ? rows : 0, std::memory_order_relaxed);
}

bool moe_vec_fits(const moemma::MoeMmaArgs& p) {
  return moevec::moe_vec_passes(p.layout.k) > 0 && p.layout.k % 32 == 0 &&
         moevec::moe_vec_row_blocks(p.rows_per_expert, 1) * p.max_tiles <= 0x7fffffff;
}

Status launch_moe_vec(const moemma::MoeMmaArgs& p, bool gate_up, MatrixView out,
                      cudaStream_t stream) {
  if (!moe_vec_fits(p)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "moe_vec: K " + std::to_string(p.layout.k) + " is over the kernel's " +
                          std::to_string(32 * 32 * moevec::kMoeVecMaxPasses));
  }
  const int passes = moevec::moe_vec_passes(p.layout.k);
  const int rows = vec_rows(gate_up);
  if (gate_up) {
    rows == 1 ? launch_rows<true, 1>(p, out.data, out.stride, passes, stream)
              : launch_rows<true, 2>(p, out.data, out.stride, passes, stream);
  } else if (rows == 1) {
    launch_rows<false, 1>(p, out.data, out.stride, passes, stream);
  } else {
    rows == 2 ? launch_rows<false, 2>(p, out.data, out.stride, passes, stream)
              : launch_rows<false, 4>(p, out.data, out.stride, passes, stream);
  }
  ZINFER_CUDA_LAUNCH_CHECK("moe_vec_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
