// The staged Q16 tiles with 8 or 16 activation rows a block (q8_mma_tile_kernel.cuh): decode
// batches of 5 to 16 sequences, where the 32-column tiles would multiply zero rows and the
// split kernel re-reads every activation row for each 16 weight rows. One warp-column of
// NT = 1 or 2 mma tiles; 64 weight rows (the gated pair, and plain products with too few rows
// for a wave of 128-row blocks) or 128. The same order as every tile: the same bits.
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_tile_kernel.cuh"

namespace zinfer::cuda {
using quant::GgmlType;
using tile_kernel::launch_width;

bool launch_q8_mma_tile_small(GgmlType type, const MmaParams& p, const q8mma::MmaArgs& a,
                              const TilePick& t, bool gated, bool parts, cudaStream_t stream) {
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (t.nt == 1) {
      if (parts) {
        launch_width<T, 1, 1, true>(p, a, gated, t.rf, stream);
      } else {
        launch_width<T, 1, 1, false>(p, a, gated, t.rf, stream);
      }
    } else if (parts) {
      launch_width<T, 1, 2, true>(p, a, gated, t.rf, stream);
    } else {
      launch_width<T, 1, 2, false>(p, a, gated, t.rf, stream);
    }
  });
}

}  // namespace zinfer::cuda
