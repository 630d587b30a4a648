// moe_expert_kernel<T, Stage> (moe.h launch_moe_gate_up, launch_moe_down): one block per
// (tile of ≤ kMoeTileRows slots of one expert, kWarps weight rows of that expert), the tile
// index varying fastest. A warp computes one weight row j of the expert (kGateUp: gate row j
// and up row j) against the tile's slots, whose input rows it reads in place through the slot
// list (x[slot / k] or h[slot]): lane l takes the row's 8-element groups l, l + 32, ...
// (QuantTraits<T>::group8, bit-identical to the CPU dequant), an fmaf chain per slot, then
// the warp butterfly; lane r writes slot r's output with the bias and, for kGateUp, the
// expert activation (moe_expert_act). Blocks of tiles past the last real one exit at once.
#include <limits>
#include <string>

#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/launch_util.cuh"
#include "kernels/moe.h"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

constexpr int kWarps = 4;  // weight rows per block

enum class Stage { kGateUp, kDown };

struct ExpertParams {
  const float* in = nullptr;  // [..][in_stride]: row slot / in_div feeds slot
  std::int64_t in_stride = 0;
  std::int32_t in_div = 1;
  float* out = nullptr;  // [n_slots][out_stride]: row slot
  std::int64_t out_stride = 0;
  const std::uint8_t* w[2] = {nullptr, nullptr};  // gate, up (kGateUp); down (kDown)
  const float* bias[2] = {nullptr, nullptr};      // [n_expert][rows_per_expert] or null
  std::size_t row_bytes = 0;
  std::int64_t k = 0;                // elements per weight row
  std::int64_t rows_per_expert = 0;  // outputs per slot
  MoeActArgs act;
  const std::int32_t* slots = nullptr;
  const std::int32_t* tile_expert = nullptr;
  const std::int32_t* tile_begin = nullptr;
  const std::int32_t* tile_count = nullptr;
  std::int64_t max_tiles = 0;
};

template <GgmlType T, Stage S>
__global__ void __launch_bounds__(kWarps * 32) moe_expert_kernel(const ExpertParams p) {
  constexpr int kMats = S == Stage::kGateUp ? 2 : 1;
  constexpr int NR = kMoeTileRows;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const std::int64_t tile = static_cast<std::int64_t>(blockIdx.x) % p.max_tiles;
  const std::int64_t j =
      (static_cast<std::int64_t>(blockIdx.x) / p.max_tiles) * kWarps + threadIdx.x / 32;
  const int e = p.tile_expert[tile];
  if (e < 0 || j >= p.rows_per_expert) return;  // the whole warp: no block barrier below
  const std::int32_t* tile_slots = p.slots + p.tile_begin[tile];
  const int n_rows = p.tile_count[tile];
  std::int32_t slot[NR];
  const float* x[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    slot[r] = r < n_rows ? tile_slots[r] : 0;
    x[r] = p.in + static_cast<std::int64_t>(slot[r] / p.in_div) * p.in_stride;
  }
  const std::int64_t wrow = static_cast<std::int64_t>(e) * p.rows_per_expert + j;
  const std::uint8_t* wr[kMats];
#pragma unroll
  for (int m = 0; m < kMats; ++m) wr[m] = p.w[m] + static_cast<std::size_t>(wrow) * p.row_bytes;
  float acc[kMats][NR];
#pragma unroll
  for (int m = 0; m < kMats; ++m) {
#pragma unroll
    for (int r = 0; r < NR; ++r) acc[m][r] = 0.0f;
  }

  const std::int64_t n_groups = p.k / 8;
  for (std::int64_t g = lane; g < n_groups; g += 32) {
    float v[kMats][8];
#pragma unroll
    for (int m = 0; m < kMats; ++m) QuantTraits<T>::group8(wr[m], g, v[m]);
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      if (r < n_rows) {
        const float* xr = x[r] + 8 * g;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float xi = xr[i];
#pragma unroll
          for (int m = 0; m < kMats; ++m) acc[m][r] = fmaf(v[m][i], xi, acc[m][r]);
        }
      }
    }
  }
  if constexpr (QuantTraits<T>::kFloat) {
    for (std::int64_t c = 8 * n_groups + lane; c < p.k; c += 32) {
#pragma unroll
      for (int r = 0; r < NR; ++r) {
        if (r < n_rows) {
          const float xi = x[r][c];
#pragma unroll
          for (int m = 0; m < kMats; ++m)
            acc[m][r] = fmaf(QuantTraits<T>::one(wr[m], c), xi, acc[m][r]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    float o[kMats];
#pragma unroll
    for (int m = 0; m < kMats; ++m) {
      o[m] = warp_sum(acc[m][r]);  // every lane holds the sum
      if (p.bias[m] != nullptr) o[m] = __fadd_rn(o[m], p.bias[m][wrow]);
    }
    if (lane == r && r < n_rows) {
      float* dst = p.out + static_cast<std::int64_t>(slot[r]) * p.out_stride + j;
      if constexpr (S == Stage::kGateUp) {
        *dst = moe_expert_act(p.act.act, o[0], o[1], p.act.alpha, p.act.limit);
      } else {
        *dst = o[0];
      }
    }
  }
}

// Shape checks shared by both stages; the name goes into the message.
Status check_expert_shapes(const char* what, MatrixView out, MatrixView in, const MoeRouting& r,
                           const MoeMatrix& m, std::int64_t in_rows) {
  const std::int64_t row_blocks = (m.rows_per_expert + kWarps - 1) / kWarps;
  if (!cuda_weight_type_supported(m.w.type) || m.rows_per_expert <= 0 ||
      m.w.ne1 != static_cast<std::int64_t>(r.n_expert) * m.rows_per_expert || m.w.ne0 != in.cols ||
      in.rows != in_rows || out.rows != r.n_slots || out.cols != m.rows_per_expert ||
      r.max_tiles != moe_max_tiles(r.n_slots, r.n_expert) ||
      row_blocks * r.max_tiles > std::numeric_limits<int>::max()) {
    return make_error(ErrorCode::kInferenceFailed,
                      std::string(what) + ": bad shapes (in [" + std::to_string(in.rows) + "," +
                          std::to_string(in.cols) + "], w [" + std::to_string(m.w.ne1) + "," +
                          std::to_string(m.w.ne0) + "] " + std::string(quant::type_name(m.w.type)) +
                          ", " + std::to_string(r.n_expert) + " experts)");
  }
  return ok_status();
}

template <Stage S>
Status launch_stage(const char* what, ExpertParams p, const MoeRouting& r, GgmlType type,
                    cudaStream_t stream) {
  p.slots = r.slots;
  p.tile_expert = r.tile_expert;
  p.tile_begin = r.tile_begin;
  p.tile_count = r.tile_count;
  p.max_tiles = r.max_tiles;
  const std::int64_t row_blocks = (p.rows_per_expert + kWarps - 1) / kWarps;
  const dim3 grid(static_cast<unsigned>(row_blocks * r.max_tiles));
  const bool ok = dispatch_weight_type(type, [&](auto t) {
    moe_expert_kernel<decltype(t)::value, S><<<grid, kWarps * 32, 0, stream>>>(p);
  });
  if (!ok) {
    return make_error(ErrorCode::kInvalidParameter, std::string(what) + ": weight type " +
                                                        std::string(quant::type_name(type)) +
                                                        " is not supported on CUDA");
  }
  ZINFER_CUDA_LAUNCH_CHECK("moe_expert_kernel");
  return ok_status();
}

}  // namespace

Status launch_moe_gate_up(MatrixView h, MatrixView x, const MoeRouting& r, const MoeMatrix& gate,
                          const MoeMatrix& up, const MoeActArgs& act, cudaStream_t stream) {
  if (r.k <= 0) return make_error(ErrorCode::kInferenceFailed, "moe_gate_up: k must be > 0");
  ZINFER_RETURN_IF_ERROR(check_expert_shapes("moe_gate_up", h, x, r, gate, r.n_slots / r.k));
  if (up.w.type != gate.w.type || up.w.ne0 != gate.w.ne0 || up.w.ne1 != gate.w.ne1 ||
      up.rows_per_expert != gate.rows_per_expert) {
    return make_error(ErrorCode::kInferenceFailed, "moe_gate_up: gate and up differ in shape");
  }
  if (r.n_slots == 0) return ok_status();
  ExpertParams p;
  p.in = x.data;
  p.in_stride = x.stride;
  p.in_div = r.k;
  p.out = h.data;
  p.out_stride = h.stride;
  p.w[0] = static_cast<const std::uint8_t*>(gate.w.data);
  p.w[1] = static_cast<const std::uint8_t*>(up.w.data);
  p.bias[0] = gate.bias;
  p.bias[1] = up.bias;
  p.row_bytes = quant::row_size(gate.w.type, gate.w.ne0);
  p.k = gate.w.ne0;
  p.rows_per_expert = gate.rows_per_expert;
  p.act = act;
  return launch_stage<Stage::kGateUp>("moe_gate_up", p, r, gate.w.type, stream);
}

Status launch_moe_down(MatrixView y, MatrixView h, const MoeRouting& r, const MoeMatrix& down,
                       cudaStream_t stream) {
  ZINFER_RETURN_IF_ERROR(check_expert_shapes("moe_down", y, h, r, down, r.n_slots));
  if (r.n_slots == 0) return ok_status();
  ExpertParams p;
  p.in = h.data;
  p.in_stride = h.stride;
  p.in_div = 1;
  p.out = y.data;
  p.out_stride = y.stride;
  p.w[0] = static_cast<const std::uint8_t*>(down.w.data);
  p.bias[0] = down.bias;
  p.row_bytes = quant::row_size(down.w.type, down.w.ne0);
  p.k = down.w.ne0;
  p.rows_per_expert = down.rows_per_expert;
  return launch_stage<Stage::kDown>("moe_down", p, r, down.w.type, stream);
}

}  // namespace zinfer::cuda
