// The lane-a-block kernel's body (kernels/q8_mma_vecleg.cuh) run on the CPU: every thread of
// every block emulated (cuda_block_emulator.h), every output held bit for bit to
// mma_reference — the order every tensor-core kernel follows — and stored exactly once. Q8_0
// and Q4_0 with one Q16 activation row; K of one part, of 7 and 8 parts, of one to three
// chunks of 128 blocks (gpt-oss's 2880 and 4096 among them); the gated product with a
// different up matrix; partial blocks of 8 weight rows; rows 2-byte aligned (every offset a
// block can start at); a Q/K/V stack. Also: leg_block_values against the dequantized weights.
// Runs without a GPU; tests/kernels/q8_mma_test runs the kernel itself.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/dequant.h"
#include "engine/quant/ggml_type.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_vecleg.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::q8mma {
namespace {

struct HostCtx : HostBlockCtx {
  void wait_inputs() const {}
};

template <GgmlType T, bool kGated>
void run_blocks(const MmaArgs& a, Outputs& out) {
  for (std::int64_t bx = 0; bx < (a.ne1 + kLegWarps - 1) / kLegWarps; ++bx) {
    testing::BlockEmulator e(kLegWarps * 32, kLegSmemBytes);
    e.run([&](int tid) {
      HostCtx c{{&e, tid, bx, 0, &out}};
      leg_body<T, kGated>(a, c);
    });
  }
}

// shift: the matrices start that many bytes past 4-byte alignment (0 or 2).
template <GgmlType T, bool kGated>
void check_leg(std::int64_t k, std::int64_t ne1, std::size_t shift, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + (kGated ? " gated" : "") +
               " k=" + std::to_string(k) + " ne1=" + std::to_string(ne1) +
               " shift=" + std::to_string(shift));
  const std::size_t rs = quant::row_size(T, k);
  Aligned w0(rs * static_cast<std::size_t>(ne1) + 4), w1(w0.size);
  fill_weights<T>(w0.p + shift, k, ne1, seed);
  fill_weights<T>(w1.p + shift, k, ne1, seed + 1);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const Aligned act = act_rows<T>(layout, 1, seed);
  const MmaArgs a = host_args<T>(act, layout, 1, w0.p + shift, w1.p + shift, ne1);
  Outputs out(1, ne1);
  run_blocks<T, kGated>(a, out);
  expect_reference_outputs<T>(out, a, kGated);
}

// Three matrices as one Q/K/V stack (HostStack).
template <GgmlType T>
void check_stack(std::int64_t k, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " stack k=" + std::to_string(k));
  const HostStack<T> st(k, seed);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const Aligned act = act_rows<T>(layout, 1, seed);
  MmaArgs a = host_args<T>(act, layout, 1, st.all.p, st.all.p, 0);
  st.apply(a);
  Outputs out(1, a.ne1);
  run_blocks<T, false>(a, out);
  expect_reference_outputs<T>(out, st.reference(a), false);
}

template <GgmlType T>
void check_type(std::uint64_t seed) {
  check_leg<T, false>(96, 21, 0, seed);        // one part, a partial block of 8 rows
  check_leg<T, true>(896, 16, 2, seed + 1);    // 7 parts, gated, rows off 4-byte alignment
  check_leg<T, false>(2880, 12, 2, seed + 2);  // gpt-oss's K: 90 blocks, 8 parts
  check_leg<T, true>(4096, 9, 0, seed + 3);    // one whole chunk of 128 blocks
  check_leg<T, false>(8224, 10, 2, seed + 4);  // 257 blocks: three chunks, the last of one
  check_stack<T>(2880, seed + 5);
}

TEST(Q8MmaVecLegHost, Q8_0) { check_type<GgmlType::kQ8_0>(1); }
TEST(Q8MmaVecLegHost, Q4_0) { check_type<GgmlType::kQ4_0>(11); }

// leg_block_values against the dequantized weights, with rows at both 2-byte offsets.
template <GgmlType T>
void check_values(std::uint64_t seed) {
  const std::int64_t k = 128;
  const std::size_t rs = quant::row_size(T, k);
  Aligned w(rs * 3 + 8);
  std::vector<float> want(static_cast<std::size_t>(k));
  for (const std::size_t shift : {std::size_t{0}, std::size_t{2}}) {
    fill_weights<T>(w.p + shift, k, 3, seed + shift);
    for (int r = 0; r < 3; ++r) {
      const std::uint8_t* row = w.p + shift + rs * static_cast<std::size_t>(r);
      quant::dequantize_row(T, row, want.data(), k);
      for (std::int64_t b = 0; b < k / 32; ++b) {
        LegacyHead h{};
        std::uint32_t v[8];
        leg_block_values<T>(row, b, h, v);
        EXPECT_EQ(h.d, MmaTraits<T>::head(row, b).d);
        for (int i = 0; i < 32; ++i) {
          const auto q = static_cast<std::int8_t>(q8::byte_of(v[i / 4], i % 4));
          ASSERT_EQ(h.d * static_cast<float>(q), want[static_cast<std::size_t>(32 * b + i)])
              << "shift " << shift << " row " << r << " element " << 32 * b + i;
        }
      }
    }
  }
}

TEST(Q8MmaVecLegHost, BlockValuesAreTheDequantizedWeights) {
  check_values<GgmlType::kQ8_0>(3);
  check_values<GgmlType::kQ4_0>(4);
}

}  // namespace
}  // namespace zinfer::cuda::q8mma
