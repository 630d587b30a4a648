// dequantize_rows_kernel: one thread per group of 8 elements (plus single elements for the
// tails of float rows), rows on the grid's y axis.
#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/dequantize_rows.h"
#include "kernels/launch_util.cuh"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 128;

template <GgmlType T>
__global__ void dequantize_rows_kernel(float* dst, const std::uint8_t* w, std::size_t row_bytes,
                                       std::int64_t ne0, std::int64_t n_rows) {
  const std::int64_t n_groups = ne0 / 8;
  const std::int64_t tail = ne0 - 8 * n_groups;
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (std::int64_t r = blockIdx.y; r < n_rows; r += gridDim.y) {
    const std::uint8_t* src = w + static_cast<std::size_t>(r) * row_bytes;
    float* out = dst + r * ne0;
    if (item < n_groups) {
      float v[8];
      QuantTraits<T>::group8(src, item, v);
#pragma unroll
      for (int i = 0; i < 8; ++i) out[8 * item + i] = v[i];
    } else if (item < n_groups + tail) {
      const std::int64_t e = 8 * n_groups + (item - n_groups);
      out[e] = dequant_one<T>(src, e);
    }
  }
}

}  // namespace

Status launch_dequantize_rows(const QuantMatrixView& w, std::int64_t row0, std::int64_t n_rows,
                              float* dst, cudaStream_t stream) {
  if (row0 < 0 || n_rows < 0 || row0 + n_rows > w.ne1) {
    return make_error(ErrorCode::kInferenceFailed, "dequantize_rows: rows out of range");
  }
  if (n_rows == 0) return ok_status();
  const std::size_t row_bytes = quant::row_size(w.type, w.ne0);
  const auto* src =
      static_cast<const std::uint8_t*>(w.data) + static_cast<std::size_t>(row0) * row_bytes;
  const dim3 grid = grid_2d(n_rows, w.ne0 / 8 + w.ne0 % 8, kThreads);
  const bool ok = dispatch_weight_type(w.type, [&](auto t) {
    dequantize_rows_kernel<decltype(t)::value>
        <<<grid, kThreads, 0, stream>>>(dst, src, row_bytes, w.ne0, n_rows);
  });
  if (!ok) {
    return make_error(ErrorCode::kInvalidParameter, "dequantize_rows: weight type " +
                                                        std::string(quant::type_name(w.type)) +
                                                        " is not supported on CUDA");
  }
  ZINFER_CUDA_LAUNCH_CHECK("dequantize_rows_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
