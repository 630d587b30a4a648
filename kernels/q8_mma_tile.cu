// q8_mma_tile_kernel: the staged Q16 tiles of q8_mma_tile.cuh on the device — the thread
// context (cp.async copies, mma.sync, __syncthreads, the shared epilogue) and the launcher,
// which picks the tile shape: 32 or 64 activation rows a block (CW = 1 or 2) and 64 or 128
// weight rows (RF = 1 or 2; the gated product holds two matrices' sums, so RF = 1), and where
// those tiles are too few to fill the GPU, the same tiles split over K's parts (a block per
// tile and part, its part's sums into scratch, then one small kernel adds the parts in part
// order). The shape and the split change which outputs share a block, never an output's order.
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_tile.cuh"

namespace zinfer::cuda {
namespace {

using q8mma::TileShape;
using quant::GgmlType;

// The device side of the context tile_body is written against (q8_mma_tile.cuh).
template <bool kGated>
struct TileCtx : BlockCtx<kGated> {
  __device__ void mma_k32(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                          std::uint32_t b1) const {
    cuda::mma_k32(c, a, b0, b1);
  }
  __device__ void mma_k16(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0) const {
    cuda::mma_k16(c, a, b0);
  }
};

// The tiles split over K: a block's sums are its part's (blockIdx.z), kept in the scratch
// planes [part][matrix][rows][ne1] for q8_mma_part_sum_kernel.
template <bool kGated>
struct TilePartCtx : TileCtx<kGated> {
  __device__ void store(std::int64_t n, std::int64_t j, float v0, float v1) const {
    const MmaParams& q = *this->p;
    const std::size_t plane = static_cast<std::size_t>(q.rows) * static_cast<std::size_t>(q.ne1);
    float* o = q.part_ws + static_cast<std::size_t>(blockIdx.z) * (kGated ? 2 : 1) * plane +
               static_cast<std::size_t>(n) * static_cast<std::size_t>(q.ne1) +
               static_cast<std::size_t>(j);
    o[0] = v0;
    if constexpr (kGated) o[plane] = v1;
  }
};

template <GgmlType T, int RF, int CW, bool kGated, bool kParts>
__global__ void __launch_bounds__(TileShape<T, RF, CW, kGated>::kThreads)
    q8_mma_tile_kernel(MmaParams p, q8mma::MmaArgs a) {
  extern __shared__ __align__(16) std::uint8_t tile_smem[];
  if constexpr (kParts) {
    a.only_part = static_cast<int>(blockIdx.z);
    TilePartCtx<kGated> x{{{&p, tile_smem}}};
    q8mma::tile_body<T, RF, CW, kGated>(a, x);
  } else {
    TileCtx<kGated> x{{&p, tile_smem}};
    q8mma::tile_body<T, RF, CW, kGated>(a, x);
  }
}

// out(n, j) = the parts' sums added in part order (tile_body's fold: part 0, then + part 1,
// ...), through the shared epilogue.
template <bool kGated>
__global__ void q8_mma_part_sum_kernel(MmaParams p) {
  const std::size_t plane = static_cast<std::size_t>(p.rows) * static_cast<std::size_t>(p.ne1);
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= plane) return;
  constexpr int kM = kGated ? 2 : 1;
  float v[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    v[m] = p.part_ws[m * plane + i];
    for (int q = 1; q < p.parts; ++q) v[m] = __fadd_rn(v[m], p.part_ws[(q * kM + m) * plane + i]);
  }
  const auto n = static_cast<std::int64_t>(i / static_cast<std::size_t>(p.ne1));
  const auto j = static_cast<std::int64_t>(i % static_cast<std::size_t>(p.ne1));
  store_output<kGated>(p, n, j, v[0], v[kM - 1]);
}

template <GgmlType T, int RF, int CW, bool kGated, bool kParts>
void launch_shape(const MmaParams& p, const q8mma::MmaArgs& a, cudaStream_t stream) {
  using S = TileShape<T, RF, CW, kGated>;
  // Above 48 KB of dynamic shared memory a kernel must opt in, once per process (a worker
  // owns one device); a failure shows as the launch's error.
  static const bool opted_in = cudaFuncSetAttribute(q8_mma_tile_kernel<T, RF, CW, kGated, kParts>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    static_cast<int>(S::kSmemBytes)) == cudaSuccess;
  (void)opted_in;
  const dim3 grid(static_cast<unsigned>((p.rows + S::kCols - 1) / S::kCols),
                  static_cast<unsigned>((p.ne1 + S::kRows - 1) / S::kRows),
                  static_cast<unsigned>(kParts ? p.parts : 1));
  q8_mma_tile_kernel<T, RF, CW, kGated, kParts><<<grid, S::kThreads, S::kSmemBytes, stream>>>(p, a);
  if constexpr (kParts) {
    const std::size_t plane = static_cast<std::size_t>(p.rows) * static_cast<std::size_t>(p.ne1);
    constexpr unsigned kSumThreads = 256;
    q8_mma_part_sum_kernel<kGated><<<static_cast<unsigned>((plane + kSumThreads - 1) / kSumThreads),
                                     kSumThreads, 0, stream>>>(p);
  }
}

// Large matrices take 128 weight rows a block (each activation tile's bytes then serve twice
// as many rows); the rest 64, for more blocks.
constexpr std::int64_t kTallRows = 2048;

}  // namespace

bool q8_mma_tile_fits(const MmaParams& p, bool gated) {
  return p.layout.q16 && p.layout.k % 32 == 0 && aligned16(p.act) && aligned16(p.w[0]) &&
         (!gated || aligned16(p.w[1])) && (p.ne1 + 63) / 64 <= 65535 && p.rows >= 1;
}

namespace {

// The tile shape the launcher picks: 64-column tiles (CW = 2) past 32 activation rows, 128-row
// tiles (RF = 2) for large plain products.
struct TilePick {
  bool wide_cols, tall;
};
TilePick pick(const MmaParams& p, bool gated) {
  return {p.rows > 32, !gated && p.ne1 >= kTallRows};
}

}  // namespace

std::int64_t q8_mma_tile_blocks(const MmaParams& p, bool gated) {
  const TilePick t = pick(p, gated);
  const std::int64_t cols = t.wide_cols ? 64 : 32, rows = t.tall ? 128 : 64;
  return (p.rows + cols - 1) / cols * ((p.ne1 + rows - 1) / rows);
}

namespace {

template <bool kParts>
bool launch_tiles(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  const q8mma::MmaArgs a = mma_args(p, gated);
  const TilePick t = pick(p, gated);
  const bool wide_cols = t.wide_cols, tall = t.tall;
  return q8mma::dispatch_mma_type(type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (gated) {
      if (wide_cols) {
        launch_shape<T, 1, 2, true, kParts>(p, a, stream);
      } else {
        launch_shape<T, 1, 1, true, kParts>(p, a, stream);
      }
    } else if (tall) {
      if (wide_cols) {
        launch_shape<T, 2, 2, false, kParts>(p, a, stream);
      } else {
        launch_shape<T, 2, 1, false, kParts>(p, a, stream);
      }
    } else if (wide_cols) {
      launch_shape<T, 1, 2, false, kParts>(p, a, stream);
    } else {
      launch_shape<T, 1, 1, false, kParts>(p, a, stream);
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
