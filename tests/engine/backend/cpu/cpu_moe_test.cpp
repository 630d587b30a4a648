// CpuOps for the ops gpt-oss added, against plain double-precision loops: top-k routing with
// a softmax over the selected logits, the expert FFNs (F32 and MXFP4 experts, clamped SwiGLU
// and SiLU, biases), attention with learned sinks, YaRN RoPE; plus the front's shape checks
// and the backend-independence of a row's result (alone or inside a batch: same bits).
// Fixed seeds, odd shapes, tolerance atol + rtol·|ref|, NaN/Inf checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"
#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "tests/test_util.h"

namespace zinfer::cpu {
namespace {

using model::Tensor;
using model::Weight;
using quant::GgmlType;

void fill(Tensor t, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    for (std::int64_t c = 0; c < t.cols; ++c) t.data[r * t.stride + c] = dist(rng);
  }
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

void expect_close(float got, double want, double tol, const char* what, std::int64_t r,
                  std::int64_t c) {
  ASSERT_TRUE(std::isfinite(got)) << what << " [" << r << "," << c << "] is not finite";
  EXPECT_LE(std::abs(got - want), tol + tol * std::abs(want))
      << what << " [" << r << "," << c << "] got " << got << " want " << want;
}

CpuOps make_ops(bool exact = true) {
  CpuOpsConfig cfg;
  cfg.n_threads = 2;
  cfg.exact_matmul = exact;
  cfg.n_layer = 1;
  cfg.n_embd_kv = 2 * 8;  // 2 KV heads of 8
  cfg.n_blocks = 8;
  cfg.block_size = 4;
  return CpuOps(cfg);
}

TEST(CpuMoe, TopkSoftmaxMatchesPlainLoop) {
  CpuOps ops = make_ops();
  std::mt19937 rng(11);
  constexpr std::int64_t rows = 7, n_expert = 19, k = 5;
  Tensor logits = ops.alloc(rows, n_expert), w = ops.alloc(rows, k), ids = ops.alloc(rows, k);
  fill(logits, rng, 1.0f);
  logits.data[3 * logits.stride + 4] = logits.data[3 * logits.stride + 9] = 9.0f;  // a tie
  ASSERT_TRUE(ops.topk_softmax(w, ids, logits).ok());
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* l = logits.data + r * logits.stride;
    std::vector<int> order(n_expert);
    for (int e = 0; e < n_expert; ++e) order[e] = e;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += std::exp(static_cast<double>(l[order[j]]) - l[order[0]]);
    for (int j = 0; j < k; ++j) {
      EXPECT_EQ(ids.data[r * ids.stride + j], static_cast<float>(order[j])) << r << "," << j;
      expect_close(w.data[r * w.stride + j],
                   std::exp(static_cast<double>(l[order[j]]) - l[order[0]]) / sum, 1e-6, "w", r, j);
    }
  }
  EXPECT_EQ(ids.data[3 * ids.stride + 0], 4.0f) << "ties go to the lower expert first";
  EXPECT_EQ(ids.data[3 * ids.stride + 1], 9.0f);
}

// The router's bias given to topk_softmax: add_bias then topk_softmax, the same bits (and the
// biased logits left in place).
TEST(CpuMoe, TopkSoftmaxWithBiasIsAddBiasFirst) {
  CpuOps ops = make_ops();
  std::mt19937 rng(12);
  constexpr std::int64_t rows = 5, n_expert = 32, k = 4;
  std::vector<float> bias(n_expert);
  for (float& b : bias) b = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
  const Weight b{GgmlType::kF32, n_expert, 1, bias.data()};
  Tensor fused = ops.alloc(rows, n_expert), plain = ops.alloc(rows, n_expert);
  fill(fused, rng, 1.0f);
  for (std::int64_t r = 0; r < rows; ++r)
    std::memcpy(plain.data + r * plain.stride, fused.data + r * fused.stride, n_expert * 4);
  Tensor fw = ops.alloc(rows, k), fi = ops.alloc(rows, k);
  Tensor pw = ops.alloc(rows, k), pi = ops.alloc(rows, k);
  ASSERT_TRUE(ops.topk_softmax(fw, fi, fused, &b).ok());
  ASSERT_TRUE(ops.add_bias(plain, b).ok());
  ASSERT_TRUE(ops.topk_softmax(pw, pi, plain).ok());
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t e = 0; e < n_expert; ++e)
      EXPECT_EQ(fused.data[r * fused.stride + e], plain.data[r * plain.stride + e]) << r;
    for (std::int64_t j = 0; j < k; ++j) {
      EXPECT_EQ(fi.data[r * fi.stride + j], pi.data[r * pi.stride + j]) << r << "," << j;
      EXPECT_EQ(fw.data[r * fw.stride + j], pw.data[r * pw.stride + j]) << r << "," << j;
    }
  }
  const Weight short_bias{GgmlType::kF32, n_expert - 1, 1, bias.data()};
  const Status st = ops.topk_softmax(fw, fi, fused, &short_bias);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.rfind("topk_softmax", 0), 0u) << st.error().message;
}

TEST(CpuMoe, SwigluOaiClampsAsTheReference) {
  // g = min(gate, 7), u = clamp(up, -7, 7): g * sigmoid(1.702 g) * (u + 1).
  auto ref = [](double g, double u) {
    g = std::min(g, 7.0);
    u = std::clamp(u, -7.0, 7.0);
    return g / (1.0 + std::exp(-1.702 * g)) * (u + 1.0);
  };
  for (float g : {-20.0f, -1.5f, 0.0f, 0.3f, 6.9f, 7.0f, 12.0f}) {
    for (float u : {-9.0f, -1.0f, 0.0f, 2.5f, 8.0f}) {
      expect_close(swiglu_oai(g, u, 1.702f, 7.0f), ref(g, u), 1e-6, "swiglu_oai", 0, 0);
    }
  }
}

// Stacked experts in `type` with F32 biases; the reference dequantizes them.
struct Experts {
  std::vector<std::uint8_t> gate, up, down;
  std::vector<float> gate_b, up_b, down_b;
  model::ExpertWeights w;
};

Experts make_experts(GgmlType type, std::int32_t n_expert, std::int64_t d, std::int32_t ff,
                     std::mt19937& rng) {
  Experts x;
  x.gate = testing::synth_matrix(type, n_expert * ff, d, 1);
  x.up = testing::synth_matrix(type, n_expert * ff, d, 2);
  x.down = testing::synth_matrix(type, n_expert * d, ff, 3);
  x.gate_b = random_vector(static_cast<std::size_t>(n_expert) * ff, rng, 0.5f);
  x.up_b = random_vector(static_cast<std::size_t>(n_expert) * ff, rng, 0.5f);
  x.down_b = random_vector(static_cast<std::size_t>(n_expert) * d, rng, 0.5f);
  x.w.n_expert = n_expert;
  x.w.n_ff = ff;
  x.w.gate = {type, d, n_expert * ff, x.gate.data()};
  x.w.up = {type, d, n_expert * ff, x.up.data()};
  x.w.down = {type, ff, n_expert * d, x.down.data()};
  x.w.gate_b = {GgmlType::kF32, ff, n_expert, x.gate_b.data()};
  x.w.up_b = {GgmlType::kF32, ff, n_expert, x.up_b.data()};
  x.w.down_b = {GgmlType::kF32, d, n_expert, x.down_b.data()};
  return x;
}

std::vector<double> dequant_row(const Weight& w, std::int64_t r) {
  std::vector<float> f(static_cast<std::size_t>(w.ne0));
  quant::dequantize_row(
      w.type, static_cast<const std::uint8_t*>(w.data) + r * quant::row_size(w.type, w.ne0),
      f.data(), w.ne0);
  return {f.begin(), f.end()};
}

// One token through one expert, in double.
std::vector<double> expert_ref(const Experts& x, int e, const float* in, std::int64_t d,
                               const model::ExpertActParams& act) {
  const std::int32_t ff = x.w.n_ff;
  std::vector<double> h(static_cast<std::size_t>(ff));
  for (std::int32_t f = 0; f < ff; ++f) {
    const auto g_row = dequant_row(x.w.gate, e * ff + f);
    const auto u_row = dequant_row(x.w.up, e * ff + f);
    double g = x.gate_b[static_cast<std::size_t>(e) * ff + f];
    double u = x.up_b[static_cast<std::size_t>(e) * ff + f];
    for (std::int64_t c = 0; c < d; ++c) {
      g += g_row[static_cast<std::size_t>(c)] * in[c];
      u += u_row[static_cast<std::size_t>(c)] * in[c];
    }
    if (act.kind == model::ExpertActivation::kSwigluOai) {
      g = std::min(g, static_cast<double>(act.limit));
      u = std::clamp(u, -static_cast<double>(act.limit), static_cast<double>(act.limit));
      h[static_cast<std::size_t>(f)] = g / (1.0 + std::exp(-act.alpha * g)) * (u + 1.0);
    } else {
      h[static_cast<std::size_t>(f)] = g / (1.0 + std::exp(-g)) * u;
    }
  }
  std::vector<double> y(static_cast<std::size_t>(d));
  for (std::int64_t c = 0; c < d; ++c) {
    const auto d_row = dequant_row(x.w.down, e * d + c);
    double s = x.down_b[static_cast<std::size_t>(e * d + c)];
    for (std::int32_t f = 0; f < ff; ++f) s += d_row[static_cast<std::size_t>(f)] * h[f];
    y[static_cast<std::size_t>(c)] = s;
  }
  return y;
}

class CpuMoeFfn : public ::testing::TestWithParam<std::tuple<GgmlType, model::ExpertActivation>> {};

TEST_P(CpuMoeFfn, MatchesPlainLoopAndIsBatchInvariant) {
  const auto [type, kind] = GetParam();
  std::mt19937 rng(23);
  constexpr std::int32_t n_expert = 5, ff = 64, k = 3;
  constexpr std::int64_t d = 96, rows = 7;
  const Experts x = make_experts(type, n_expert, d, ff, rng);
  const model::ExpertActParams act{kind, 1.702f, 7.0f};
  CpuOps ops = make_ops();
  Tensor in = ops.alloc(rows, d), out = ops.alloc(rows, d);
  Tensor logits = ops.alloc(rows, n_expert), w = ops.alloc(rows, k), ids = ops.alloc(rows, k);
  fill(in, rng, 1.0f);
  fill(logits, rng, 1.0f);
  ASSERT_TRUE(ops.topk_softmax(w, ids, logits).ok());
  ASSERT_TRUE(ops.moe_ffn(out, in, ids, w, x.w, act).ok());
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<double> want(d, 0.0);
    for (std::int32_t j = 0; j < k; ++j) {
      const int e = static_cast<int>(ids.data[r * ids.stride + j]);
      const auto y = expert_ref(x, e, in.data + r * in.stride, d, act);
      for (std::int64_t c = 0; c < d; ++c) want[c] += w.data[r * w.stride + j] * y[c];
    }
    for (std::int64_t c = 0; c < d; ++c)
      expect_close(out.data[r * out.stride + c], want[c], 1e-4, "moe", r, c);
  }
  // Row 4 alone gives the same bits as inside the batch.
  Tensor in1 = ops.alloc(1, d), out1 = ops.alloc(1, d), w1 = ops.alloc(1, k),
         ids1 = ops.alloc(1, k);
  std::memcpy(in1.data, in.data + 4 * in.stride, sizeof(float) * d);
  std::memcpy(w1.data, w.data + 4 * w.stride, sizeof(float) * k);
  std::memcpy(ids1.data, ids.data + 4 * ids.stride, sizeof(float) * k);
  ASSERT_TRUE(ops.moe_ffn(out1, in1, ids1, w1, x.w, act).ok());
  EXPECT_EQ(std::memcmp(out1.data, out.data + 4 * out.stride, sizeof(float) * d), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Types, CpuMoeFfn,
    ::testing::Combine(::testing::Values(GgmlType::kF32, GgmlType::kMXFP4, GgmlType::kQ8_0),
                       ::testing::Values(model::ExpertActivation::kSwigluOai,
                                         model::ExpertActivation::kSilu)),
    [](const auto& info) {
      return std::string(quant::type_name(std::get<0>(info.param))) +
             (std::get<1>(info.param) == model::ExpertActivation::kSilu ? "_silu" : "_swiglu_oai");
    });

TEST(CpuMoe, FrontRejectsBadShapes) {
  CpuOps ops = make_ops();
  std::mt19937 rng(3);
  const Experts x = make_experts(GgmlType::kF32, 4, 64, 32, rng);
  Tensor in = ops.alloc(2, 64), out = ops.alloc(2, 64), w = ops.alloc(2, 2), ids = ops.alloc(2, 2);
  Tensor logits = ops.alloc(2, 4);
  const model::ExpertActParams act;
  auto expect_err = [](const Status& st, const char* op) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kInferenceFailed);
    EXPECT_EQ(st.error().message.rfind(op, 0), 0u) << st.error().message;
  };
  expect_err(ops.topk_softmax(w, ids, ops.alloc(3, 4)), "topk_softmax:");
  expect_err(ops.topk_softmax(ops.alloc(2, 5), ops.alloc(2, 5), logits), "topk_softmax:");
  model::ExpertWeights bad = x.w;
  bad.n_ff = 31;
  expect_err(ops.moe_ffn(out, in, ids, w, bad, act), "moe_ffn:");
  bad = x.w;
  bad.down_b.type = GgmlType::kF16;
  expect_err(ops.moe_ffn(out, in, ids, w, bad, act), "moe_ffn:");
  expect_err(ops.moe_ffn(ops.alloc(2, 63), in, ids, w, x.w, act), "moe_ffn:");
  expect_err(ops.moe_ffn(out, in, ops.alloc(2, 5), ops.alloc(2, 5), x.w, act), "moe_ffn:");
}

// Plain double-precision attention over one sequence with sinks and a window.
TEST(CpuMoe, AttentionWithSinksMatchesPlainLoop) {
  constexpr std::int32_t n_head = 4, n_kv = 2, hd = 8, n_tok = 11;
  for (std::int32_t window : {0, 3}) {
    SCOPED_TRACE(window);
    CpuOps ops = make_ops();
    std::mt19937 rng(5);
    Tensor q = ops.alloc(n_tok, n_head * hd), k = ops.alloc(n_tok, n_kv * hd);
    Tensor v = ops.alloc(n_tok, n_kv * hd), out = ops.alloc(n_tok, n_head * hd);
    fill(q, rng, 1.0f);
    fill(k, rng, 1.0f);
    fill(v, rng, 1.0f);
    const std::vector<float> sinks = {0.5f, -1.0f, 2.0f, 0.0f};
    std::vector<std::int32_t> tokens(n_tok, 0), positions(n_tok), table = {0, 1, 2};
    for (int i = 0; i < n_tok; ++i) positions[i] = i;
    model::Batch batch{tokens, positions, {model::SeqSpan{0, 0, n_tok, 0, table}}};
    model::AttnParams p;
    p.n_head = n_head;
    p.n_head_kv = n_kv;
    p.head_dim = hd;
    p.scale = 0.35f;
    p.window = window;
    p.sinks = Weight{GgmlType::kF32, n_head, 1, sinks.data()};
    ASSERT_TRUE(ops.attention(out, q, k, v, p, batch).ok());
    for (int t = 0; t < n_tok; ++t) {
      for (int h = 0; h < n_head; ++h) {
        const int kvh = h / (n_head / n_kv);
        const int first = window > 0 ? std::max(0, t - window + 1) : 0;
        std::vector<double> s;
        double mx = sinks[h];
        for (int j = first; j <= t; ++j) {
          double dot = 0.0;
          for (int c = 0; c < hd; ++c)
            dot += static_cast<double>(q.data[t * q.stride + h * hd + c]) *
                   k.data[j * k.stride + kvh * hd + c];
          s.push_back(dot * p.scale);
          mx = std::max(mx, s.back());
        }
        double sum = std::exp(sinks[h] - mx);
        for (double& x : s) sum += (x = std::exp(x - mx));
        for (int c = 0; c < hd; ++c) {
          double o = 0.0;
          for (int j = first; j <= t; ++j)
            o += s[j - first] / sum * v.data[j * v.stride + kvh * hd + c];
          expect_close(out.data[t * out.stride + h * hd + c], o, 1e-5, "attn", t, h * hd + c);
        }
      }
    }
    // A sink of the wrong length is a shape error.
    p.sinks.ne0 = 3;
    EXPECT_FALSE(ops.attention(out, q, k, v, p, batch).ok());
  }
}

// YaRN against the reference's formula (gpt_oss/torch/model.py RotaryEmbedding) in double:
// inv_freq_i = interp_i (1 - mask_i) + extrap_i mask_i, angle = pos · inv_freq_i,
// cos and sin times 0.1 ln(factor) + 1.
TEST(CpuMoe, YarnRopeMatchesTheReferenceFormula) {
  constexpr std::int32_t n_head = 3, hd = 64, n_tok = 9;
  const double base = 150000.0, factor = 32.0, ctx_orig = 4096.0;
  CpuOps ops = make_ops();
  std::mt19937 rng(9);
  Tensor x = ops.alloc(n_tok, n_head * hd);
  fill(x, rng, 1.0f);
  std::vector<float> x0(x.data, x.data + n_tok * x.stride);
  std::vector<std::int32_t> tokens(n_tok, 0), positions(n_tok);
  for (int i = 0; i < n_tok; ++i) positions[i] = 3 + 97 * i;
  model::Batch batch{tokens, positions, {}};
  const double pi = std::numbers::pi;
  const double low = hd / 2.0 * std::log(ctx_orig / (32.0 * 2 * pi)) / std::log(base);
  const double high = hd / 2.0 * std::log(ctx_orig / (1.0 * 2 * pi)) / std::log(base);
  model::RopeParams p{n_head,
                      hd,
                      hd,
                      model::RopeType::kNeox,
                      static_cast<float>(base),
                      static_cast<float>(1.0 / factor)};
  p.ext_factor = 1.0f;
  p.yarn_low = static_cast<float>(low);
  p.yarn_high = static_cast<float>(high);
  ASSERT_TRUE(ops.rope(x, p, batch).ok());
  const double conc = 0.1 * std::log(factor) + 1.0;
  for (int t = 0; t < n_tok; ++t) {
    for (int h = 0; h < n_head; ++h) {
      for (int i = 0; i < hd / 2; ++i) {
        const double freq = std::pow(base, 2.0 * i / hd);
        const double mask = 1.0 - std::clamp((i - low) / (high - low), 0.0, 1.0);
        const double inv = 1.0 / (factor * freq) * (1.0 - mask) + 1.0 / freq * mask;
        const double a = positions[t] * inv;
        const float* v0 = x0.data() + t * x.stride + h * hd;
        const double o1 = v0[i] * std::cos(a) * conc - v0[i + hd / 2] * std::sin(a) * conc;
        const double o2 = v0[i + hd / 2] * std::cos(a) * conc + v0[i] * std::sin(a) * conc;
        // float angles of up to ~800 rad carry ~1e-4 absolute error.
        expect_close(x.data[t * x.stride + h * hd + i], o1, 5e-4, "rope", t, i);
        expect_close(x.data[t * x.stride + h * hd + i + hd / 2], o2, 5e-4, "rope", t, i + hd / 2);
      }
    }
  }
}

}  // namespace
}  // namespace zinfer::cpu
