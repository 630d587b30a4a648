// quantize_act kernels (launched with launch_pdl, pdl.h): one warp per 256-element group of a row
// (and rms_norm_quantize: RMSNorm first), with the device pieces of q8_quantize.cuh (the bytes
// equal quantize_act_row's, or quantize_q16_row's).
#include <algorithm>

#include "kernels/cuda_check.h"
#include "kernels/pdl.h"
#include "kernels/q8_act.h"
#include "kernels/q8_quantize.cuh"

namespace zinfer::cuda {
namespace {

using q8::Kind;
using q8::kQ16;
using q8::kQ8K;
using q8::kQ8Small;

constexpr int kWarps = 8;

// One warp per 256-element group of a row.
template <int kKind>
__global__ void __launch_bounds__(kWarps * 32)
    quantize_act_kernel(const float* in, std::int64_t in_stride, q8::Q8ActLayout l,
                        std::int64_t rows, std::uint8_t* out) {
  pdl_wait();
  pdl_launch_dependents();
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t groups = q8::quant_groups(l.k);
  const std::int64_t blk = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (blk >= rows * groups) return;
  const std::int64_t r = blk / groups, g = blk % groups;
  q8::quantize_group<kKind>(in + r * in_stride, false, 1.0f, nullptr, lane, l,
                            out + static_cast<std::size_t>(r) * l.row_bytes, g);
}

// RMSNorm then quantization. Grid (slices, rows): every block of a row computes the row's
// scale (the sum of squares in rms_norm_kernel's order, q8_quantize.cuh), then its warps
// quantize groups slice·kWarps + warp, + gridDim.x·kWarps, ... Each element is (x·s)·w with
// two roundings, as rms_norm_kernel writes it.
template <int kKind>
__global__ void __launch_bounds__(kWarps * 32)
    rms_norm_quantize_kernel(const float* in, std::int64_t in_stride, const float* w, float eps,
                             q8::Q8ActLayout l, std::uint8_t* out) {
  pdl_wait();
  pdl_launch_dependents();
  __shared__ double scratch[8];
  const std::int64_t r = blockIdx.y;
  const float* x = in + r * in_stride;
  const float s = q8::rms_scale(q8::rms_sum_squares(x, l.k, scratch), l.k, eps);
  const int lane = static_cast<int>(threadIdx.x) % 32;
  std::uint8_t* row = out + static_cast<std::size_t>(r) * l.row_bytes;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
       g < q8::quant_groups(l.k); g += static_cast<std::int64_t>(gridDim.x) * kWarps) {
    q8::quantize_group<kKind>(x, true, s, w, lane, l, row, g);
  }
}

bool layout_fits(const q8::Q8ActLayout& l, const MatrixView& in) {
  const std::int64_t block = q8::kind_of(l) == kQ8K ? 256 : 32;
  return in.cols == l.k && l.nb > 0 && l.k % block == 0;
}

}  // namespace

Status launch_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, std::uint8_t* out,
                           cudaStream_t stream) {
  if (!layout_fits(layout, in)) {
    return make_error(ErrorCode::kInferenceFailed, "quantize_act: row length does not fit");
  }
  if (in.rows == 0) return ok_status();
  const std::int64_t warps = in.rows * q8::quant_groups(layout.k);
  const dim3 grid(static_cast<unsigned>((warps + kWarps - 1) / kWarps));
  switch (q8::kind_of(layout)) {
    case kQ8K:
      launch_pdl(quantize_act_kernel<kQ8K>, grid, dim3(kWarps * 32), 0, stream, in.data, in.stride,
                 layout, in.rows, out);
      break;
    case kQ16:
      launch_pdl(quantize_act_kernel<kQ16>, grid, dim3(kWarps * 32), 0, stream, in.data, in.stride,
                 layout, in.rows, out);
      break;
    default:
      launch_pdl(quantize_act_kernel<kQ8Small>, grid, dim3(kWarps * 32), 0, stream, in.data,
                 in.stride, layout, in.rows, out);
  }
  ZINFER_CUDA_LAUNCH_CHECK("quantize_act kernel");
  return ok_status();
}

Status launch_rms_norm_quantize_act(const q8::Q8ActLayout& layout, MatrixView in, const float* w,
                                    float eps, std::uint8_t* out, cudaStream_t stream) {
  if (!layout_fits(layout, in) || in.rows > kMaxGridY) {
    return make_error(ErrorCode::kInferenceFailed,
                      "rms_norm_quantize_act: row length does not fit");
  }
  if (in.rows == 0) return ok_status();
  // Enough slices that each warp quantizes about one group: the row's scale is recomputed by
  // each slice (a read of the row from L2) instead of one block doing all the row's groups.
  const std::int64_t slices =
      std::min<std::int64_t>((q8::quant_groups(layout.k) + kWarps - 1) / kWarps, 32);
  const dim3 grid(static_cast<unsigned>(slices), static_cast<unsigned>(in.rows));
  switch (q8::kind_of(layout)) {
    case kQ8K:
      launch_pdl(rms_norm_quantize_kernel<kQ8K>, grid, dim3(kWarps * 32), 0, stream, in.data,
                 in.stride, w, eps, layout, out);
      break;
    case kQ16:
      launch_pdl(rms_norm_quantize_kernel<kQ16>, grid, dim3(kWarps * 32), 0, stream, in.data,
                 in.stride, w, eps, layout, out);
      break;
    default:
      launch_pdl(rms_norm_quantize_kernel<kQ8Small>, grid, dim3(kWarps * 32), 0, stream, in.data,
                 in.stride, w, eps, layout, out);
  }
  ZINFER_CUDA_LAUNCH_CHECK("rms_norm_quantize_act kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
