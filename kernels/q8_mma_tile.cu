// The staged Q16 tiles' launcher (q8_mma_tile_kernel.cuh, q8_mma_tile.cuh): it picks the tile
// shape — 8, 16, 32 or 64 activation rows a block (NT 8-column mma tiles a warp, CW warps
// across) and 64 or 128 weight rows (RF = 1 or 2; the gated product holds two matrices' sums,
// so RF = 1) — and where those tiles are too few to fill the GPU, the same tiles split over
// K's parts (a block per tile and part, its part's sums into scratch, then one small kernel
// adds the parts in part order). The shape and the split change which outputs share a block,
// never an output's order. The 32- and 64-column shapes are instantiated here, the 8- and
// 16-column ones in q8_mma_tile_small.cu.
#include "engine/core/env_switch.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_tile_kernel.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

// Large matrices take 128 weight rows a block (each activation tile's bytes then serve twice
// as many rows); the rest 64, for more blocks.
constexpr std::int64_t kTallRows = 2048;

}  // namespace

bool q8_mma_tile_fits(const MmaParams& p, bool gated) {
  bool stack_aligned = true;  // a Q/K/V stack: every matrix (the tiles copy 16-byte pieces)
  for (int m = 0; m < p.n_stack && p.n_stack > 1; ++m) {
    stack_aligned = stack_aligned && aligned16(p.stack_w[m]);
  }
  return p.layout.q16 && p.layout.k % 32 == 0 && aligned16(p.act) && aligned16(p.w[0]) &&
         (!gated || aligned16(p.w[1])) && stack_aligned && (p.ne1 + 63) / 64 <= 65535 &&
         p.rows >= 1;
}

int q8_mma_small_tiles() {
  static const int env = env_choice("ZINFER_TILE_SMALL", {"0", "1", "2"}, 2, 2);
  return env;
}

bool q8_mma_tile_nt2() {
  static const bool env = env_choice("ZINFER_TILE_NT2", {"0", "1"}, 0, 0) == 1;
  return env;
}

namespace tile_kernel {
int tile_min_blocks() {
  static const int env = env_choice("ZINFER_TILE_OCCUPANCY", {"1", "2"}, 1, 1) == 1 ? 2 : 1;
  return env;
}
}  // namespace tile_kernel

TilePick q8_mma_tile_pick(const MmaParams& p, bool gated) {
  TilePick t;
  t.nt = q8_mma_small_tiles() == 0 || p.rows > 16 ? 4 : (p.rows <= 8 ? 1 : 2);
  t.cw = t.nt == 4 && p.rows > 32 ? 2 : 1;
  const std::int64_t col_tiles = (p.rows + 8 * t.nt * t.cw - 1) / (8 * t.nt * t.cw);
  // The small tiles keep 64 weight rows unless 128 still make a wave: a few activation rows
  // are cheap to re-read, and fewer blocks would leave SMs idle.
  const bool tall =
      !gated && p.ne1 >= kTallRows && (t.nt == 4 || (p.ne1 + 127) / 128 * col_tiles >= 132);
  t.rf = tall ? 2 : 1;
  if (t.nt == 4 && t.cw == 1 && q8_mma_tile_nt2()) {  // the same columns, twice the warps
    t.nt = 2;
    t.cw = 2;
  }
  return t;
}

std::int64_t q8_mma_tile_blocks(const MmaParams& p, bool gated) {
  const TilePick t = q8_mma_tile_pick(p, gated);
  const std::int64_t cols = 8 * t.nt * t.cw, rows = 64 * t.rf;
  return (p.rows + cols - 1) / cols * ((p.ne1 + rows - 1) / rows);
}

namespace {

template <bool kParts>
bool launch_tiles(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  const q8mma::MmaArgs a = mma_args(p, gated);
  const TilePick t = q8_mma_tile_pick(p, gated);
  if (t.nt < 4 && t.cw > 1) return launch_q8_mma_tile_nt2(type, p, a, t, gated, kParts, stream);
  if (t.nt < 4) return launch_q8_mma_tile_small(type, p, a, t, gated, kParts, stream);
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (t.cw == 2) {
      tile_kernel::launch_width<T, 2, 4, kParts>(p, a, gated, t.rf, stream);
    } else {
      tile_kernel::launch_width<T, 1, 4, kParts>(p, a, gated, t.rf, stream);
    }
  });
}

}  // namespace

bool launch_q8_mma_tile(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  return launch_tiles<false>(type, p, gated, stream);
}

bool launch_q8_mma_tile_parts(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  return launch_tiles<true>(type, p, gated, stream);
}

}  // namespace zinfer::cuda
