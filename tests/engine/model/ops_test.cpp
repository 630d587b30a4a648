// The ops front (engine/model/ops.h): every shape check lives in the non-virtual front, so a
// bad call fails with kInferenceFailed naming the op before any backend code runs, and a good
// one reaches the backend's do_* unchanged. A recording backend shows both; CpuOps shows the
// real backends inherit it (layer_norm's weight and bias checks, which CpuOps once lacked and
// CudaOps had, now hold for both because neither backend checks anything itself).
#include "engine/model/ops.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"

namespace zinfer::model {
namespace {

constexpr KvGeometry kKv{2, 8, 4};  // 2 layers, n_embd_kv 8, 4-token blocks

// A backend whose do_* only count calls.
class RecordingOps final : public Ops {
 public:
  RecordingOps() : Ops(kKv) {}
  int calls = 0;
  std::vector<float> buffer = std::vector<float>(4096, 0.0f);

 protected:
  Tensor do_alloc(std::int64_t rows, std::int64_t cols) override {
    return {buffer.data(), rows, cols, cols};
  }
  Status do_embed(Tensor, const Weight&, std::span<const std::int32_t>) override { return hit(); }
  Status do_rms_norm(Tensor, Tensor, const Weight&, float) override { return hit(); }
  Status do_layer_norm(Tensor, Tensor, const Weight&, const Weight&, float) override {
    return hit();
  }
  Status do_matmul(Tensor, Tensor, const Weight&) override { return hit(); }
  Status do_add_bias(Tensor, const Weight&) override { return hit(); }
  Status do_add(Tensor, Tensor, Tensor) override { return hit(); }
  Status do_scale(Tensor, float) override { return hit(); }
  Status do_softcap(Tensor, float) override { return hit(); }
  Status do_rope(Tensor, const RopeParams&, const Batch&) override { return hit(); }
  Status do_attention(Tensor, Tensor, Tensor, Tensor, const AttnParams&, const Batch&) override {
    return hit();
  }
  Status do_swiglu(Tensor, Tensor, Tensor) override { return hit(); }
  Status do_geglu(Tensor, Tensor, Tensor) override { return hit(); }
  Status do_gelu(Tensor) override { return hit(); }
  Status do_gather_rows(Tensor, Tensor, std::span<const std::int32_t>) override { return hit(); }
  Status do_to_host(Tensor, float*) override { return hit(); }

 private:
  Status hit() {
    ++calls;
    return ok_status();
  }
};

Weight f32(const std::vector<float>& v) {
  return Weight{quant::GgmlType::kF32, static_cast<std::int64_t>(v.size()), 1, v.data()};
}

void expect_shape_error(const Status& st, const std::string& op) {
  ASSERT_FALSE(st.ok()) << op << " accepted a bad shape";
  EXPECT_EQ(st.error().code, ErrorCode::kInferenceFailed) << st.error().message;
  EXPECT_EQ(st.error().message.rfind(op + ":", 0), 0u) << st.error().message;
}

TEST(OpsFront, RejectsBadShapesBeforeTheBackendRuns) {
  RecordingOps ops;
  float data[256] = {};
  const Tensor x{data, 2, 8, 8};
  const Tensor wide{data, 2, 16, 16};
  const std::vector<float> w8(8, 1.0f), w4(4, 1.0f);
  const Weight q8{quant::GgmlType::kQ8_0, 8, 1, w8.data()};  // not f32
  const Weight absent;

  expect_shape_error(ops.rms_norm(x, wide, absent, 1e-6f), "rms_norm");
  expect_shape_error(ops.rms_norm(x, x, f32(w4), 1e-6f), "rms_norm");
  expect_shape_error(ops.layer_norm(x, x, f32(w4), absent, 1e-5f), "layer_norm");
  expect_shape_error(ops.layer_norm(x, x, f32(w8), f32(w4), 1e-5f), "layer_norm");
  expect_shape_error(ops.layer_norm(x, x, q8, absent, 1e-5f), "layer_norm");
  expect_shape_error(ops.matmul(x, x, Weight{quant::GgmlType::kF32, 16, 8, w8.data()}), "matmul");
  expect_shape_error(ops.add_bias(x, f32(w4)), "add_bias");
  expect_shape_error(ops.add(x, x, wide), "add");
  expect_shape_error(ops.softcap(x, 0.0f), "softcap");
  expect_shape_error(ops.swiglu(x, x, wide), "swiglu");
  expect_shape_error(ops.geglu(wide, x, x), "geglu");
  const std::int32_t rows[] = {0, 2};
  expect_shape_error(ops.gather_rows(x, x, rows), "gather_rows");
  const std::int32_t tok[] = {1};
  expect_shape_error(ops.embed(x, f32(w8), tok), "embed");

  // rope / attention against a batch of one sequence, 2 tokens at positions 3, 4.
  const std::int32_t tokens[] = {1, 2};
  const std::int32_t positions[] = {3, 4};
  const std::int32_t one_block[] = {0};  // holds positions 0..3 only: too short for 3 + 2
  Batch batch;
  batch.tokens = tokens;
  batch.positions = positions;
  batch.seqs.push_back(SeqSpan{0, 3, 2, 0, one_block});
  RopeParams rp{2, 4, 4, RopeType::kNorm, 10000.0f, 1.0f};
  expect_shape_error(ops.rope(wide, rp, batch), "rope");
  rp.n_rot = 3;
  expect_shape_error(ops.rope(x, rp, batch), "rope");
  AttnParams ap{0, 2, 2, 4, 0.5f, 0, 0.0f};
  expect_shape_error(ops.attention(x, x, x, x, ap, batch), "attention");  // block table too short
  const std::int32_t two_blocks[] = {0, 1};
  batch.seqs[0].block_table = two_blocks;
  ap.layer = 2;
  expect_shape_error(ops.attention(x, x, x, x, ap, batch), "attention");  // layer out of range
  ap.layer = 0;
  ap.n_head_kv = 1;  // 1 × 4 ≠ n_embd_kv 8
  expect_shape_error(ops.attention(x, x, x, x, ap, batch), "attention");
  EXPECT_EQ(ops.calls, 0) << "a backend op ran after a failed shape check";

  // Good shapes reach the backend.
  ap.n_head_kv = 2;
  rp.n_rot = 4;
  EXPECT_TRUE(ops.rms_norm(x, x, f32(w8), 1e-6f).ok());
  EXPECT_TRUE(ops.layer_norm(x, x, f32(w8), f32(w8), 1e-5f).ok());
  EXPECT_TRUE(ops.layer_norm(x, x, absent, absent, 1e-5f).ok());
  EXPECT_TRUE(ops.rope(x, rp, batch).ok());
  EXPECT_TRUE(ops.attention(x, x, x, x, ap, batch).ok());
  EXPECT_TRUE(ops.embed(x, Weight{quant::GgmlType::kF32, 8, 4, w8.data()}, tokens).ok());
  EXPECT_EQ(ops.calls, 6);
}

// The mixture-of-experts ops have no composition of basic ops: a backend that does not
// implement them (RecordingOps here, CudaOps today) answers kInferenceFailed naming the op.
TEST(OpsFront, MixtureOfExpertsOpsNeedTheBackend) {
  RecordingOps ops;
  Tensor logits = ops.alloc(2, 4), w = ops.alloc(2, 2), ids = ops.alloc(2, 2);
  expect_shape_error(ops.topk_softmax(w, ids, logits), "topk_softmax");
  const std::vector<float> dummy(64 * 4 * 8, 0.0f);
  ExpertWeights ew;
  ew.n_expert = 4;
  ew.n_ff = 8;
  ew.gate = ew.up = Weight{quant::GgmlType::kF32, 8, 32, dummy.data()};
  ew.down = Weight{quant::GgmlType::kF32, 8, 32, dummy.data()};
  Tensor x = ops.alloc(2, 8);
  const Status st = ops.moe_ffn(x, x, ids, w, ew, ExpertActParams{});
  expect_shape_error(st, "moe_ffn");
  EXPECT_NE(st.error().message.find("not implemented by this backend"), std::string::npos);
  EXPECT_EQ(ops.calls, 0);
}

TEST(OpsFront, CpuOpsInheritsTheChecks) {
  cpu::CpuOpsConfig cfg;
  cfg.n_threads = 1;
  cfg.n_layer = 1;
  cfg.n_embd_kv = 8;
  cfg.n_blocks = 2;
  cfg.block_size = 4;
  cpu::CpuOps ops(cfg);
  Tensor x = ops.alloc(3, 8);
  for (std::int64_t r = 0; r < x.rows; ++r) {
    for (std::int64_t c = 0; c < x.cols; ++c) x.data[r * x.stride + c] = static_cast<float>(r + c);
  }
  const std::vector<float> w4(4, 1.0f), w8(8, 2.0f);
  expect_shape_error(ops.layer_norm(x, x, f32(w4), Weight{}, 1e-5f), "layer_norm");
  expect_shape_error(ops.layer_norm(x, x, f32(w8), f32(w4), 1e-5f), "layer_norm");
  EXPECT_EQ(x.data[1], 1.0f) << "CpuOps wrote its output after a failed check";
  ASSERT_TRUE(ops.layer_norm(x, x, f32(w8), Weight{}, 1e-5f).ok());
  EXPECT_NE(x.data[1], 1.0f);
}

}  // namespace
}  // namespace zinfer::model
