// Continuous batching on the GPU does not change any job's output: 32 jobs with prompt lengths
// from 1 to ~300 tokens, half greedy and half seeded sampling (temperature, top-k, top-p),
// run together through the scheduler (one forward pass per step over every running
// sequence, prompts chunked by the step budget) must each produce exactly the tokens, and
// bitwise the same log-probabilities, as when the job runs alone.
//
// Why it holds by construction: every matmul uses the matvec kernel, whose per-row
// reduction order depends only on the row length (LlmOptions::batch_invariant, the default);
// attention, norms and RoPE work per token; sampling keys its Philox stream by the job's
// seed and position. Models: a synthetic model with Qwen2.5-0.5B shapes (4 layers, Q4_K) —
// random weights give flat logits, many near ties, the hardest case for invariance — and
// the real SmolLM2-135M-Instruct when it is fetched; and once more with prefix caching on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/model/llm.h"
#include "engine/sched/scheduler.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/kernels/gpu_test_util.h"
#include "tests/test_util.h"

namespace zinfer {
namespace {

// ZINFER_GPU_SANITIZE_SHORT=1 (compute-sanitizer runs): 4 jobs of 6 tokens.
bool short_run() { return std::getenv("ZINFER_GPU_SANITIZE_SHORT") != nullptr; }
const int kJobs = short_run() ? 4 : 32;
const int kMaxTokens = short_run() ? 6 : 24;

struct Output {
  std::vector<std::int32_t> tokens;
  std::vector<float> logprobs;
  bool ok = true;
};

sched::JobSpec make_job(int i, const sched::JobLimits& limits) {
  const std::int32_t n_vocab = limits.n_vocab;
  // Ids away from both ends of the vocabulary (tiny vocabularies: the middle half).
  const std::int32_t span = n_vocab > 1200 ? n_vocab - 600 : n_vocab / 2;
  const std::int32_t first = n_vocab > 1200 ? 300 : n_vocab / 4;
  std::vector<std::int32_t> prompt;
  const int len = 1 + (i * 37) % 300;
  for (int k = 0; k < len; ++k)
    prompt.push_back(static_cast<std::int32_t>((i * 7919 + k * 104729 + 13) % span + first));
  sched::GenerationParams params;
  params.max_tokens = kMaxTokens;
  params.ignore_eos = true;
  if (i % 2 == 0) {
    params.sampling.temperature = 0.0f;
  } else {
    params.sampling.temperature = 0.9f;
    params.sampling.top_k = 50;
    params.sampling.top_p = 0.95f;
    params.sampling.seed = 1000 + static_cast<std::uint64_t>(i);
  }
  auto s = sched::JobSpec::check(std::move(prompt), std::move(params), limits);
  EXPECT_TRUE(s.ok()) << s.error().message;
  sched::JobSpec spec = std::move(s).value();
  spec.id = static_cast<sched::JobId>(i) + 1;
  return spec;
}

// Runs the jobs to completion in one scheduler; returns outputs by job id and the most jobs
// that ran in one step.
std::map<sched::JobId, Output> run(sched::Scheduler& s, const std::vector<sched::JobSpec>& jobs,
                                   int* max_running = nullptr) {
  std::map<sched::JobId, Output> out;
  for (const auto& j : jobs) {
    const Status st = s.add(j);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  int most = 0;
  while (!s.idle()) {
    const std::vector<sched::JobEvent> events = s.step();
    most = std::max(most, static_cast<int>(s.running_ids().size()));
    for (const auto& ev : events) {
      Output& o = out[ev.id];
      o.tokens.insert(o.tokens.end(), ev.tokens.begin(), ev.tokens.end());
      for (const auto& smp : ev.samples) o.logprobs.push_back(smp.logprob);
      if (ev.error) {
        o.ok = false;
        ADD_FAILURE() << "job " << ev.id << ": " << ev.error->message;
      }
    }
  }
  if (max_running) *max_running = most;
  return out;
}

// One scheduler runs the batch, then each job alone (so with the prefix cache on, the alone
// runs find the blocks the batch run published).
void check_batch_invariance(Llm& llm, bool prefix_cache, const char* label) {
  sched::SchedulerConfig cfg;
  cfg.max_running = kJobs;
  cfg.max_step_tokens = 256;
  cfg.prefix_cache = prefix_cache;
  auto sched = sched::Scheduler::create(llm, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  std::vector<sched::JobSpec> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back(make_job(i, (*sched)->limits()));
  int most = 0;
  const auto together = run(**sched, jobs, &most);
  ASSERT_EQ(together.size(), static_cast<std::size_t>(kJobs));
  EXPECT_GE(most, kJobs / 2) << "the batch never held many jobs at once";
  int equal = 0;
  for (int i = 0; i < kJobs; ++i) {
    const auto alone = run(**sched, {jobs[static_cast<std::size_t>(i)]});
    const sched::JobId id = jobs[static_cast<std::size_t>(i)].id;
    ASSERT_EQ(alone.count(id), 1u);
    const Output& a = alone.at(id);
    const Output& b = together.at(id);
    ASSERT_EQ(a.tokens.size(), static_cast<std::size_t>(kMaxTokens)) << "job " << id;
    EXPECT_EQ(b.tokens, a.tokens) << label << " job " << id << " (prompt "
                                  << jobs[static_cast<std::size_t>(i)].prompt().size()
                                  << " tokens, " << (i % 2 ? "sampled" : "greedy") << ")";
    EXPECT_EQ(b.logprobs, a.logprobs) << label << " job " << id << ": log-probabilities differ";
    equal += (b.tokens == a.tokens && b.logprobs == a.logprobs) ? 1 : 0;
  }
  std::printf("%s: %d of %d jobs identical alone and batched (up to %d running per step)\n", label,
              equal, kJobs, most);
}

LlmOptions gpu_options(const std::string& path) {
  LlmOptions lo = testing::llm_options(path, 512, kJobs);
  lo.device = "cuda";
  return lo;
}

// Writes the synthetic Qwen2.5-0.5B-shape model (4 layers, Q4_K) to the temp dir.
std::string write_synthetic_qwen(const std::string& file) {
  model::SyntheticOptions o;
  o.preset = "qwen2.5-0.5b";
  o.type = quant::GgmlType::kQ4_K;
  o.seed = 5;
  o.n_layers = 4;
  return testing::write_synthetic(o, file);
}

// The synthetic Qwen2.5-0.5B-shape model on the GPU (tensor_cores: Q16 activations on the
// tensor-core tiles, q8_mma.h).
// fp16_prompts: per-token numerics (prompts on the fp16 tiles, generated tokens on Q16).
void check_synthetic_qwen(bool prefix_cache, const char* label, bool tensor_cores = false,
                          bool fp16_prompts = false) {
  const std::string path = write_synthetic_qwen("batch_qwen_shapes.gguf");
  ASSERT_FALSE(path.empty());
  LlmOptions lo = gpu_options(path);
  lo.q16_act = tensor_cores && !fp16_prompts;
  lo.tensor_cores = tensor_cores;
  lo.fp16_prompts = fp16_prompts;
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  check_batch_invariance(**llm, prefix_cache, label);
}

TEST(CudaBatchInvariance, SyntheticQwenShapes) {
  ZINFER_REQUIRE_GPU();
  check_synthetic_qwen(false, "synthetic qwen2.5-0.5b shapes");
}

// Every integer matmul on the tensor-core tiles: one float order per output at every batch size.
TEST(CudaBatchInvariance, SyntheticQwenShapesOnTensorCores) {
  ZINFER_REQUIRE_GPU();
  check_synthetic_qwen(false, "synthetic qwen2.5-0.5b shapes, q16 on tensor cores", true);
}

// Per-token numerics (--fp16-prompts): prompt chunks share steps with decodes, so the steps'
// products split their rows into the fp16 tiles and the Q16 kernels; every job alone = batched.
TEST(CudaBatchInvariance, SyntheticQwenShapesWithFp16Prompts) {
  ZINFER_REQUIRE_GPU();
  check_synthetic_qwen(true, "synthetic qwen2.5-0.5b shapes, fp16 prompts", true, true);
}

// gpt-oss (tiny: top-4 of 8 MXFP4 experts, attention sinks, sliding windows, YaRN): the expert
// FFN groups a step's tokens by expert on the device, so a token's expert tiles hold other
// tokens in the batch and none alone; its result must not depend on them.
TEST(CudaBatchInvariance, TinyGptOss) {
  ZINFER_REQUIRE_GPU();
  const std::string path = testing::write_synthetic("tiny-gpt-oss", quant::GgmlType::kQ8_0,
                                                    "batch_tiny_gpt_oss.gguf", 13);
  ASSERT_FALSE(path.empty());
  auto llm = Llm::load(gpu_options(path));
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  check_batch_invariance(**llm, false, "tiny gpt-oss");
}

// The same on the CLI's default numerics (Q16 activations on the tensor-core order): a batch's
// expert products run on the tensor-core tiles, a token alone on the few-token kernels
// (moe_vec.cuh, q8_mma_vecleg.cuh) — one float order, the same bits.
TEST(CudaBatchInvariance, TinyGptOssOnTensorCores) {
  ZINFER_REQUIRE_GPU();
  const std::string path = testing::write_synthetic("tiny-gpt-oss", quant::GgmlType::kQ8_0,
                                                    "batch_tiny_gpt_oss_tc.gguf", 13);
  ASSERT_FALSE(path.empty());
  LlmOptions lo = gpu_options(path);
  lo.q16_act = true;
  lo.tensor_cores = true;
  auto llm = Llm::load(lo);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  check_batch_invariance(**llm, false, "tiny gpt-oss, q16 on tensor cores");
}

// With prefix caching, every "alone" run after the batch run starts from the KV blocks its own
// prompt published during the batch run (and job i's blocks are shared with nobody else): the
// attached KV must give bitwise the same tokens and log-probabilities as computing it.
TEST(CudaBatchInvariance, SyntheticQwenShapesWithPrefixCache) {
  ZINFER_REQUIRE_GPU();
  check_synthetic_qwen(true, "synthetic qwen2.5-0.5b shapes, prefix cache on");
}

// Jobs with every sampling feature (penalties over the prompt, logit bias, top-k/top-p/min-p,
// top logprobs), greedy and seeded.
sched::JobSpec make_rich_job(int i, const sched::JobLimits& limits) {
  sched::JobSpec spec = make_job(i, limits);
  sched::GenerationParams params = spec.params();
  sample::SamplingParams& p = params.sampling;
  const std::int32_t n_vocab = limits.n_vocab;
  switch (i % 4) {
    case 0:  // greedy with penalties and bias
      p.repetition_penalty = 1.3f;
      p.frequency_penalty = 0.2f;
      p.logit_bias = {{(i * 7919) % n_vocab, 2.0f}, {(i * 104729) % n_vocab, -50.0f}};
      p.top_logprobs = 3;
      break;
    case 1:  // the default seeded job, with top logprobs
      p.top_logprobs = 20;
      break;
    case 2:  // min-p, presence penalty over the whole history
      p.temperature = 1.4f;
      p.top_k = 0;
      p.top_p = 1.0f;
      p.min_p = 0.05f;
      p.presence_penalty = 0.5f;
      p.penalty_last_n = -1;
      p.seed = 77 + static_cast<std::uint64_t>(i);
      break;
    default:  // plain temperature
      p.temperature = 0.7f;
      p.top_k = 0;
      p.top_p = 0.8f;
      p.seed = 99 + static_cast<std::uint64_t>(i);
      break;
  }
  auto s = sched::JobSpec::check(spec.prompt(), std::move(params), limits);
  EXPECT_TRUE(s.ok()) << s.error().message;
  sched::JobSpec out = std::move(s).value();
  out.id = spec.id;
  return out;
}

// The scheduler's sampled path: sampling on the device (the default) gives every job the
// tokens the host Sampler gives (--no-gpu-sampling), and logprobs within 1e-5 — 32 jobs
// batched, with penalties, bias, filters and top logprobs.
TEST(CudaBatchInvariance, DeviceSamplingEqualsHostSampling) {
  ZINFER_REQUIRE_GPU();
  const std::string path = write_synthetic_qwen("sampling_qwen_shapes.gguf");
  std::map<sched::JobId, Output> outs[2];
  for (const bool on_device : {true, false}) {
    LlmOptions lo = gpu_options(path);
    lo.gpu_sampling = on_device;
    auto llm = Llm::load(lo);
    ASSERT_TRUE(llm.ok()) << llm.error().message;
    sched::SchedulerConfig cfg;
    cfg.max_running = kJobs;
    cfg.max_step_tokens = 256;
    auto sched = sched::Scheduler::create(**llm, cfg);
    ASSERT_TRUE(sched.ok()) << sched.error().message;
    std::vector<sched::JobSpec> jobs;
    for (int i = 0; i < kJobs; ++i) jobs.push_back(make_rich_job(i, (*sched)->limits()));
    outs[on_device ? 0 : 1] = run(**sched, jobs);
  }
  ASSERT_EQ(outs[0].size(), static_cast<std::size_t>(kJobs));
  ASSERT_EQ(outs[1].size(), static_cast<std::size_t>(kJobs));
  int equal = 0;
  for (const auto& [id, dev] : outs[0]) {
    const Output& host = outs[1].at(id);
    EXPECT_EQ(dev.tokens, host.tokens) << "job " << id << " (kind " << (id - 1) % 4 << ")";
    ASSERT_EQ(dev.logprobs.size(), host.logprobs.size()) << "job " << id;
    double worst = 0;
    for (std::size_t k = 0; k < dev.logprobs.size(); ++k)
      worst = std::max(worst, std::fabs(static_cast<double>(dev.logprobs[k]) - host.logprobs[k]));
    EXPECT_LE(worst, 1e-5) << "job " << id << ": logprobs differ by " << worst;
    equal += dev.tokens == host.tokens ? 1 : 0;
  }
  std::printf("device sampling: %d of %d jobs' tokens equal to host sampling\n", equal, kJobs);
}

TEST(CudaBatchInvariance, SmolLM2) {
  ZINFER_REQUIRE_GPU();
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  auto llm = Llm::load(gpu_options(path));
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  check_batch_invariance(**llm, /*prefix_cache=*/false, "SmolLM2-135M");
}

}  // namespace
}  // namespace zinfer
