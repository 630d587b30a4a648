// MXFP4 (ggml type 39: 32 E2M1 codes sharing one E8M0 exponent, 17 bytes a block) beyond the
// per-type golden vectors of dequant_test/vec_dot_test: every exponent byte bit-exact with
// gguf-py (tests/data/quant/mxfp4_edge.zqv), GGUF tensors of the type written, read back and
// validated, the synthetic writer's MXFP4 blocks, and CpuOps matmuls over MXFP4 weights
// (exact path against float64 sums of the dequantized rows, Q8_0 path against vec_dot).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/quant/block_types.h"
#include "engine/quant/quant_ops.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "engine/synthetic/synthetic_weights.h"
#include "tests/engine/quant/quant_fixture.h"

namespace zinfer::quant {
namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(Mxfp4, TypeIdAndBlockLayoutAreGgmls) {
  EXPECT_EQ(static_cast<std::uint32_t>(GgmlType::kMXFP4), 39u);
  EXPECT_EQ(traits(GgmlType::kMXFP4).block_size, 32);
  EXPECT_EQ(traits(GgmlType::kMXFP4).type_size, 17u);
  EXPECT_EQ(type_from_name("mxfp4"), GgmlType::kMXFP4);
  EXPECT_TRUE(traits(GgmlType::kMXFP4).weight_type);
  EXPECT_EQ(traits(GgmlType::kMXFP4).vec_dot_type, GgmlType::kQ8_0);
}

// Exponents 0 and 1 are the subnormal scales 2^-128 and 2^-127 (halved), 255 sends the
// largest codes to inf: all must match gguf-py bit for bit.
TEST(Mxfp4, EveryExponentBitExactWithGguf) {
  const auto fx = testing::load_quant_fixture("mxfp4_edge.zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");
  const auto want = fx.values<float>("deq");
  ASSERT_EQ(want.size(), 256u * 32u);
  ASSERT_EQ(raw.size(), row_size(GgmlType::kMXFP4, 256 * 32));
  std::vector<float> got(want.size());
  dequantize_row(GgmlType::kMXFP4, raw.data(), got.data(), static_cast<std::int64_t>(got.size()));
  int mismatches = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (bits_of(got[i]) != bits_of(want[i]) && ++mismatches <= 5) {
      ADD_FAILURE() << "block " << i / 32 << " element " << i % 32 << ": got " << got[i] << " want "
                    << want[i];
    }
  }
  EXPECT_EQ(mismatches, 0);
  // Every code appears in block 0 (exponent 0): the subnormal scale 2^-128.
  EXPECT_EQ(got[1], std::ldexp(1.0f, -128));
  EXPECT_EQ(got[15], -12.0f * std::ldexp(1.0f, -128));
}

TEST(Mxfp4, GgufTensorRoundTripsAndBadRowLengthIsRefused) {
  const auto fx = testing::load_quant_fixture("MXFP4.zqv");
  ASSERT_TRUE(fx.error.empty()) << fx.error;
  const auto raw = fx.bytes("raw");  // 7 blocks
  ASSERT_EQ(raw.size(), 7u * 17u);
  std::vector<std::uint8_t> data(raw.begin(), raw.begin() + 6 * 17);  // [64, 3]

  gguf::GgufWriter w;
  w.set_string("general.architecture", "test");
  const std::int64_t ne[] = {64, 3};
  ASSERT_TRUE(w.add_tensor("experts", GgmlType::kMXFP4, ne).ok());
  const std::int64_t bad[] = {48, 2};
  const Status st = w.add_tensor("bad", GgmlType::kMXFP4, bad);
  EXPECT_FALSE(st.ok()) << "48 elements is not a whole number of 32-element blocks";
  const std::string path = testing::temp_dir() + "/mxfp4_tensor.gguf";
  ASSERT_TRUE(w.open(path).ok());
  ASSERT_TRUE(w.write_data(data).ok());
  ASSERT_TRUE(w.close().ok());

  auto f = gguf::GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  const gguf::TensorInfo* t = (*f)->find_tensor("experts");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::kMXFP4);
  EXPECT_EQ(t->nbytes, 6u * 17u);
  EXPECT_EQ(std::memcmp(t->data, data.data(), data.size()), 0);
  std::vector<float> row(64);
  dequantize_row(t->type, t->data + 2 * 34, row.data(), 64);
  const auto want = fx.values<float>("deq");
  for (int i = 0; i < 64; ++i) EXPECT_EQ(bits_of(row[i]), bits_of(want[128 + i])) << i;
}

// Synthetic blocks: a valid exponent near the target scale, so values have std within a
// factor ~1.5 of the requested one (the scale is a power of two).
TEST(Mxfp4, SyntheticRowsHaveTheTargetSpread) {
  model::SynthRng rng(7);
  constexpr std::int64_t n = 32 * 64;
  std::vector<std::uint8_t> raw(row_size(GgmlType::kMXFP4, n));
  model::synth_fill_row(GgmlType::kMXFP4, model::InitKind::kWeight, 0.03f, n, rng, raw.data());
  std::vector<float> v(n);
  dequantize_row(GgmlType::kMXFP4, raw.data(), v.data(), n);
  double ss = 0.0, sum = 0.0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    ss += static_cast<double>(x) * x;
    sum += x;
  }
  const double sd = std::sqrt(ss / n);
  EXPECT_GT(sd, 0.03 / 1.6);
  EXPECT_LT(sd, 0.03 * 1.6);
  EXPECT_LT(std::abs(sum / n), 0.01);
}

// A [19 rows][96] MXFP4 matrix times 3 activation rows through CpuOps.
TEST(Mxfp4, CpuMatmulMatchesDequantizedRows) {
  constexpr std::int64_t k = 96, rows = 19, n_tok = 3;
  std::vector<std::uint8_t> w(static_cast<std::size_t>(rows) * row_size(GgmlType::kMXFP4, k));
  for (std::int64_t r = 0; r < rows; ++r) {
    model::SynthRng rng(100 + static_cast<std::uint64_t>(r));
    model::synth_fill_row(GgmlType::kMXFP4, model::InitKind::kWeight, 0.05f, k, rng,
                          w.data() + r * row_size(GgmlType::kMXFP4, k));
  }
  std::mt19937 gen(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (bool exact : {true, false}) {
    SCOPED_TRACE(exact ? "exact" : "q8_0 activations");
    cpu::CpuOpsConfig cfg;
    cfg.n_threads = 2;
    cfg.exact_matmul = exact;
    cpu::CpuOps ops(cfg);
    model::Tensor x = ops.alloc(n_tok, k), y = ops.alloc(n_tok, rows);
    for (std::int64_t t = 0; t < n_tok; ++t) {
      for (std::int64_t c = 0; c < k; ++c) x.data[t * x.stride + c] = dist(gen);
    }
    const model::Weight wt{GgmlType::kMXFP4, k, rows, w.data()};
    ASSERT_TRUE(ops.matmul(y, x, wt).ok());
    std::vector<float> wf(k);
    std::vector<std::uint8_t> act(act_row_size(GgmlType::kQ8_0, k));
    for (std::int64_t t = 0; t < n_tok; ++t) {
      quantize_act_row(GgmlType::kQ8_0, x.data + t * x.stride, act.data(), k);
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::uint8_t* wr = w.data() + r * row_size(GgmlType::kMXFP4, k);
        const float got = y.data[t * y.stride + r];
        ASSERT_TRUE(std::isfinite(got));
        if (exact) {
          dequantize_row(GgmlType::kMXFP4, wr, wf.data(), k);
          double ref = 0.0;
          for (std::int64_t c = 0; c < k; ++c)
            ref += static_cast<double>(wf[c]) * x.data[t * x.stride + c];
          EXPECT_NEAR(got, ref, 1e-5 + 1e-5 * std::abs(ref)) << "t=" << t << " r=" << r;
        } else {
          EXPECT_EQ(bits_of(got), bits_of(vec_dot(GgmlType::kMXFP4, k, wr, act.data())))
              << "t=" << t << " r=" << r;
        }
      }
    }
  }
}

// The synthetic writer writes whole models in MXFP4 (general.file_type 38, MOSTLY_MXFP4_MOE),
// and the CPU backend loads and runs them.
TEST(Mxfp4, SyntheticModelLoadsAndRuns) {
  model::SyntheticOptions o;
  o.preset = "tiny-llama";
  o.type = GgmlType::kMXFP4;
  const std::string path = testing::write_synthetic(o, "tiny_llama_mxfp4.gguf");
  ASSERT_FALSE(path.empty());
  auto f = gguf::GgufFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ((*f)->get_u32("general.file_type").value(), 38u);
  EXPECT_EQ((*f)->find_tensor("blk.1.ffn_down.weight")->type, GgmlType::kMXFP4);
  EXPECT_EQ((*f)->find_tensor("output.weight")->type, GgmlType::kMXFP4);
  for (bool exact : {true, false}) {
    LlmOptions lo = testing::llm_options(path, 32, 1);
    lo.exact_matmul = exact;
    auto llm = Llm::load(lo);
    ASSERT_TRUE(llm.ok()) << llm.error().message;
    sched::SequenceRunner run(**llm);
    const std::int32_t tokens[] = {3, 100, 200, 7};
    auto logits = run.forward(0, tokens, /*all_logits=*/false);
    ASSERT_TRUE(logits.ok()) << logits.error().message;
    for (float v : *logits) ASSERT_TRUE(std::isfinite(v));
  }
}

}  // namespace
}  // namespace zinfer::quant
