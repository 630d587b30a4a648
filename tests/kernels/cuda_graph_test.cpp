// Decode steps replayed from CUDA graphs against the same steps launched eagerly
// (cuda_graphs off): real-shape synthetic models (Qwen2.5-0.5B shapes with Q5_0/Q4_K/Q8_0,
// SmolLM2 shapes in Q4_1) and tiny gpt-oss (MoE grouping, sinks, YaRN: every MoE grid is
// sized from the step's shape, so its decode steps are captured too), 3 sequences prefilled, then
// batched and single-sequence decode steps whose sequences cross KV block boundaries (so block
// tables grow and the table width changes). Logits must be bitwise identical at every step, and the
// graph path must really have replayed graphs (DeviceReport::graph_replays). Once more with
// the graph path's decode steps padded to 4 rows (dummy sequences), and once with Q16
// activations and the graph path's kernels launched as programmatic dependents: the same bits.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/synthetic/synthetic_model.h"
#include "kernels/pdl.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

struct GraphCase {
  const char* preset;
  const char* type;
};

class CudaGraphs : public ::testing::TestWithParam<GraphCase> {};

TEST_P(CudaGraphs, ReplayEqualsEagerBitwise) {
  ZINFER_REQUIRE_GPU();
  const GraphCase c = GetParam();
  model::SyntheticOptions o;
  o.preset = c.preset;
  o.type = *quant::type_from_name(c.type);
  o.seed = 7;
  o.n_layers = 2;
  o.embed_output = model::EmbedOutputTypes::kLlamaCppMix;
  const std::string path = testing::write_synthetic(o, "graph_" + std::string(c.preset) + ".gguf");
  ASSERT_FALSE(path.empty());

  // Unpadded, then with decode steps padded (LlmOptions::pad_decode_rows) against the same
  // eager unpadded steps; then Q16 activations on the tensor-core and vec kernels with the
  // graph path's kernels launched as programmatic dependents (pdl.h) against eager ordinary
  // launches.
  struct Mode {
    bool pad, pdl, q16;
    const char* name;
  };
  const Mode modes[] = {{false, false, false, "unpadded"},
                        {true, false, false, "padded decode steps"},
                        {false, true, true, "Q16, programmatic dependent launches in the graphs"}};
  for (const Mode& mode : modes) {
    SCOPED_TRACE(mode.name);
    const bool pad = mode.pad;
    // The graph path's launches (and captures) with PDL as the mode says, the eager path's
    // always ordinary.
    const auto pdl_for = [&](bool graph_path) { cuda::set_pdl(graph_path && mode.pdl ? 1 : 0); };
    LlmOptions lo = testing::llm_options(path, 256, 4);
    lo.device = "cuda";
    lo.kv_cache_bytes = 64 << 20;
    lo.cuda_graphs = true;
    lo.pad_decode_rows = pad;
    lo.q16_act = mode.q16;
    lo.tensor_cores = mode.q16;
    auto graphs = Llm::load(lo);
    ASSERT_TRUE(graphs.ok()) << graphs.error().message;
    lo.cuda_graphs = false;
    lo.pad_decode_rows = false;
    auto eager = Llm::load(lo);
    ASSERT_TRUE(eager.ok()) << eager.error().message;

    const std::int32_t n_vocab = (*graphs)->hparams().n_vocab;
    sched::SequenceRunner run_graphs(**graphs), run_eager(**eager);
    std::vector<std::vector<std::int32_t>> prompts = {
        {5, 9, 200, 17, 3, 8, 44, 12, 90, 31, 7, 2, 6, 1}, {11, 13}, {400}};
    for (sched::SequenceRunner* m : {&run_graphs, &run_eager}) {
      pdl_for(m == &run_graphs);
      std::vector<sched::SeqInput> in;
      for (std::size_t s = 0; s < prompts.size(); ++s)
        in.push_back(sched::SeqInput{static_cast<std::int32_t>(s), prompts[s], false});
      auto out = m->forward_batch(in);
      ASSERT_TRUE(out.ok()) << out.error().message;
    }
    // 60 steps: all three sequences, then sequence 1 alone every fourth step.
    for (int step = 0; step < 60; ++step) {
      std::vector<std::vector<std::int32_t>> next;
      std::vector<sched::SeqInput> in;
      for (std::int32_t s = 0; s < 3; ++s) {
        if (step % 4 == 3 && s != 1) continue;
        next.push_back({static_cast<std::int32_t>((step * 131 + s * 17) % (n_vocab / 2) + 3)});
      }
      std::size_t i = 0;
      for (std::int32_t s = 0; s < 3; ++s) {
        if (step % 4 == 3 && s != 1) continue;
        in.push_back(sched::SeqInput{s, next[i++], false});
      }
      pdl_for(true);
      auto a = run_graphs.forward_batch(in);
      pdl_for(false);
      auto b = run_eager.forward_batch(in);
      ASSERT_TRUE(a.ok()) << a.error().message;
      ASSERT_TRUE(b.ok()) << b.error().message;
      ASSERT_EQ(a->size(), b->size());
      for (std::size_t r = 0; r < a->size(); ++r) {
        ASSERT_EQ((*a)[r].size(), (*b)[r].size());
        for (std::size_t j = 0; j < (*a)[r].size(); ++j) {
          ASSERT_EQ((*a)[r][j], (*b)[r][j]) << "step " << step << " row " << r << " logit " << j;
        }
      }
    }
    const model::DeviceReport rep = (*graphs)->device_report();
    std::printf("graphs held %llu, decode steps replayed %llu\n",
                static_cast<unsigned long long>(rep.graphs),
                static_cast<unsigned long long>(rep.graph_replays));
    EXPECT_GT(rep.graph_replays, 20u);
    EXPECT_EQ((*eager)->device_report().graph_replays, 0u);
    // Padded: the 3-sequence steps ran as 4 rows (one dummy each).
    if (pad) {
      EXPECT_GE(rep.padded_rows, 40u);
    }
  }
  cuda::set_pdl(-1);
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGraphs,
                         ::testing::Values(GraphCase{"qwen2.5-0.5b", "Q4_K"},
                                           GraphCase{"smollm2-135m", "Q4_1"},
                                           GraphCase{"tiny-gpt-oss", "Q8_0"}),
                         [](const auto& info) {
                           std::string s = std::string(info.param.preset);
                           for (auto& ch : s) {
                             if (ch == '-' || ch == '.') ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace zinfer
