// The staged Q16 tiles of 32 activation rows a block as two warp-columns of 16 (NT = 2, CW = 2;
// q8_mma_tile_kernel.cuh), a measurement switch (ZINFER_TILE_NT2=1, q8_mma_tile_nt2): the same
// block shape and bytes as the 4-tile warps of q8_mma_tile.cu, twice the warps, each with half
// the accumulators. Why: at the 7B shape and 32 sequences the gated
// gate/up tiles are 296 blocks of four warps (~9 warps a multiprocessor) and issue on ~30% of
// cycles (kernels/README.md); a warp's A fragments are then built twice a block, its epilogue
// (the cost of the Q16 tiles) split in two. (64 columns as four such warps would hold one
// block a multiprocessor — ptxas: 96–128 registers, 512 threads — the warps the 4-tile shape
// already has with two.) The shape changes which warp computes an output,
// never its order: the same bits.
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_tile_kernel.cuh"

namespace zinfer::cuda {
using quant::GgmlType;
using tile_kernel::launch_width;

bool launch_q8_mma_tile_nt2(GgmlType type, const MmaParams& p, const q8mma::MmaArgs& a,
                            const TilePick& t, bool gated, bool parts, cudaStream_t stream) {
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (parts) {
      launch_width<T, 2, 2, true>(p, a, gated, t.rf, stream);
    } else {
      launch_width<T, 2, 2, false>(p, a, gated, t.rf, stream);
    }
  });
}

}  // namespace zinfer::cuda
