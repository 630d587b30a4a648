// The staged Q16 tiles of q8_mma_tile.cuh as kernels: the thread context (cp.async copies,
// mma.sync, __syncthreads, the shared epilogue), the kernel, the kernel adding the parts of the
// tiles split over K, and the launch of one tile shape. Shared by q8_mma_tile.cu (32- and
// 64-column tiles, prompts and large batches) and q8_mma_tile_small.cu (8- and 16-column
// tiles, batches of 5 to 16 rows), two files so their many instantiations compile side by side.
// Device code only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/pdl.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/q8_mma_tile.cuh"

namespace zinfer::cuda::tile_kernel {

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

// kMinBlocks: the blocks a multiprocessor should hold (__launch_bounds__: with 2, registers are
// capped at 128 a thread; where shared memory allows two blocks, twice the warps hide latency).
template <GgmlType T, int RF, int CW, bool kGated, int NT, bool kParts, int kMinBlocks>
__global__ void __launch_bounds__(q8mma::TileShape<T, RF, CW, kGated, NT>::kThreads, kMinBlocks)
    q8_mma_tile_kernel(MmaParams p, const q8mma::MmaArgs a) {
  extern __shared__ __align__(16) std::uint8_t tile_smem[];
  pdl_wait();
  pdl_launch_dependents();
  // (The part is passed beside a, not written into it: a written kernel parameter is copied to
  // local memory, and every read of it in the K loop with it.)
  if constexpr (kParts) {
    TilePartCtx<kGated> x{{{&p, tile_smem}}};
    q8mma::tile_body<T, RF, CW, kGated, NT>(a, x, static_cast<int>(blockIdx.z));
  } else {
    TileCtx<kGated> x{{&p, tile_smem}};
    q8mma::tile_body<T, RF, CW, kGated, NT>(a, x, -1);
  }
}

// out(n, j) = the parts' sums added in part order (tile_body's fold: part 0, then + part 1,
// ...), through the shared epilogue.
template <bool kGated>
__global__ void q8_mma_part_sum_kernel(MmaParams p) {
  pdl_wait();
  pdl_launch_dependents();
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

// The blocks a multiprocessor the tiles are built for (kMinBlocks) where two fit its shared
// memory: 2 by default (H100, 2026-12-06: 7B prefill +8%, end to end +2.5%, 32/128 sequences
// within 2%), ZINFER_TILE_OCCUPANCY=1 for one (a measurement switch).
int tile_min_blocks();

// One tile shape's launch (and, split over K, the parts' sum), both with programmatic
// dependent launch (pdl.h).
template <GgmlType T, int RF, int CW, bool kGated, int NT, bool kParts, int kMinBlocks>
void launch_shape_as(const MmaParams& p, const q8mma::MmaArgs& a, cudaStream_t stream) {
  using S = q8mma::TileShape<T, RF, CW, kGated, NT>;
  auto* kernel = q8_mma_tile_kernel<T, RF, CW, kGated, NT, kParts, kMinBlocks>;
  // Above 48 KB of dynamic shared memory a kernel must opt in, once per process (a worker
  // owns one device); a failure shows as the launch's error.
  static const bool opted_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(S::kSmemBytes)) == cudaSuccess;
  (void)opted_in;
  const dim3 grid(static_cast<unsigned>((p.rows + S::kCols - 1) / S::kCols),
                  static_cast<unsigned>((p.ne1 + S::kRows - 1) / S::kRows),
                  static_cast<unsigned>(kParts ? p.parts : 1));
  launch_pdl(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream, p, a);
  if constexpr (kParts) {
    const std::size_t plane = static_cast<std::size_t>(p.rows) * static_cast<std::size_t>(p.ne1);
    constexpr unsigned kSumThreads = 256;
    launch_pdl(q8_mma_part_sum_kernel<kGated>,
               dim3(static_cast<unsigned>((plane + kSumThreads - 1) / kSumThreads)),
               dim3(kSumThreads), 0, stream, p);
  }
}

template <GgmlType T, int RF, int CW, bool kGated, int NT, bool kParts>
void launch_shape(const MmaParams& p, const q8mma::MmaArgs& a, cudaStream_t stream) {
  // Two blocks only where their shared memory fits an SM (228 KB, 1 KB of it reserved a block).
  // (and past 256 threads never: two blocks would cap a thread at 64 registers)
  using S = q8mma::TileShape<T, RF, CW, kGated, NT>;
  constexpr bool kTwoFit = 2 * (S::kSmemBytes + 1024) <= 228 * 1024 && S::kThreads <= 256;
  if constexpr (kTwoFit) {
    if (tile_min_blocks() == 2) {
      launch_shape_as<T, RF, CW, kGated, NT, kParts, 2>(p, a, stream);
      return;
    }
  }
  launch_shape_as<T, RF, CW, kGated, NT, kParts, 1>(p, a, stream);
}

// One tile width's launch (CW warp-columns of NT 8-column mma tiles) for the product's kind:
// the gated pair (64 weight rows), or plain products of 64 · rf weight rows (rf 1 or 2).
template <GgmlType T, int CW, int NT, bool kParts>
void launch_width(const MmaParams& p, const q8mma::MmaArgs& a, bool gated, int rf,
                  cudaStream_t stream) {
  if (gated) {
    launch_shape<T, 1, CW, true, NT, kParts>(p, a, stream);
  } else if (rf == 2) {
    launch_shape<T, 2, CW, false, NT, kParts>(p, a, stream);
  } else {
    launch_shape<T, 1, CW, false, NT, kParts>(p, a, stream);
  }
}

}  // namespace zinfer::cuda::tile_kernel
