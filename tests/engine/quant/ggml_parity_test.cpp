// Parity with llama.cpp's own CPU kernels: activation quantization (from_float) and vec_dot
// outputs recorded from llama-cpp-python's libggml-cpu.so by scripts/golden/ggml_cpu_vectors.py.
// Activations must match byte for byte. Dots must match bit for bit for the types whose x86
// kernel order we reproduce (the block formats llama.cpp models like SmolLM2 use); for the
// K-quants and float types, whose x86 kernels sum in another order, within 1e-5 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/dequant.h"
#include "engine/quant/fp16.h"
#include "engine/quant/vec_dot.h"
#include "tests/engine/quant/quant_fixture.h"

namespace zinfer::quant {
namespace {

const std::set<GgmlType> kBitExact = {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0,
                                      GgmlType::kQ5_1, GgmlType::kQ8_0, GgmlType::kMXFP4};

std::vector<std::uint8_t> act_of(GgmlType vt, const float* x, std::int64_t n) {
  std::vector<std::uint8_t> act(act_row_size(vt, n));
  quantize_act_row(vt, x, act.data(), n);
  return act;
}

// sum |w_i * a_i| over the dequantized rows: the scale of the float rounding error.
double magnitude(GgmlType type, const std::uint8_t* raw, const std::vector<std::uint8_t>& act,
                 std::int64_t n) {
  std::vector<float> w(static_cast<std::size_t>(n)), a(static_cast<std::size_t>(n));
  dequantize_row(type, raw, w.data(), n);
  dequantize_row(traits(type).vec_dot_type, act.data(), a.data(), n);
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(w[i]) * a[i]);
  return s;
}

void expect_dot(GgmlType type, const std::uint8_t* raw, const std::vector<std::uint8_t>& act,
                std::int64_t n, float want, const std::string& what) {
  const float got = vec_dot(type, n, raw, act.data());
  ASSERT_TRUE(std::isfinite(got)) << what;
  if (kBitExact.count(type)) {
    EXPECT_EQ(f32_bits(got), f32_bits(want)) << what << ": got " << got << " llama.cpp " << want;
  } else {
    EXPECT_NEAR(got, want, 1e-5 * magnitude(type, raw, act, n)) << what;
  }
}

class GgmlParityTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GgmlParityTest, ActivationAndDotMatchLlamaCpp) {
  const GgmlType type = GetParam();
  const std::string name(type_name(type));
  const auto fx = testing::load_quant_fixture(name + ".zqv");
  const auto gx = testing::load_quant_fixture("ggml_" + name + ".zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  ASSERT_TRUE(gx.error.empty()) << gx.error;
  // The bit-exact expectations are for ggml's AVX2 kernels (features: avx2, fma, f16c, ...).
  ASSERT_EQ(gx.bytes("features").at(0), 1) << "fixture not recorded from an AVX2 build of ggml";
  const GgmlType vt = traits(type).vec_dot_type;
  const auto raw = fx.bytes("raw");
  const auto x = fx.values<float>("x");

  const auto act = act_of(vt, x.data(), static_cast<std::int64_t>(x.size()));
  EXPECT_EQ(act, gx.bytes("act")) << name
                                  << ": activation bytes differ from llama.cpp's from_float";

  const auto dots = gx.values<float>("dot");
  const std::int64_t unit = traits(type).block_size > 1 ? traits(type).block_size : 32;
  const int blocks[] = {1, 3, 7};
  for (int k = 0; k < 3; ++k) {
    const std::int64_t n = blocks[k] * unit;
    expect_dot(type, raw.data(), act_of(vt, x.data(), n), n, dots.at(k),
               name + " n=" + std::to_string(n));
  }

  const auto long_raw = gx.bytes("long_raw");
  const auto long_x = gx.values<float>("long_x");
  const auto n = static_cast<std::int64_t>(long_x.size());
  const auto long_act = act_of(vt, long_x.data(), n);
  EXPECT_EQ(long_act, gx.bytes("long_act")) << name << ": long-row activation bytes differ";
  expect_dot(type, long_raw.data(), long_act, n, gx.values<float>("long_dot").at(0),
             name + " long n=" + std::to_string(n));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgmlParityTest, ::testing::ValuesIn(testing::kWeightTypes),
                         testing::type_param_name);

}  // namespace
}  // namespace zinfer::quant
