// CpuOps against plain double-precision loops for the ops the Gemma 3 / Phi-3 / GPT-2
// architectures added or lean on: softcap, per-head RMSNorm through a split_rows view of a
// [tokens][n_head * head_dim] tensor, LayerNorm with weight and bias, and the shape checks.
// Fixed seed, odd shapes, tolerance atol + rtol·|ref|, NaN/Inf checks.
#include "engine/backend/cpu/cpu_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace zinfer::cpu {
namespace {

using model::Tensor;
using model::Weight;

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-5;

CpuOps make_ops() {
  CpuOpsConfig cfg;
  cfg.n_threads = 2;
  return CpuOps(cfg);
}

void fill(Tensor t, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    for (std::int64_t c = 0; c < t.cols; ++c) t.data[r * t.stride + c] = dist(rng);
  }
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float mean, float scale) {
  std::normal_distribution<float> dist(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

Weight f32_vector(const std::vector<float>& v) {
  return Weight{quant::GgmlType::kF32, static_cast<std::int64_t>(v.size()), 1, v.data()};
}

void expect_close(float got, double want, const char* what, std::int64_t r, std::int64_t c) {
  ASSERT_TRUE(std::isfinite(got)) << what << " [" << r << "," << c << "] is not finite";
  EXPECT_LE(std::abs(got - want), kAtol + kRtol * std::abs(want))
      << what << " [" << r << "," << c << "]";
}

TEST(CpuOps, SoftcapMatchesPlainLoop) {
  CpuOps ops = make_ops();
  std::mt19937 rng(7);
  for (const float cap : {30.0f, 1.5f}) {
    for (const std::int64_t cols : {1, 7, 513}) {
      Tensor x = ops.alloc(3, cols);
      fill(x, rng, 40.0f);  // well into tanh's saturation for both caps
      std::vector<double> want(static_cast<std::size_t>(3 * cols));
      for (std::int64_t r = 0; r < 3; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
          want[r * cols + c] = cap * std::tanh(static_cast<double>(x.data[r * x.stride + c]) / cap);
        }
      }
      ASSERT_TRUE(ops.softcap(x, cap).ok());
      for (std::int64_t r = 0; r < 3; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
          expect_close(x.data[r * x.stride + c], want[r * cols + c], "softcap", r, c);
          EXPECT_LE(std::abs(x.data[r * x.stride + c]), cap);
        }
      }
    }
  }
  Tensor x = ops.alloc(1, 4);
  EXPECT_FALSE(ops.softcap(x, 0.0f).ok());
}

// Gemma 3's q/k norms: each head of each token normalized over head_dim with one shared
// weight, in place, through the [tokens * n_head][head_dim] view.
TEST(CpuOps, RmsNormPerHeadViewMatchesPlainLoop) {
  CpuOps ops = make_ops();
  std::mt19937 rng(11);
  struct Shape {
    std::int64_t tokens, n_head, head_dim;
  };
  for (const Shape s : {Shape{1, 4, 256}, Shape{3, 1, 32}, Shape{7, 3, 16}, Shape{19, 2, 48}}) {
    SCOPED_TRACE(::testing::Message()
                 << s.tokens << " tokens × " << s.n_head << " heads × " << s.head_dim);
    Tensor q = ops.alloc(s.tokens, s.n_head * s.head_dim);
    ASSERT_TRUE(q.contiguous());
    fill(q, rng, 3.0f);
    const auto w = random_vector(static_cast<std::size_t>(s.head_dim), rng, 1.0f, 0.5f);
    const float eps = 1e-6f;
    std::vector<double> want(static_cast<std::size_t>(s.tokens * s.n_head * s.head_dim));
    for (std::int64_t t = 0; t < s.tokens; ++t) {
      for (std::int64_t h = 0; h < s.n_head; ++h) {
        const float* x = q.data + t * q.stride + h * s.head_dim;
        double ss = 0.0;
        for (std::int64_t i = 0; i < s.head_dim; ++i) ss += static_cast<double>(x[i]) * x[i];
        const double inv = 1.0 / std::sqrt(ss / static_cast<double>(s.head_dim) + eps);
        for (std::int64_t i = 0; i < s.head_dim; ++i) {
          want[(t * s.n_head + h) * s.head_dim + i] = x[i] * inv * w[static_cast<std::size_t>(i)];
        }
      }
    }
    const Tensor heads = q.split_rows(s.head_dim);
    ASSERT_EQ(heads.rows, s.tokens * s.n_head);
    ASSERT_TRUE(ops.rms_norm(heads, heads, f32_vector(w), eps).ok());
    for (std::int64_t t = 0; t < s.tokens; ++t) {
      for (std::int64_t c = 0; c < s.n_head * s.head_dim; ++c) {
        expect_close(q.data[t * q.stride + c], want[t * s.n_head * s.head_dim + c], "rms_norm", t,
                     c);
      }
    }
  }
}

TEST(CpuOps, SplitRowsNeedsContiguousRows) {
  CpuOps ops = make_ops();
  EXPECT_FALSE(ops.alloc(3, 57).contiguous());  // rows padded to 64 floats
  EXPECT_TRUE(ops.alloc(1, 57).contiguous());   // a single row has no padding in between
  EXPECT_TRUE(ops.alloc(5, 64).contiguous());
  const Tensor fused = ops.alloc(4, 96);
  EXPECT_FALSE(fused.cols_slice(32, 32).contiguous());  // a column slice is strided
}

TEST(CpuOps, RmsNormRejectsWeightOfWrongLength) {
  CpuOps ops = make_ops();
  Tensor x = ops.alloc(2, 32);
  std::mt19937 rng(3);
  fill(x, rng, 1.0f);
  const std::vector<float> w(16, 1.0f);
  const Status st = ops.rms_norm(x, x, f32_vector(w), 1e-6f);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("rms_norm"), std::string::npos);
}

// GPT-2's norms: (x - mean) / sqrt(var + eps) * w + b.
TEST(CpuOps, LayerNormMatchesPlainLoop) {
  CpuOps ops = make_ops();
  std::mt19937 rng(5);
  for (const std::int64_t cols : {1, 37, 768}) {
    Tensor x = ops.alloc(3, cols);
    fill(x, rng, 2.0f);
    for (std::int64_t r = 0; r < 3; ++r) {
      for (std::int64_t c = 0; c < cols; ++c) x.data[r * x.stride + c] += 5.0f;  // a large mean
    }
    const auto w = random_vector(static_cast<std::size_t>(cols), rng, 1.0f, 0.2f);
    const auto b = random_vector(static_cast<std::size_t>(cols), rng, 0.0f, 0.1f);
    const float eps = 1e-5f;
    Tensor y = ops.alloc(3, cols);
    ASSERT_TRUE(ops.layer_norm(y, x, f32_vector(w), f32_vector(b), eps).ok());
    for (std::int64_t r = 0; r < 3; ++r) {
      const float* xr = x.data + r * x.stride;
      double mean = 0.0;
      for (std::int64_t c = 0; c < cols; ++c) mean += xr[c];
      mean /= static_cast<double>(cols);
      double var = 0.0;
      for (std::int64_t c = 0; c < cols; ++c) var += (xr[c] - mean) * (xr[c] - mean);
      var /= static_cast<double>(cols);
      for (std::int64_t c = 0; c < cols; ++c) {
        const double want = (xr[c] - mean) / std::sqrt(var + eps) * w[static_cast<std::size_t>(c)] +
                            b[static_cast<std::size_t>(c)];
        expect_close(y.data[r * y.stride + c], want, "layer_norm", r, c);
      }
    }
  }
}

}  // namespace
}  // namespace zinfer::cpu
