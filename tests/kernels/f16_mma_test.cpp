// The fp16 tensor-core products (kernels/f16_act.h, kernels/f16_mma.h) on the GPU: the
// activation rows' halves and scales bit for bit the CPU's emulation (quant::f16_round_row with
// f16_row_scale); every output within fp32 summation error of a double-precision dot product of
// the same fp16 operands (the weights dequantized by quant::dequantize_row, rounded to fp16);
// and batch invariance bit for bit — a row's outputs the same alone, in a few rows, at another
// position of a tile and among 200 rows, across the three tile widths (16, 64, 128 columns). Then
// the epilogue (bias, accumulate). The prompt-shaped case is also what `ncu` times against the Q16
// tiles. Slices of up to 8 rows (up to 32 with ZINFER_F16_SMALL=1) take the small-batch kernel
// (f16_mma_small.cuh), so the invariance checks hold it to the tiles bit for bit; with
// ZINFER_F16_LEAN=1 and ZINFER_F16_ROWS=64|96 the other stages.
#include "kernels/f16_mma.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "engine/quant/f16_round.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/f16_act.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

const GgmlType kTypes[] = {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                           GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

struct Gpu {
  std::unique_ptr<cuda::CudaContext> ctx;
  bool open() {
    auto c = cuda::CudaContext::create(0);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (c.ok()) ctx = std::move(*c);
    return c.ok();
  }
  cuda::DeviceBuffer alloc(std::size_t bytes) {
    auto b = cuda::DeviceBuffer::allocate(ctx->ledger(), bytes, "f16_mma test");
    EXPECT_TRUE(b.ok()) << b.error().message;
    return b.ok() ? std::move(*b) : cuda::DeviceBuffer{};
  }
};

// Activation rows [rows][k] in VRAM as halves and scales (launch_f16_act), downloaded too.
struct Act {
  cuda::DeviceBuffer x, h, s;
  cuda::F16Act view;
  std::vector<std::uint16_t> halves;
  std::vector<float> scales;
};

Act make_act(Gpu& g, const std::vector<float>& x, std::int64_t rows, std::int64_t k) {
  Act a;
  const std::int64_t stride = cuda::f16_act_stride(k);
  a.x = testing::device_bytes(*g.ctx, x.data(), x.size() * sizeof(float));
  a.h = g.alloc(static_cast<std::size_t>(rows * stride) * 2);
  a.s = g.alloc(static_cast<std::size_t>(rows) * sizeof(float));
  const cuda::MatrixView xv{a.x.as<float>(), rows, k, k};
  const Status st = cuda::launch_f16_act(xv, a.h.as<std::uint16_t>(), a.s.as<float>(), nullptr);
  EXPECT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  a.halves.resize(static_cast<std::size_t>(rows * stride));
  a.scales.resize(static_cast<std::size_t>(rows));
  EXPECT_EQ(cudaMemcpy(a.halves.data(), a.h.data(), a.halves.size() * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpy(a.scales.data(), a.s.data(), a.scales.size() * 4, cudaMemcpyDeviceToHost),
            cudaSuccess);
  a.view = cuda::F16Act{a.h.as<std::uint16_t>(), a.s.as<float>(), rows, k, stride};
  return a;
}

// Rows [first, first + n) of a as their own F16Act.
cuda::F16Act slice(const Act& a, std::int64_t first, std::int64_t n) {
  cuda::F16Act v = a.view;
  v.data += first * v.stride;
  v.scale += first;
  v.rows = n;
  return v;
}

std::vector<float> run(Gpu& g, const cuda::F16Act& a, const cuda::QuantMatrixView& w,
                       const float* bias = nullptr, const std::vector<float>* init = nullptr) {
  cuda::DeviceBuffer out = g.alloc(static_cast<std::size_t>(a.rows * w.ne1) * sizeof(float));
  if (init != nullptr) {
    EXPECT_EQ(cudaMemcpy(out.data(), init->data(), init->size() * 4, cudaMemcpyHostToDevice),
              cudaSuccess);
  } else {
    EXPECT_EQ(cudaMemset(out.data(), 0xFF, out.size()), cudaSuccess);  // NaN
  }
  const cuda::MatrixView ov{out.as<float>(), a.rows, w.ne1, w.ne1};
  const Status st = cuda::launch_f16_mma(a, w, ov, bias, init != nullptr, nullptr);
  EXPECT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> host(static_cast<std::size_t>(a.rows * w.ne1));
  EXPECT_EQ(cudaMemcpy(host.data(), out.data(), host.size() * 4, cudaMemcpyDeviceToHost),
            cudaSuccess);
  return host;
}

// The fp32 summation error a k-long product may carry: each 16-element mma step (and each
// part's add) rounds once, by at most 2 ulps of a value no larger than mag = Σ|w·a| (the
// tensor cores need not round to nearest), so (k / 16 + 8) · 2^-22 · mag bounds it.
double sum_tolerance(std::int64_t k, double mag) {
  return (static_cast<double>(k) / 16.0 + 8.0) * 0x1p-22 * mag + 1e-30;
}

// Σ_i wf[i] · (activation row n's half i) in double, and Σ|·| into mag.
double reference(const std::vector<float>& wf, const Act& a, std::int64_t n, double& mag) {
  double sum = 0.0;
  mag = 0.0;
  for (std::size_t i = 0; i < wf.size(); ++i) {
    const double p = static_cast<double>(wf[i]) *
                     quant::fp16_to_f32(a.halves[static_cast<std::size_t>(n * a.view.stride) + i]);
    sum += p;
    mag += std::fabs(p);
  }
  return sum;
}

std::vector<std::uint8_t> make_weights(GgmlType t, std::int64_t k, std::int64_t ne1,
                                       std::uint64_t seed) {
  const std::size_t rs = quant::row_size(t, k);
  std::vector<std::uint8_t> w(rs * static_cast<std::size_t>(ne1));
  model::SynthRng rng(seed);
  for (std::int64_t r = 0; r < ne1; ++r)
    model::synth_fill_row(t, model::InitKind::kWeight, 0.05f, k, rng, w.data() + rs * r);
  return w;
}

// Weights (ne1 rows of type t, K = k) and activation rows in VRAM.
struct Problem {
  std::vector<std::uint8_t> wb;
  cuda::DeviceBuffer wd;
  cuda::QuantMatrixView w;
  Act a;
};

Problem make_problem(Gpu& g, GgmlType t, std::int64_t k, std::int64_t ne1, std::int64_t rows,
                     std::uint64_t seed, float outlier = 0.0f) {
  Problem p;
  p.wb = make_weights(t, k, ne1, seed);
  p.wd = testing::device_bytes(*g.ctx, p.wb.data(), p.wb.size());
  p.w = cuda::QuantMatrixView{t, k, ne1, p.wd.data()};
  std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * k),
                                                static_cast<std::uint32_t>(seed + 1), 1.5f);
  if (outlier != 0.0f && rows > 7) x[static_cast<std::size_t>(7 * k + 3)] = outlier;
  p.a = make_act(g, x, rows, k);
  return p;
}

TEST(F16Act, HalvesAndScalesAreTheCpuRounding) {
  ZINFER_REQUIRE_GPU();
  Gpu g;
  ASSERT_TRUE(g.open());
  const std::int64_t rows = 6, k = 1000;  // k not a multiple of 8: the row's padding is 0
  std::vector<float> x = testing::random_floats(static_cast<std::size_t>(rows * k), 7, 3.0f);
  x[2 * k + 17] = 70000.0f;  // row 2: scale 4
  x[3 * k + 5] = -1.0e9f;    // row 3: a large scale
  x[4 * k + 9] = 32768.0f;   // row 4: exactly the limit, scale 1
  x[5 * k + 11] = 3.0e-8f;   // row 5: values far below fp16's normal range
  const Act a = make_act(g, x, rows, k);
  const std::int64_t stride = cuda::f16_act_stride(k);
  std::vector<float> y(static_cast<std::size_t>(k));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * k;
    const float s = quant::f16_row_scale(xr, k);
    EXPECT_EQ(a.scales[static_cast<std::size_t>(r)], s) << "row " << r;
    for (std::int64_t i = 0; i < stride; ++i) {
      const std::uint16_t want = i < k ? quant::f32_to_fp16(xr[i] / s) : std::uint16_t{0};
      ASSERT_EQ(a.halves[static_cast<std::size_t>(r * stride + i)], want)
          << "row " << r << " element " << i;
    }
  }
  EXPECT_EQ(a.scales[2], 4.0f);
  EXPECT_EQ(a.scales[4], 1.0f);
}

// Every output against the double-precision sum of the same fp16 operands; then batch
// invariance: rows alone, a few, at another tile position — bit for bit the full run's.
void check_type(GgmlType t, std::int64_t k, std::int64_t ne1, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(t)) + " k=" + std::to_string(k) +
               " ne1=" + std::to_string(ne1));
  Gpu g;
  ASSERT_TRUE(g.open());
  const std::int64_t rows = 200;
  const Problem pr = make_problem(g, t, k, ne1, rows, seed, 1.0e5f);  // row 7: a scale > 1
  const std::vector<std::uint8_t>& wb = pr.wb;
  const cuda::QuantMatrixView& w = pr.w;
  const Act& a = pr.a;
  ASSERT_TRUE(cuda::f16_mma_supported(a.view, w));
  const std::vector<float> full = run(g, a.view, w);

  // Reference: weights dequantized and rounded to fp16, activations the kernel's halves.
  const std::size_t rs = quant::row_size(t, k);
  std::vector<float> wf(static_cast<std::size_t>(k));
  int bad = 0;
  for (std::int64_t j = 0; j < ne1 && bad < 5; ++j) {
    quant::dequantize_row(t, wb.data() + rs * static_cast<std::size_t>(j), wf.data(), k);
    quant::f16_round_row(wf.data(), wf.data(), k);
    for (std::int64_t n = 0; n < rows && bad < 5; ++n) {
      double mag = 0.0;
      const double sum = reference(wf, a, n, mag);
      const double s = a.scales[static_cast<std::size_t>(n)];
      const double want = sum * s;
      const double got = full[static_cast<std::size_t>(n * ne1 + j)];
      const double tol = sum_tolerance(k, mag) * s;
      if (!(std::fabs(got - want) <= tol)) {
        ADD_FAILURE() << "row " << n << " output " << j << ": " << got << " vs " << want
                      << " (tolerance " << tol << ")";
        ++bad;
      }
    }
  }
  // Batch invariance.
  struct Slice {
    std::int64_t first, n;
  };
  for (const Slice s : {Slice{0, 1}, Slice{131, 1}, Slice{3, 5}, Slice{100, 40}, Slice{37, 70}}) {
    const std::vector<float> part = run(g, slice(a, s.first, s.n), w);
    for (std::int64_t n = 0; n < s.n; ++n) {
      for (std::int64_t j = 0; j < ne1; ++j) {
        const float want = full[static_cast<std::size_t>((s.first + n) * ne1 + j)];
        const float got = part[static_cast<std::size_t>(n * ne1 + j)];
        ASSERT_EQ(std::memcmp(&got, &want, 4), 0)
            << "rows [" << s.first << ", +" << s.n << "): row " << s.first + n << " output " << j
            << ": " << got << " vs " << want;
      }
    }
  }
}

TEST(F16Mma, MatchesTheFp16ReferenceAndIsBatchInvariant) {
  ZINFER_REQUIRE_GPU();
  for (const GgmlType t : kTypes) {
    const bool kq = quant::traits(t).block_size == 256;
    check_type(t, kq ? 256 : 96, 77, 11);     // one part, partial row tile
    check_type(t, kq ? 2304 : 896, 130, 12);  // several parts, K ending inside a stage (896)
  }
}

TEST(F16Mma, BiasAndAccumulate) {
  ZINFER_REQUIRE_GPU();
  Gpu g;
  ASSERT_TRUE(g.open());
  const std::int64_t ne1 = 96, rows = 9;
  const Problem pr = make_problem(g, GgmlType::kQ4_K, 512, ne1, rows, 5);
  const cuda::QuantMatrixView& w = pr.w;
  const Act& a = pr.a;
  const std::vector<float> plain = run(g, a.view, w);
  const std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(ne1), 3, 1.0f);
  cuda::DeviceBuffer bd = testing::device_bytes(*g.ctx, bias.data(), bias.size() * 4);
  const std::vector<float> init =
      testing::random_floats(static_cast<std::size_t>(rows * ne1), 4, 2.0f);
  const std::vector<float> with_bias = run(g, a.view, w, bd.as<float>());
  const std::vector<float> acc = run(g, a.view, w, bd.as<float>(), &init);
  for (std::int64_t n = 0; n < rows; ++n) {
    for (std::int64_t j = 0; j < ne1; ++j) {
      const std::size_t i = static_cast<std::size_t>(n * ne1 + j);
      EXPECT_EQ(with_bias[i], plain[i] + bias[static_cast<std::size_t>(j)]);
      EXPECT_EQ(acc[i], init[i] + with_bias[i]);
    }
  }
}

// Q, K and V (the 7B shape's rows, K = 512; biases) as one stack launch: every output the bits
// of its own launch, at 5 rows (16-column tiles) and 300 (128-column tiles, the stage by the wave
// rule for each launch) — and with a stage forced by ZINFER_F16_ROWS=64|96 or ZINFER_F16_LEAN=1.
TEST(F16Mma, StackEqualsItsMatricesAlone) {
  ZINFER_REQUIRE_GPU();
  Gpu g;
  ASSERT_TRUE(g.open());
  const GgmlType t = GgmlType::kQ4_K;
  const std::int64_t k = 512, ne1[3] = {3584, 512, 512};
  for (const std::int64_t rows : {std::int64_t{5}, std::int64_t{300}}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    std::vector<Problem> prs;
    std::vector<cuda::DeviceBuffer> outs, biases;
    cuda::F16Product mats[3];
    for (int m = 0; m < 3; ++m) {
      prs.push_back(make_problem(g, t, k, ne1[m], rows, 40 + static_cast<std::uint64_t>(m)));
      const std::vector<float> b =
          testing::random_floats(static_cast<std::size_t>(ne1[m]), 50 + m, 1.0f);
      biases.push_back(testing::device_bytes(*g.ctx, b.data(), b.size() * 4));
      outs.push_back(g.alloc(static_cast<std::size_t>(rows * ne1[m]) * 4));
      ASSERT_EQ(cudaMemset(outs.back().data(), 0xFF, outs.back().size()), cudaSuccess);
    }
    for (int m = 0; m < 3; ++m) {
      mats[m] = {prs[static_cast<std::size_t>(m)].w,
                 {outs[static_cast<std::size_t>(m)].as<float>(), rows, ne1[m], ne1[m]},
                 biases[static_cast<std::size_t>(m)].as<float>()};
    }
    // Every matrix reads the first problem's activation rows.
    const Status st =
        cuda::launch_f16_mma_stack(prs[0].a.view, mats, 3, false, nullptr, nullptr, 0);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    for (int m = 0; m < 3; ++m) {
      const std::vector<float> alone =
          run(g, prs[0].a.view, mats[m].w, biases[static_cast<std::size_t>(m)].as<float>());
      std::vector<float> got(alone.size());
      ASSERT_EQ(cudaMemcpy(got.data(), outs[static_cast<std::size_t>(m)].data(), got.size() * 4,
                           cudaMemcpyDeviceToHost),
                cudaSuccess);
      EXPECT_FALSE(std::isnan(got[0]));
      EXPECT_EQ(0, std::memcmp(got.data(), alone.data(), got.size() * 4)) << "matrix " << m;
    }
  }
}

// Tiles that would not fill the GPU split over K when given scratch (a block a part of K, then
// a kernel adding the parts' sums in order): the bits of the whole tiles, with a bias and
// accumulation — the 0.5B shape's down product at 200 rows (Q4_K, K = 4,864: eight parts, 28
// whole blocks) and a Q5_0 one (K = 896: seven parts). ZINFER_F16_SPLIT=0 leaves them whole.
TEST(F16Mma, SplitOverKEqualsTheWholeTiles) {
  ZINFER_REQUIRE_GPU();
  Gpu g;
  ASSERT_TRUE(g.open());
  const std::pair<GgmlType, std::int64_t> cases[] = {{GgmlType::kQ4_K, 4864},
                                                     {GgmlType::kQ5_0, 896}};
  for (const auto& [t, k] : cases) {
    SCOPED_TRACE(std::string(quant::type_name(t)));
    const std::int64_t ne1 = 896, rows = 200;
    const Problem pr = make_problem(g, t, k, ne1, rows, 61);
    const std::vector<float> bias = testing::random_floats(static_cast<std::size_t>(ne1), 7, 1.0f);
    cuda::DeviceBuffer bd = testing::device_bytes(*g.ctx, bias.data(), bias.size() * 4);
    const std::vector<float> init =
        testing::random_floats(static_cast<std::size_t>(rows * ne1), 8, 2.0f);
    const std::vector<float> whole = run(g, pr.a.view, pr.w, bd.as<float>(), &init);
    cuda::DeviceBuffer out = testing::device_bytes(*g.ctx, init.data(), init.size() * 4);
    const cuda::F16Product m{pr.w, {out.as<float>(), rows, ne1, ne1}, bd.as<float>()};
    const std::int64_t need = cuda::f16_mma_part_ws_floats(pr.a.view, &m, 1);
    if (std::getenv("ZINFER_F16_SPLIT") == nullptr) {
      EXPECT_GT(need, 0);
    }
    cuda::DeviceBuffer ws = g.alloc(static_cast<std::size_t>(need > 0 ? need : 1) * 4);
    const Status st =
        cuda::launch_f16_mma_stack(pr.a.view, &m, 1, true, nullptr, ws.as<float>(), need);
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<float> got(whole.size());
    ASSERT_EQ(cudaMemcpy(got.data(), out.data(), got.size() * 4, cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(0, std::memcmp(got.data(), whole.data(), got.size() * 4));
  }
}

// A prompt-shaped product (the 7B shape's gate: 18,944 × 3,584, Q4_K, 512 rows): outputs of a
// sample of rows against the reference — and the launch ncu times.
TEST(F16Mma, PromptShape) {
  ZINFER_REQUIRE_GPU();
  Gpu g;
  ASSERT_TRUE(g.open());
  const GgmlType t = GgmlType::kQ4_K;
  const std::int64_t k = 3584, ne1 = 18944, rows = 512;
  const Problem pr = make_problem(g, t, k, ne1, rows, 21);
  const std::vector<std::uint8_t>& wb = pr.wb;
  const cuda::QuantMatrixView& w = pr.w;
  const Act& a = pr.a;
  std::vector<float> out;
  for (int rep = 0; rep < 3; ++rep) out = run(g, a.view, w);
  const std::size_t rs = quant::row_size(t, k);
  std::vector<float> wf(static_cast<std::size_t>(k));
  for (std::int64_t j = 5; j < ne1; j += 1777) {
    quant::dequantize_row(t, wb.data() + rs * static_cast<std::size_t>(j), wf.data(), k);
    quant::f16_round_row(wf.data(), wf.data(), k);
    for (std::int64_t n = 1; n < rows; n += 97) {
      double mag = 0.0;
      const double sum = reference(wf, a, n, mag);
      const double want = sum * a.scales[static_cast<std::size_t>(n)];
      EXPECT_NEAR(out[static_cast<std::size_t>(n * ne1 + j)], want,
                  sum_tolerance(k, mag) * a.scales[static_cast<std::size_t>(n)])
          << "row " << n << " output " << j;
    }
  }
}

}  // namespace
}  // namespace zinfer
