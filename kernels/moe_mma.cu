// moe_mma_kernel: the experts' matmuls of moe_mma.cuh on the device — the thread context
// (mma.sync, __syncthreads, the output row of a slot) and the launchers of both stages.
#include <atomic>
#include <limits>
#include <string>

#include "engine/core/env_switch.h"
#include "engine/quant/ggml_type.h"
#include "kernels/cuda_check.h"
#include "kernels/moe.h"
#include "kernels/moe_mma.cuh"
#include "kernels/moe_vec.h"
#include "kernels/pdl.h"
#include "kernels/q8_mma_launch.cuh"

namespace zinfer::cuda {
namespace {

using moemma::MoeMmaArgs;
using quant::GgmlType;

struct MoeMmaCtx : moemma::MoeDeviceCtx {
  __device__ void mma_k32(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                          std::uint32_t b1) const {
    cuda::mma_k32(c, a, b0, b1);
  }
};

template <GgmlType T, bool kGateUp>
__global__ void __launch_bounds__(moemma::kMoeMmaThreads)
    moe_mma_kernel(const MoeMmaArgs p, float* out, std::int64_t out_stride) {
  __shared__ __align__(16) std::uint8_t red[moemma::kMoeMmaSmemBytes];
  pdl_wait();
  pdl_launch_dependents();
  MoeMmaCtx x{{red, out, out_stride}};
  moemma::moe_mma_body<T, kGateUp>(p, x);
}

Status check_shapes(const char* what, MatrixView out, std::int64_t in_rows, std::int64_t k,
                    const MoeRouting& r, const MoeMatrix& m, std::int64_t want_in_rows) {
  const std::int64_t blocks = moemma::moe_mma_row_blocks(m.rows_per_expert) * r.max_tiles;
  if (!moe_mma_supported(m) || m.rows_per_expert <= 0 || k <= 0 || k % 32 != 0 || m.w.ne0 != k ||
      m.w.ne1 != static_cast<std::int64_t>(r.n_expert) * m.rows_per_expert ||
      in_rows != want_in_rows || out.rows != r.n_slots || out.cols != m.rows_per_expert ||
      r.max_tiles != moe_max_tiles(r.n_slots, r.n_expert) ||
      blocks > std::numeric_limits<int>::max()) {
    return make_error(ErrorCode::kInferenceFailed,
                      std::string(what) + ": bad shapes (K " + std::to_string(k) + ", w [" +
                          std::to_string(m.w.ne1) + "," + std::to_string(m.w.ne0) + "] " +
                          std::string(quant::type_name(m.w.type)) + ", " +
                          std::to_string(r.n_expert) + " experts)");
  }
  return ok_status();
}

// set_moe_kernel's value, else ZINFER_MOE_KERNEL: mma or vec (a measurement switch: the same
// bits whichever runs); unset or anything else: the vec kernel up to kMoeVecMaxTokens tokens
// (0), else the tensor cores.
std::atomic<int> g_moe_kernel{-1};

int moe_kernel_setting() {
  const int set = g_moe_kernel.load(std::memory_order_relaxed);
  if (set >= 0) return set;
  static const int env = env_choice("ZINFER_MOE_KERNEL", {"auto", "mma", "vec"}, 0, 0);
  return env;
}

template <bool kGateUp>
Status launch(MoeMmaArgs p, const MoeRouting& r, MatrixView out, cudaStream_t stream) {
  p.slots = r.slots;
  p.tile_expert = r.tile_expert;
  p.tile_begin = r.tile_begin;
  p.tile_count = r.tile_count;
  p.max_tiles = r.max_tiles;
  p.parts = q8mma::mma_parts(p.layout.k / 32, 32);
  const int setting = moe_kernel_setting();
  const std::int64_t tokens = r.k > 0 ? r.n_slots / r.k : r.n_slots;
  if (setting != 1 && (setting == 2 || tokens <= kMoeVecMaxTokens) && moe_vec_fits(p)) {
    return launch_moe_vec(p, kGateUp, out, stream);
  }
  const dim3 grid(
      static_cast<unsigned>(moemma::moe_mma_row_blocks(p.rows_per_expert) * r.max_tiles));
  launch_pdl(moe_mma_kernel<GgmlType::kMXFP4, kGateUp>, grid, dim3(moemma::kMoeMmaThreads), 0,
             stream, p, out.data, out.stride);
  ZINFER_CUDA_LAUNCH_CHECK("moe_mma_kernel");
  return ok_status();
}

}  // namespace

void set_moe_kernel(int v) { g_moe_kernel.store(v, std::memory_order_relaxed); }

bool moe_mma_supported(const MoeMatrix& m) { return m.w.type == GgmlType::kMXFP4; }

Status launch_moe_mma_gate_up(MatrixView h, const std::uint8_t* xq, std::int64_t x_rows,
                              std::int64_t k, const MoeRouting& r, const MoeMatrix& gate,
                              const MoeMatrix& up, const MoeActArgs& act, cudaStream_t stream) {
  if (r.k <= 0) return make_error(ErrorCode::kInferenceFailed, "moe_mma_gate_up: k must be > 0");
  ZINFER_RETURN_IF_ERROR(check_shapes("moe_mma_gate_up", h, x_rows, k, r, gate, r.n_slots / r.k));
  if (up.w.type != gate.w.type || up.w.ne0 != gate.w.ne0 || up.w.ne1 != gate.w.ne1 ||
      up.rows_per_expert != gate.rows_per_expert) {
    return make_error(ErrorCode::kInferenceFailed, "moe_mma_gate_up: gate and up differ in shape");
  }
  if (r.n_slots == 0) return ok_status();
  MoeMmaArgs p;
  p.act = xq;
  p.layout = q8::q16_act_layout(k);
  p.in_div = r.k;
  p.w[0] = static_cast<const std::uint8_t*>(gate.w.data);
  p.w[1] = static_cast<const std::uint8_t*>(up.w.data);
  p.bias[0] = gate.bias;
  p.bias[1] = up.bias;
  p.row_bytes = quant::row_size(gate.w.type, k);
  p.rows_per_expert = gate.rows_per_expert;
  p.act_kind = act.act;
  p.alpha = act.alpha;
  p.limit = act.limit;
  return launch<true>(p, r, h, stream);
}

Status launch_moe_mma_down(MatrixView y, const std::uint8_t* hq, std::int64_t k,
                           const MoeRouting& r, const MoeMatrix& down, cudaStream_t stream) {
  ZINFER_RETURN_IF_ERROR(check_shapes("moe_mma_down", y, r.n_slots, k, r, down, r.n_slots));
  if (r.n_slots == 0) return ok_status();
  MoeMmaArgs p;
  p.act = hq;
  p.layout = q8::q16_act_layout(k);
  p.in_div = 1;
  p.w[0] = static_cast<const std::uint8_t*>(down.w.data);
  p.bias[0] = down.bias;
  p.row_bytes = quant::row_size(down.w.type, k);
  p.rows_per_expert = down.rows_per_expert;
  return launch<false>(p, r, y, stream);
}

}  // namespace zinfer::cuda
