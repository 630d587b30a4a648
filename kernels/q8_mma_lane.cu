// q8_mma_lane_kernel: the one-lane-a-part matmuls of q8_mma_lane.cuh on the device — the
// thread context (shuffles, __syncthreads, the shared epilogue) and the launcher: R = 1, 2 or 4
// activation rows a block, the one-row case with that row staged in shared memory.
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_lane.cuh"
#include "kernels/q8_mma_launch.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

constexpr std::size_t kLaneStageBytes = 48 * 1024;

// The device side of the context lane_body is written against.
template <bool kGated>
struct LaneCtx : BlockCtx<kGated> {
  __device__ float shfl(float v, int src) const { return __shfl_sync(0xffffffffu, v, src); }
};

template <GgmlType T, bool kQ16, int R, bool kGated, bool kStage>
__global__ void __launch_bounds__(q8mma::kLaneWarps * 32)
    q8_mma_lane_kernel(MmaParams p, q8mma::MmaArgs a) {
  extern __shared__ __align__(16) std::uint8_t lane_act[];
  LaneCtx<kGated> x{{&p, lane_act}};
  q8mma::lane_body<T, kQ16, R, kGated, kStage>(a, x);
}

}  // namespace

bool launch_q8_mma_lane(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  const q8mma::MmaArgs a = mma_args(p, gated);
  const int r = p.rows == 1 ? 1 : (p.rows == 2 ? 2 : 4);
  const bool stage = p.rows == 1 && p.layout.row_bytes <= kLaneStageBytes;
  const dim3 grid(static_cast<unsigned>((p.ne1 + q8mma::lane_block_rows(p.parts) - 1) /
                                        q8mma::lane_block_rows(p.parts)),
                  static_cast<unsigned>((p.rows + r - 1) / r));
  const unsigned threads = q8mma::kLaneWarps * 32;
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    auto go = [&](auto q16, auto g) {
      constexpr bool kQ16 = decltype(q16)::value, kG = decltype(g)::value;
      if (stage) {
        q8_mma_lane_kernel<T, kQ16, 1, kG, true>
            <<<grid, threads, p.layout.row_bytes, stream>>>(p, a);
      } else if (r == 1) {
        q8_mma_lane_kernel<T, kQ16, 1, kG, false><<<grid, threads, 0, stream>>>(p, a);
      } else if (r == 2) {
        q8_mma_lane_kernel<T, kQ16, 2, kG, false><<<grid, threads, 0, stream>>>(p, a);
      } else {
        q8_mma_lane_kernel<T, kQ16, 4, kG, false><<<grid, threads, 0, stream>>>(p, a);
      }
    };
    auto with_gate = [&](auto q16) {
      if (gated) {
        go(q16, std::true_type{});
      } else {
        go(q16, std::false_type{});
      }
    };
    if (p.layout.q16) {
      with_gate(std::true_type{});
    } else {
      with_gate(std::false_type{});
    }
  });
}

}  // namespace zinfer::cuda
