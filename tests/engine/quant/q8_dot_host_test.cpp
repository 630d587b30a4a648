// The GPU Q8-activation dot products (kernels/q8_dot.cuh) run on the CPU: every lane's share of
// every block, summed the way a warp does, against quant::vec_dot — the CPU's llama.cpp-style
// matmul, itself checked against ggml's CPU results (ggml_parity_test). The integer parts are
// exact, so the two differ only by float rounding of the per-block terms. Also the activation
// layout (q8_act_layout.h) round trip. Runs without a GPU; the kernels built on these
// functions are checked on the device by tests/kernels/q8_matvec_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/dequant.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/vec_dot.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_dot.cuh"

namespace zinfer::cuda::q8 {
namespace {

using quant::GgmlType;

// Σ over blocks and lanes of Q8Traits<T>::dot, lanes of a block in order (a warp's partial
// sums are added differently; any order is within the tolerance below).
template <GgmlType T>
double emulated_dot(const std::uint8_t* w_row, const ActRow& a, std::int64_t k) {
  using Tr = Q8Traits<T>;
  double sum = 0.0;
  for (std::int64_t b = 0; b < k / Tr::kBlockElems; ++b) {
    for (int t = 0; t < Tr::kLanes; ++t) sum += Tr::dot(Tr::load(w_row, b, t), a, b, t);
  }
  return sum;
}

template <GgmlType T>
void check_type(std::int64_t k, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " k=" + std::to_string(k));
  static_assert(Q8Traits<T>::kBlockElems == 32 || Q8Traits<T>::kBlockElems == 256);
  ASSERT_EQ(static_cast<std::size_t>(Q8Traits<T>::kBlockBytes),
            quant::row_size(T, Q8Traits<T>::kBlockElems));
  const GgmlType act = Q8Traits<T>::kAct;
  ASSERT_EQ(act, quant::traits(T).vec_dot_type);
  model::SynthRng rng(seed);
  constexpr int kRows = 6;
  std::vector<std::uint8_t> w(quant::row_size(T, k) * kRows + 16);
  // 16-byte aligned rows as on the device (cudaMalloc), so the K-quants' 16-byte loads are
  // legal in the emulation too.
  std::uint8_t* w0 = w.data() + (16 - reinterpret_cast<std::uintptr_t>(w.data()) % 16) % 16;
  for (int r = 0; r < kRows; ++r)
    model::synth_fill_row(T, model::InitKind::kWeight, 0.05f, k, rng,
                          w0 + quant::row_size(T, k) * r);

  const Q8ActLayout layout = q8_act_layout(act, k);
  std::vector<float> x(static_cast<std::size_t>(k));
  std::vector<std::uint8_t> blocks(quant::act_row_size(act, k));
  std::vector<std::uint8_t> packed(layout.row_bytes + 16);
  std::uint8_t* p0 =
      packed.data() + (16 - reinterpret_cast<std::uintptr_t>(packed.data()) % 16) % 16;
  for (int trial = 0; trial < 4; ++trial) {
    for (auto& v : x) v = rng.symmetric() * (trial == 3 ? 40.0f : 1.5f);
    if (trial == 2) x[static_cast<std::size_t>(k / 3)] = 0.0f;
    quant::quantize_act_row(act, x.data(), blocks.data(), k);
    pack_act_row(layout, blocks.data(), p0);
    const ActRow a = act_row(p0, layout, 0);
    for (int r = 0; r < kRows; ++r) {
      const std::uint8_t* row = w0 + quant::row_size(T, k) * r;
      const float want = quant::vec_dot(T, k, row, blocks.data());
      const double got = emulated_dot<T>(row, a, k);
      double mag = 0.0;  // scale of the terms: Σ|w·x| bounds the rounding of any order
      std::vector<float> wf(static_cast<std::size_t>(k));
      quant::dequantize_row(T, row, wf.data(), k);
      for (std::int64_t i = 0; i < k; ++i) mag += std::fabs(static_cast<double>(wf[i]) * x[i]);
      EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6) << "row " << r << " trial " << trial;
    }
  }
}

TEST(Q8DotHost, EveryLaneSplitEqualsTheCpuDotProduct) {
  for (std::int64_t k : {256, 896 + 128, 4864}) {
    check_type<GgmlType::kQ4_0>(k, 1);
    check_type<GgmlType::kQ4_1>(k, 2);
    check_type<GgmlType::kQ5_0>(k, 3);
    check_type<GgmlType::kQ5_1>(k, 4);
    check_type<GgmlType::kQ8_0>(k, 5);
    check_type<GgmlType::kQ4_K>(k, 6);
    check_type<GgmlType::kQ5_K>(k, 7);
    check_type<GgmlType::kQ6_K>(k, 8);
  }
}

// Q16 activations against the exact f32 dot product (quant::vec_dot_f32, the oracle's
// numerics): the difference must stay within the rounding the 16-bit quants allow — half a
// quant step of each element's block times |w| summed — plus float rounding.
template <GgmlType T>
void check_q16(std::int64_t k, std::uint64_t seed, double& worst_rel) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " k=" + std::to_string(k) + " q16");
  using Tr = Q8Traits<T>;
  model::SynthRng rng(seed);
  const std::size_t rs = quant::row_size(T, k);
  std::vector<std::uint8_t> w(rs + 16);
  std::uint8_t* w0 = w.data() + (16 - reinterpret_cast<std::uintptr_t>(w.data()) % 16) % 16;
  model::synth_fill_row(T, model::InitKind::kWeight, 0.05f, k, rng, w0);
  std::vector<float> wf(static_cast<std::size_t>(k));
  quant::dequantize_row(T, w0, wf.data(), k);
  const Q8ActLayout l = q16_act_layout(k);
  std::vector<std::uint8_t> packed(l.row_bytes + 16);
  std::uint8_t* p0 =
      packed.data() + (16 - reinterpret_cast<std::uintptr_t>(packed.data()) % 16) % 16;
  std::vector<float> x(static_cast<std::size_t>(k));
  for (int trial = 0; trial < 4; ++trial) {
    for (auto& v : x) v = rng.symmetric() * (trial == 3 ? 40.0f : 1.5f);
    if (trial == 2) x[static_cast<std::size_t>(k / 5)] = 300.0f;  // an outlier in one block
    quantize_q16_row(l, x.data(), p0);
    const Act16Row a = act16_row(p0, l, 0);
    double got = 0.0;
    for (std::int64_t b = 0; b < k / Tr::kBlockElems; ++b) {
      for (int t = 0; t < Tr::kLanes; ++t) got += Tr::dot16(Tr::load(w0, b, t), a, b, t);
    }
    const double exact = quant::vec_dot_f32(T, k, w0, x.data());
    double bound = 0.0, mag = 0.0;
    for (std::int64_t i = 0; i < k; ++i) {
      bound += std::fabs(static_cast<double>(wf[i])) * 0.5 * a.d[i / 32];
      mag += std::fabs(static_cast<double>(wf[i]) * x[i]);
    }
    EXPECT_NEAR(got, exact, bound * 1.01 + 2e-6 * mag + 1e-6) << "trial " << trial;
    if (trial != 2) worst_rel = std::max(worst_rel, std::fabs(got - exact) / (mag + 1e-30));
  }
}

TEST(Q8DotHost, Q16ActivationsStayWithinTheirRoundingOfTheExactDot) {
  double worst = 0.0;
  for (std::int64_t k : {256, 1024, 4864}) {
    check_q16<GgmlType::kQ4_0>(k, 11, worst);
    check_q16<GgmlType::kQ4_1>(k, 12, worst);
    check_q16<GgmlType::kQ5_0>(k, 13, worst);
    check_q16<GgmlType::kQ5_1>(k, 14, worst);
    check_q16<GgmlType::kQ8_0>(k, 15, worst);
    check_q16<GgmlType::kQ4_K>(k, 16, worst);
    check_q16<GgmlType::kQ5_K>(k, 17, worst);
    check_q16<GgmlType::kQ6_K>(k, 18, worst);
  }
  std::printf("[ measured ] Q16: worst |dot - exact| / sum|w*x| = %.2e (blocks without outliers)\n",
              worst);
}

// The Q16 planes: q = 256*hi + lo recovers round(x/d), |q| <= 32639, sums of 16 quants.
TEST(Q8DotHost, Q16LayoutSplitsEveryQuantExactly) {
  const std::int64_t k = 96;
  const Q8ActLayout l = q16_act_layout(k);
  EXPECT_EQ(l.row_bytes % 16, 0u);
  EXPECT_EQ(l.lo_off % 16, 0u);
  EXPECT_EQ(l.d_off % 16, 0u);
  std::vector<float> x(k);
  model::SynthRng rng(3);
  for (auto& v : x) v = rng.symmetric() * 7.0f;
  x[5] = -7.5f;  // the largest magnitude, negative: quant -32639
  std::vector<std::uint8_t> buf(l.row_bytes);
  quantize_q16_row(l, x.data(), buf.data());
  const Act16Row a = act16_row(buf.data(), l, 0);
  for (std::int64_t i = 0; i < k; ++i) {
    const int q = 256 * a.hi[i] + a.lo[i];
    EXPECT_LE(std::abs(q), 32639);
    EXPECT_NEAR(q * static_cast<double>(a.d[i / 32]), x[i], 0.5 * a.d[i / 32] * 1.0001) << i;
  }
  EXPECT_EQ(256 * a.hi[5] + a.lo[5], -32639);
  for (std::int64_t g = 0; g < k / 16; ++g) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += 256 * a.hi[16 * g + i] + a.lo[16 * g + i];
    EXPECT_EQ(a.qsum16[g], sum);
  }
}

TEST(Q8DotHost, ActivationLayoutKeepsEveryQuantScaleAndSum) {
  for (GgmlType act : {GgmlType::kQ8_0, GgmlType::kQ8_1, GgmlType::kQ8_K}) {
    const std::int64_t k = 512;
    const Q8ActLayout l = q8_act_layout(act, k);
    EXPECT_EQ(l.row_bytes % 16, 0u);
    EXPECT_EQ(l.d_off % 16, 0u);
    model::SynthRng rng(9);
    std::vector<float> x(k);
    for (auto& v : x) v = rng.symmetric();
    std::vector<std::uint8_t> blocks(quant::act_row_size(act, k));
    quant::quantize_act_row(act, x.data(), blocks.data(), k);
    std::vector<std::uint8_t> packed(l.row_bytes);
    pack_act_row(l, blocks.data(), packed.data());
    const ActRow a = act_row(packed.data(), l, 0);
    for (std::int64_t b = 0; b < l.nb; ++b) {
      if (act == GgmlType::kQ8_K) {
        const auto& blk = reinterpret_cast<const quant::BlockQ8_K*>(blocks.data())[b];
        EXPECT_EQ(a.d[b], blk.d);
        for (int i = 0; i < 16; ++i) EXPECT_EQ(a.bsums[16 * b + i], blk.bsums[i]);
        for (int i = 0; i < 256; ++i) EXPECT_EQ(a.qs[256 * b + i], blk.qs[i]);
      } else {
        const std::size_t bs =
            act == GgmlType::kQ8_1 ? sizeof(quant::BlockQ8_1) : sizeof(quant::BlockQ8_0);
        const std::uint8_t* blk = blocks.data() + bs * static_cast<std::size_t>(b);
        std::uint16_t d;
        std::memcpy(&d, blk, 2);
        EXPECT_EQ(a.d[b], quant::fp16_to_f32(d));
        if (act == GgmlType::kQ8_1) {
          std::uint16_t s;
          std::memcpy(&s, blk + 2, 2);
          EXPECT_EQ(a.s[b], quant::fp16_to_f32(s));
        }
        const auto* qs = reinterpret_cast<const std::int8_t*>(blk + bs - 32);
        for (int i = 0; i < 32; ++i) EXPECT_EQ(a.qs[32 * b + i], qs[i]);
      }
    }
  }
}

}  // namespace
}  // namespace zinfer::cuda::q8
