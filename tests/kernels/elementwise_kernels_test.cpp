// Row-wise and element-wise kernels against CpuOps on identical inputs, odd shapes
// (rows 1, 3, 7, 19, 733 × cols 37, 513), outputs poisoned with NaN first so an unwritten
// element fails. Tolerances (atol + rtol·|ref|): pure arithmetic (add, add_bias, scale,
// gather_rows) must be bit-identical; the norms differ at most by the order of a double sum
// (atol 1e-7, rtol 1e-6); expf/tanhf-based activations by a few ulp (atol 1e-6, rtol 4e-6).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using model::Tensor;
using model::Weight;

const std::int64_t kRows[] = {1, 3, 7, 19, 733};
const std::int64_t kCols[] = {37, 513};

struct Shape {
  std::int64_t rows, cols;
};

std::vector<Shape> shapes() {
  std::vector<Shape> v;
  for (auto r : kRows) {
    for (auto c : kCols) v.push_back({r, c});
  }
  return v;
}

std::string where(const Shape& s) {
  return "[" + std::to_string(s.rows) + " x " + std::to_string(s.cols) + "]";
}

class Elementwise : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::cuda_device_available()) GTEST_SKIP() << "no CUDA device";
    p_ = testing::make_ops_pair();
    ASSERT_TRUE(p_.gpu);
  }
  void fresh() {
    p_.gpu->begin_forward();
    p_.cpu->reset_scratch();
  }
  // An f32 vector weight in VRAM (kept alive until the fixture ends) and on the host.
  std::pair<Weight, Weight> vector_weight(const std::vector<float>& v) {
    bufs_.push_back(testing::device_bytes(*p_.ctx, v.data(), v.size() * 4));
    hosts_.push_back(v);
    const auto n = static_cast<std::int64_t>(v.size());
    return {Weight{quant::GgmlType::kF32, n, 1, bufs_.back().data()},
            Weight{quant::GgmlType::kF32, n, 1, hosts_.back().data()}};
  }
  testing::OpsPair p_;
  std::vector<cuda::DeviceBuffer> bufs_;
  std::vector<std::vector<float>> hosts_;
};

TEST_F(Elementwise, RmsNorm) {
  for (const Shape& s : shapes()) {
    for (bool with_weight : {true, false}) {
      for (bool in_place : {false, true}) {
        fresh();
        const auto x = testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 1, 3.0f);
        auto [gw, cw] = with_weight ? vector_weight(testing::random_floats(
                                          static_cast<std::size_t>(s.cols), 2, 0.2f, 1.0f))
                                    : std::pair<Weight, Weight>{};
        Tensor gx = testing::gpu_tensor(*p_.gpu, x, s.rows, s.cols);
        Tensor gout = in_place ? gx : p_.gpu->alloc(s.rows, s.cols);
        if (!in_place) testing::poison(gout);
        ASSERT_TRUE(p_.gpu->rms_norm(gout, gx, gw, 1e-5f).ok());
        Tensor cx = testing::cpu_tensor(*p_.cpu, x, s.rows, s.cols);
        Tensor cout = p_.cpu->alloc(s.rows, s.cols);
        ASSERT_TRUE(p_.cpu->rms_norm(cout, cx, cw, 1e-5f).ok());
        EXPECT_TRUE(
            testing::all_close(testing::download(gout), testing::host_copy(cout), 1e-7, 1e-6))
            << where(s) << " weight=" << with_weight << " in_place=" << in_place;
      }
    }
  }
}

TEST_F(Elementwise, LayerNorm) {
  for (const Shape& s : shapes()) {
    for (bool affine : {true, false}) {
      fresh();
      const auto x =
          testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 3, 2.0f, 0.7f);
      auto [gw, cw] = affine ? vector_weight(testing::random_floats(
                                   static_cast<std::size_t>(s.cols), 4, 0.3f, 1.0f))
                             : std::pair<Weight, Weight>{};
      auto [gb, cb] =
          affine ? vector_weight(testing::random_floats(static_cast<std::size_t>(s.cols), 5, 0.1f))
                 : std::pair<Weight, Weight>{};
      Tensor gx = testing::gpu_tensor(*p_.gpu, x, s.rows, s.cols);
      Tensor gout = p_.gpu->alloc(s.rows, s.cols);
      testing::poison(gout);
      ASSERT_TRUE(p_.gpu->layer_norm(gout, gx, gw, gb, 1e-5f).ok());
      Tensor cx = testing::cpu_tensor(*p_.cpu, x, s.rows, s.cols);
      Tensor cout = p_.cpu->alloc(s.rows, s.cols);
      ASSERT_TRUE(p_.cpu->layer_norm(cout, cx, cw, cb, 1e-5f).ok());
      EXPECT_TRUE(testing::all_close(testing::download(gout), testing::host_copy(cout), 1e-7, 1e-6))
          << where(s) << " affine=" << affine;
    }
  }
}

// Runs a binary op (out, a, b) on both backends.
void check_binary(testing::OpsPair& p, const Shape& s, bool alias_a,
                  const std::function<Status(model::Ops&, Tensor, Tensor, Tensor)>& op, double atol,
                  double rtol, const std::string& name) {
  p.gpu->begin_forward();
  p.cpu->reset_scratch();
  const auto a = testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 7, 2.0f);
  const auto b = testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 8, 2.0f);
  Tensor ga = testing::gpu_tensor(*p.gpu, a, s.rows, s.cols);
  Tensor gb = testing::gpu_tensor(*p.gpu, b, s.rows, s.cols);
  Tensor gout = alias_a ? ga : p.gpu->alloc(s.rows, s.cols);
  if (!alias_a) testing::poison(gout);
  ASSERT_TRUE(op(*p.gpu, gout, ga, gb).ok()) << name;
  Tensor ca = testing::cpu_tensor(*p.cpu, a, s.rows, s.cols);
  Tensor cb = testing::cpu_tensor(*p.cpu, b, s.rows, s.cols);
  Tensor cout = alias_a ? ca : p.cpu->alloc(s.rows, s.cols);
  ASSERT_TRUE(op(*p.cpu, cout, ca, cb).ok()) << name;
  EXPECT_TRUE(testing::all_close(testing::download(gout), testing::host_copy(cout), atol, rtol))
      << name << " " << where(s) << " alias=" << alias_a;
}

TEST_F(Elementwise, AddSwigluGeglu) {
  for (const Shape& s : shapes()) {
    for (bool alias : {false, true}) {
      check_binary(
          p_, s, alias,
          [](model::Ops& o, Tensor out, Tensor a, Tensor b) { return o.add(out, a, b); }, 0.0, 0.0,
          "add");
      check_binary(
          p_, s, alias,
          [](model::Ops& o, Tensor out, Tensor a, Tensor b) { return o.swiglu(out, a, b); }, 1e-6,
          4e-6, "swiglu");
      check_binary(
          p_, s, alias,
          [](model::Ops& o, Tensor out, Tensor a, Tensor b) { return o.geglu(out, a, b); }, 1e-6,
          4e-6, "geglu");
    }
  }
}

// Runs an in-place unary op on both backends.
void check_unary(testing::OpsPair& p, const Shape& s, float stddev,
                 const std::function<Status(model::Ops&, Tensor)>& op, double atol, double rtol,
                 const std::string& name) {
  p.gpu->begin_forward();
  p.cpu->reset_scratch();
  const auto x = testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 9, stddev);
  Tensor gx = testing::gpu_tensor(*p.gpu, x, s.rows, s.cols);
  ASSERT_TRUE(op(*p.gpu, gx).ok()) << name;
  Tensor cx = testing::cpu_tensor(*p.cpu, x, s.rows, s.cols);
  ASSERT_TRUE(op(*p.cpu, cx).ok()) << name;
  const std::vector<float> got = testing::download(gx);
  EXPECT_NE(got, x) << name << ": nothing changed";
  EXPECT_TRUE(testing::all_close(got, testing::host_copy(cx), atol, rtol))
      << name << " " << where(s);
}

TEST_F(Elementwise, ScaleSoftcapGelu) {
  for (const Shape& s : shapes()) {
    check_unary(
        p_, s, 2.0f, [](model::Ops& o, Tensor x) { return o.scale(x, 0.125f + 1e-3f); }, 0.0, 0.0,
        "scale");
    check_unary(
        p_, s, 50.0f, [](model::Ops& o, Tensor x) { return o.softcap(x, 30.0f); }, 3e-5, 4e-6,
        "softcap");
    check_unary(
        p_, s, 2.0f, [](model::Ops& o, Tensor x) { return o.gelu(x); }, 1e-6, 4e-6, "gelu");
  }
  fresh();
  Tensor gx = p_.gpu->alloc(1, 4);
  // The ops front rejects it for every backend, as a misuse of the op (not client input).
  EXPECT_EQ(p_.gpu->softcap(gx, 0.0f).error().code, ErrorCode::kInferenceFailed);
}

TEST_F(Elementwise, AddBiasIntoColumnSlice) {
  for (const Shape& s : shapes()) {
    fresh();
    const std::int64_t wide = s.cols + 20;
    const auto x = testing::random_floats(static_cast<std::size_t>(s.rows * wide), 10);
    auto [gb, cb] = vector_weight(testing::random_floats(static_cast<std::size_t>(s.cols), 11));
    Tensor gx = testing::gpu_tensor(*p_.gpu, x, s.rows, wide);
    ASSERT_TRUE(p_.gpu->add_bias(gx.cols_slice(7, s.cols), gb).ok());
    Tensor cx = testing::cpu_tensor(*p_.cpu, x, s.rows, wide);
    ASSERT_TRUE(p_.cpu->add_bias(cx.cols_slice(7, s.cols), cb).ok());
    EXPECT_TRUE(testing::all_close(testing::download(gx), testing::host_copy(cx), 0.0, 0.0))
        << where(s);
  }
}

TEST_F(Elementwise, GatherRows) {
  for (const Shape& s : shapes()) {
    fresh();
    const auto x = testing::random_floats(static_cast<std::size_t>(s.rows * s.cols), 12);
    std::vector<std::int32_t> idx;
    for (std::int64_t i = 0; i < s.rows; i += 2)
      idx.push_back(static_cast<std::int32_t>(s.rows - 1 - i));
    idx.push_back(0);
    idx.push_back(0);
    const auto n = static_cast<std::int64_t>(idx.size());
    Tensor gx = testing::gpu_tensor(*p_.gpu, x, s.rows, s.cols);
    Tensor gout = p_.gpu->alloc(n, s.cols);
    testing::poison(gout);
    ASSERT_TRUE(p_.gpu->gather_rows(gout, gx, idx).ok());
    Tensor cx = testing::cpu_tensor(*p_.cpu, x, s.rows, s.cols);
    Tensor cout = p_.cpu->alloc(n, s.cols);
    ASSERT_TRUE(p_.cpu->gather_rows(cout, cx, idx).ok());
    EXPECT_TRUE(testing::all_close(testing::download(gout), testing::host_copy(cout), 0.0, 0.0))
        << where(s);
    idx.push_back(static_cast<std::int32_t>(s.rows));
    Tensor bad = p_.gpu->alloc(n + 1, s.cols);
    EXPECT_FALSE(p_.gpu->gather_rows(bad, gx, idx).ok());
  }
}

}  // namespace
}  // namespace zinfer
