// q8_mma_lane_kernel: the one-lane-a-part matmuls of q8_mma_lane.cuh on the device — the
// thread context (shuffles, __syncthreads, the shared epilogue) and the launcher: R = 1, 2 or 4
// activation rows a block, the one-row case with that row staged in shared memory (and, with
// ZINFER_MMA_STAGE_W=1, the block's weight rows too).
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_lane.cuh"
#include "kernels/q8_mma_launch.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

constexpr std::size_t kLaneStageBytes = 48 * 1024;
// Shared memory of a block with its weight rows staged too (ZINFER_MMA_STAGE_W=1, or
// ZINFER_MMA_KERNEL=lane-stage): at most this much, so two blocks share an SM.
constexpr std::size_t kLaneStageWBytes = 96 * 1024;

// The device side of the context lane_body is written against.
template <bool kGated>
struct LaneCtx : BlockCtx<kGated> {
  __device__ float shfl(float v, int src) const { return __shfl_sync(0xffffffffu, v, src); }
};

template <GgmlType T, bool kQ16, int R, bool kGated, bool kStage, bool kStageW = false>
__global__ void __launch_bounds__(q8mma::kLaneWarps * 32)
    q8_mma_lane_kernel(MmaParams p, q8mma::MmaArgs a) {
  extern __shared__ __align__(16) std::uint8_t lane_act[];
  LaneCtx<kGated> x{{&p, lane_act}};
  q8mma::lane_body<T, kQ16, R, kGated, kStage, kStageW>(a, x);
}

// The staged-weights kernel: above 48 KB of dynamic shared memory it must opt in, once per
// process (a failure shows as the launch's error).
template <GgmlType T, bool kQ16, bool kGated>
void launch_stage_w(const MmaParams& p, const q8mma::MmaArgs& a, dim3 grid, std::size_t smem,
                    cudaStream_t stream) {
  static const bool opted_in =
      cudaFuncSetAttribute(q8_mma_lane_kernel<T, kQ16, 1, kGated, true, true>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(kLaneStageWBytes)) == cudaSuccess;
  (void)opted_in;
  q8_mma_lane_kernel<T, kQ16, 1, kGated, true, true>
      <<<grid, q8mma::kLaneWarps * 32, smem, stream>>>(p, a);
}

}  // namespace

bool q8_mma_lane_stage_w_fits(std::size_t act_row_bytes, std::size_t w_row_bytes, int parts,
                              bool gated) {
  return act_row_bytes <= kLaneStageBytes && w_row_bytes % 2 == 0 &&
         act_row_bytes + q8mma::lane_stage_w_bytes(w_row_bytes, parts, gated ? 2 : 1) <=
             kLaneStageWBytes;
}

bool launch_q8_mma_lane(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream,
                        bool want_stage_w) {
  const q8mma::MmaArgs a = mma_args(p, gated);
  const int r = p.rows == 1 ? 1 : (p.rows == 2 ? 2 : 4);
  const bool stage = p.rows == 1 && p.layout.row_bytes <= kLaneStageBytes;
  const std::size_t w_smem = q8mma::lane_stage_w_bytes(p.row_bytes, p.parts, gated ? 2 : 1);
  const bool stage_w = stage && want_stage_w &&
                       q8_mma_lane_stage_w_fits(p.layout.row_bytes, p.row_bytes, p.parts, gated);
  const dim3 grid(static_cast<unsigned>((p.ne1 + q8mma::lane_block_rows(p.parts) - 1) /
                                        q8mma::lane_block_rows(p.parts)),
                  static_cast<unsigned>((p.rows + r - 1) / r));
  const unsigned threads = q8mma::kLaneWarps * 32;
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    auto go = [&](auto q16, auto g) {
      constexpr bool kQ16 = decltype(q16)::value, kG = decltype(g)::value;
      if (stage_w) {
        launch_stage_w<T, kQ16, kG>(p, a, grid, p.layout.row_bytes + w_smem, stream);
      } else if (stage) {
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
