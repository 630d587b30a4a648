// embed_kernel: one thread per group of 8 elements of one token's row.
#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/embed.h"
#include "kernels/launch_util.cuh"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kThreads = 128;

template <GgmlType T>
__global__ void embed_kernel(float* out, std::int64_t out_stride, const std::uint8_t* table,
                             std::size_t row_bytes, std::int64_t ne0, const std::int32_t* tokens,
                             std::int64_t n_tokens) {
  const std::int64_t n_groups = ne0 / 8;
  const std::int64_t tail = ne0 - 8 * n_groups;
  const std::int64_t item = static_cast<std::int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  for (std::int64_t r = blockIdx.y; r < n_tokens; r += gridDim.y) {
    const std::uint8_t* src = table + static_cast<std::size_t>(tokens[r]) * row_bytes;
    float* dst = out + r * out_stride;
    if (item < n_groups) {
      float v[8];
      QuantTraits<T>::group8(src, item, v);
#pragma unroll
      for (int i = 0; i < 8; ++i) dst[8 * item + i] = v[i];
    } else if (item < n_groups + tail) {
      const std::int64_t e = 8 * n_groups + (item - n_groups);
      dst[e] = dequant_one<T>(src, e);
    }
  }
}

}  // namespace

Status launch_embed(MatrixView out, const QuantMatrixView& table, const std::int32_t* tokens,
                    cudaStream_t stream) {
  if (out.rows == 0) return ok_status();
  const std::int64_t items = table.ne0 / 8 + table.ne0 % 8;
  const dim3 grid = grid_2d(out.rows, items, kThreads);
  const std::size_t row_bytes = quant::row_size(table.type, table.ne0);
  const bool ok = dispatch_weight_type(table.type, [&](auto t) {
    embed_kernel<decltype(t)::value><<<grid, kThreads, 0, stream>>>(
        out.data, out.stride, static_cast<const std::uint8_t*>(table.data), row_bytes, table.ne0,
        tokens, out.rows);
  });
  if (!ok) {
    return make_error(ErrorCode::kInvalidParameter, "embed: weight type " +
                                                        std::string(quant::type_name(table.type)) +
                                                        " is not supported on CUDA");
  }
  ZINFER_CUDA_LAUNCH_CHECK("embed_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
