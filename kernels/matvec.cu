// matvec_kernel: one warp per weight row. Lane l takes the row's 8-element groups l, l+32,
// ... so a warp walks the row's bytes front to back (coalesced), dequantizes each group in
// registers and multiplies it with a tile of up to kMatvecTileRows activation rows; a warp
// shuffle reduction finishes the dot products. NR = 1 is the decode case; NR =
// kMatvecTileRows serves fuller tiles with a runtime bound so the accumulators stay in
// registers. Every output's operations (the fmaf chain of each lane, then the fixed butterfly)
// depend only on K, never on NR, the tile or the number of rows: a row's result is bitwise
// the same whatever else is in the batch (batch invariance).
//
// Grid: one block per (tile of activation rows, kWarps weight rows), the tile index varying
// fastest so the blocks that reuse a set of weight rows run together and hit L2.
#include <limits>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/matvec.h"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;  // weight rows per block

template <GgmlType T, int NR>
__global__ void __launch_bounds__(kWarps * 32)
    matvec_kernel(float* out, std::int64_t out_stride, const float* in, std::int64_t in_stride,
                  std::int64_t total_rows, std::int64_t n_tiles, const std::uint8_t* w,
                  std::size_t row_bytes, std::int64_t ne0, std::int64_t ne1) {
  const int lane = threadIdx.x % 32;
  const std::int64_t tile = static_cast<std::int64_t>(blockIdx.x) % n_tiles;
  const std::int64_t j =
      (static_cast<std::int64_t>(blockIdx.x) / n_tiles) * kWarps + threadIdx.x / 32;
  if (j >= ne1) return;
  const std::int64_t row0 = tile * kMatvecTileRows;
  const int n_rows =
      static_cast<int>(total_rows - row0 < kMatvecTileRows ? total_rows - row0 : kMatvecTileRows);
  in += row0 * in_stride;
  out += row0 * out_stride;
  const std::uint8_t* wr = w + static_cast<std::size_t>(j) * row_bytes;
  float acc[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r) acc[r] = 0.0f;

  const std::int64_t n_groups = ne0 / 8;
  for (std::int64_t g = lane; g < n_groups; g += 32) {
    float v[8];
    QuantTraits<T>::group8(wr, g, v);
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      if (NR == 1 || r < n_rows) {
        const float* x = in + r * in_stride + 8 * g;
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r] = fmaf(v[i], x[i], acc[r]);
      }
    }
  }
  if constexpr (QuantTraits<T>::kFloat) {
    for (std::int64_t e = 8 * n_groups + lane; e < ne0; e += 32) {
      const float v = QuantTraits<T>::one(wr, e);
#pragma unroll
      for (int r = 0; r < NR; ++r) {
        if (NR == 1 || r < n_rows) acc[r] = fmaf(v, in[r * in_stride + e], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    const float s = warp_sum(acc[r]);
    if (lane == 0 && (NR == 1 || r < n_rows)) out[r * out_stride + j] = s;
  }
}

template <GgmlType T>
void launch_typed(MatrixView out, MatrixView in, const QuantMatrixView& w, cudaStream_t stream) {
  const std::int64_t n_tiles = (in.rows + kMatvecTileRows - 1) / kMatvecTileRows;
  const dim3 grid(static_cast<unsigned>(((w.ne1 + kWarps - 1) / kWarps) * n_tiles));
  const std::size_t row_bytes = quant::row_size(w.type, w.ne0);
  const auto* wd = static_cast<const std::uint8_t*>(w.data);
  if (in.rows == 1) {
    matvec_kernel<T, 1><<<grid, kWarps * 32, 0, stream>>>(
        out.data, out.stride, in.data, in.stride, in.rows, n_tiles, wd, row_bytes, w.ne0, w.ne1);
  } else {
    matvec_kernel<T, kMatvecTileRows><<<grid, kWarps * 32, 0, stream>>>(
        out.data, out.stride, in.data, in.stride, in.rows, n_tiles, wd, row_bytes, w.ne0, w.ne1);
  }
}

}  // namespace

Status launch_matvec(MatrixView out, MatrixView in, const QuantMatrixView& w, cudaStream_t stream) {
  if (in.rows < 1 || out.rows != in.rows || in.cols != w.ne0 || out.cols != w.ne1 ||
      (w.ne1 + kWarps - 1) / kWarps * ((in.rows + kMatvecTileRows - 1) / kMatvecTileRows) >
          std::numeric_limits<unsigned>::max()) {  // larger grids the runtime rejects at launch
    return make_error(ErrorCode::kInferenceFailed,
                      "matvec: bad shapes (in [" + std::to_string(in.rows) + "," +
                          std::to_string(in.cols) + "], w [" + std::to_string(w.ne1) + "," +
                          std::to_string(w.ne0) + "])");
  }
  if (w.ne1 == 0) return ok_status();
  const bool ok = dispatch_weight_type(
      w.type, [&](auto t) { launch_typed<decltype(t)::value>(out, in, w, stream); });
  if (!ok) {
    return make_error(ErrorCode::kInvalidParameter, "matvec: weight type " +
                                                        std::string(quant::type_name(w.type)) +
                                                        " is not supported on CUDA");
  }
  ZINFER_CUDA_LAUNCH_CHECK("matvec_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
