// q8_mma_vecleg_kernel: the lane-a-block body of q8_mma_vecleg.cuh on the device, launched with
// launch_pdl — its first chunk of weights is loaded before pdl_wait.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_vecleg.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

template <bool kGated>
struct LegCtx : BlockCtx<kGated> {
  __device__ void wait_inputs() const {
    pdl_wait();
    pdl_launch_dependents();
  }
};

template <GgmlType T, bool kGated>
__global__ void __launch_bounds__(q8mma::kLegWarps * 32)
    q8_mma_vecleg_kernel(const MmaParams p, const q8mma::MmaArgs a) {
  __shared__ __align__(16) std::uint8_t sm[q8mma::kLegSmemBytes];
  LegCtx<kGated> x{{&p, sm}};
  q8mma::leg_body<T, kGated>(a, x);
}

template <GgmlType T, bool kGated>
void launch_typed(const MmaParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.ne1 + q8mma::kLegWarps - 1) / q8mma::kLegWarps));
  launch_pdl(q8_mma_vecleg_kernel<T, kGated>, grid, dim3(q8mma::kLegWarps * 32), 0, stream, p,
             mma_args(p, kGated));
}

}  // namespace

bool q8_mma_vecleg_fits(GgmlType type, const MmaParams& p, bool gated) {
  if (type != GgmlType::kQ8_0 && type != GgmlType::kQ4_0) return false;
  return rows_aligned2(p, gated) && p.layout.q16 && p.rows == 1 && p.act != nullptr &&
         p.src == nullptr && p.layout.k % 32 == 0 && p.parts <= q8mma::kMaxParts &&
         (p.ne1 + q8mma::kLegWarps - 1) / q8mma::kLegWarps <= 0x7fffffff;
}

bool launch_q8_mma_vecleg(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  if (!q8_mma_vecleg_fits(type, p, gated)) return false;
  if (type == GgmlType::kQ8_0) {
    gated ? launch_typed<GgmlType::kQ8_0, true>(p, stream)
          : launch_typed<GgmlType::kQ8_0, false>(p, stream);
  } else {
    gated ? launch_typed<GgmlType::kQ4_0, true>(p, stream)
          : launch_typed<GgmlType::kQ4_0, false>(p, stream);
  }
  return true;
}

}  // namespace zinfer::cuda
