// The one-lane-a-part kernel's body (kernels/q8_mma_lane.cuh) run on the CPU: every thread of
// every block emulated (cuda_block_emulator.h), every output held bit for bit to
// mma_reference — the order every tensor-core kernel follows — and stored exactly once. Each
// weight type with Q16 activations (Q4_K / Q5_K through the register path and, with rows off
// 16-byte alignment, through unit_term) and with Q8 activations; 1, 2, 3 and 4 activation
// rows (the one-row case staged in shared memory); 1, 2, 7 and 8 parts; the gated product
// with a different up matrix; partial blocks of weight rows; the block's weight rows staged in
// shared memory (kStageW). Runs without a GPU;
// tests/kernels/q8_mma_test runs the kernel itself.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/ggml_type.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_lane.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::q8mma {
namespace {

struct HostCtx : HostBlockCtx {
  float shfl(float v, int src) const { return e->shfl(tid, v, src); }
};

template <GgmlType T, bool kQ16, int R, bool kGated, bool kStageW = false>
void check_lanes(std::int64_t k, std::int64_t ne1, std::int64_t rows, bool misaligned,
                 std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + (kQ16 ? " q16" : " q8") +
               " R=" + std::to_string(R) + (kGated ? " gated" : "") + " k=" + std::to_string(k) +
               " ne1=" + std::to_string(ne1) + " rows=" + std::to_string(rows) +
               (misaligned ? " misaligned" : "") + (kStageW ? " weights staged" : ""));
  const std::size_t rs = quant::row_size(T, k);
  const std::size_t shift = misaligned ? 2 : 0;  // rows off 16-byte alignment: unit_term path
  Aligned w0(rs * static_cast<std::size_t>(ne1) + shift), w1(w0.size);
  fill_weights<T>(w0.p + shift, k, ne1, seed);
  fill_weights<T>(w1.p + shift, k, ne1, seed + 1);
  const GgmlType at = quant::traits(T).vec_dot_type;
  const q8::Q8ActLayout layout = kQ16 ? q8::q16_act_layout(k) : q8::q8_act_layout(at, k);
  const Aligned act = act_rows<T>(layout, rows, seed);
  MmaArgs a = host_args<T>(act, layout, rows, w0.p + shift, w1.p + shift, ne1);
  a.wide_loads = !misaligned && rs % 16 == 0;
  Outputs out(rows, ne1);
  constexpr bool kStage = R == 1;
  const std::int64_t block_rows = lane_block_rows(a.parts);
  for (std::int64_t by = 0; by < (rows + R - 1) / R; ++by) {
    for (std::int64_t bx = 0; bx < (ne1 + block_rows - 1) / block_rows; ++bx) {
      const std::size_t w_smem =
          kStageW ? lane_stage_w_bytes(a.row_bytes, a.parts, kGated ? 2 : 1) : 0;
      testing::BlockEmulator e(kLaneWarps * 32, kStage ? layout.row_bytes + w_smem : 16);
      e.run([&](int tid) {
        HostCtx c{{&e, tid, bx, by, &out}};
        lane_body<T, kQ16, R, kGated, kStage, kStageW>(a, c);
      });
    }
  }
  expect_reference_outputs<T>(out, a, kGated);
}

// Three matrices as one Q/K/V stack (HostStack): row j of the stack's output is row j of the
// concatenated matrices.
template <GgmlType T, bool kStageW = false>
void check_stack(std::int64_t k, std::int64_t rows, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " stack k=" + std::to_string(k) +
               " rows=" + std::to_string(rows) + (kStageW ? " weights staged" : ""));
  const HostStack<T> st(k, seed);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const Aligned act = act_rows<T>(layout, rows, seed);
  MmaArgs a = host_args<T>(act, layout, rows, st.all.p, st.all.p, 0);
  a.wide_loads = quant::row_size(T, k) % 16 == 0;
  st.apply(a);
  Outputs out(rows, a.ne1);
  const std::int64_t block_rows = lane_block_rows(a.parts);
  constexpr int kR = kStageW ? 1 : 4;  // staged weights: one staged activation row
  for (std::int64_t by = 0; by < (rows + kR - 1) / kR; ++by) {
    for (std::int64_t bx = 0; bx < (a.ne1 + block_rows - 1) / block_rows; ++bx) {
      const std::size_t smem =
          kStageW ? layout.row_bytes + lane_stage_w_bytes(a.row_bytes, a.parts, 1) : 16;
      testing::BlockEmulator e(kLaneWarps * 32, smem);
      e.run([&](int tid) {
        HostCtx c{{&e, tid, bx, by, &out}};
        lane_body<T, true, kR, false, kStageW, kStageW>(a, c);
      });
    }
  }
  expect_reference_outputs<T>(out, st.reference(a), false);
}

template <GgmlType T>
void check_type(std::uint64_t seed) {
  const bool kq = MmaTraits<T>::kBlockElems == 256;
  // K: one part (256 / 96), two parts, 7 or 8 parts.
  const std::int64_t k1 = kq ? 256 : 96, k2 = kq ? 512 : 256, k8 = kq ? 2048 : 896;
  check_lanes<T, true, 1, false>(k8, 45, 1, false, seed);
  check_lanes<T, true, 2, true>(k2, 33, 2, false, seed + 1);
  check_lanes<T, true, 4, false>(k1, 70, 3, false, seed + 2);
  check_lanes<T, true, 4, true>(k8, 20, 5, false, seed + 3);
  check_lanes<T, false, 1, false>(k8, 40, 1, false, seed + 4);
  check_lanes<T, false, 4, true>(k2, 21, 4, false, seed + 5);
  if (kq) check_lanes<T, true, 1, true>(k8, 19, 1, true, seed + 6);
  // The block's weight rows staged in shared memory (rows off 16-byte alignment too: partial
  // granules at both ends of the copy).
  check_lanes<T, true, 1, false, true>(k8, 45, 1, false, seed + 9);
  check_lanes<T, true, 1, true, true>(k2, 33, 1, true, seed + 10);
  check_lanes<T, false, 1, false, true>(k1, 70, 1, true, seed + 11);
  check_stack<T>(k8, 1, seed + 7);  // Q, K and V as one launch
  check_stack<T, true>(k8, 1, seed + 12);
  check_stack<T, true>(k1, 2, seed + 13);
  check_stack<T>(k2, 3, seed + 8);
}

ZINFER_MMA_TYPE_TESTS(Q8MmaLaneHost, check_type)

}  // namespace
}  // namespace zinfer::cuda::q8mma
