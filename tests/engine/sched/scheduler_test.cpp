// Scheduler: continuous batching must not change any job's output. Reference: each job run
// alone through the plain Llm::forward + Sequence loop that `zinfer generate` uses (one whole
// prompt forward, then one token per forward) — no scheduler, no chunking, no batch-mates.
// Then: 32 jobs together (chunked prompts, mixed prefill/decode steps), the same under a KV
// pool so small that jobs are preempted and recomputed, priority/FIFO admission, deadlines,
// cancel, validation. Every run asserts exactly one terminal event per job.
// Models: a synthetic tiny-llama (Q4_1, random weights: fast, so many long jobs fit in a test)
// and the real SmolLM2-135M Q4_1 for a smaller batch.
#include "engine/sched/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/model/decode_rows.h"
#include "engine/model/llm.h"
#include "engine/sched/sequence_runner.h"
#include "engine/sched/warm_up.h"
#include "engine/synthetic/synthetic_model.h"
#include "tests/test_util.h"

namespace zinfer::sched {
namespace {

struct Output {
  std::vector<std::int32_t> tokens;
  std::vector<float> logprobs;  // of each token: any change in a job's numerics shows here
  std::string text;
  FinishReason finish = FinishReason::kNone;
  int terminals = 0;
  bool error = false;
};

// A job as these tests write it; spec() checks it into the engine's JobSpec.
struct Req {
  JobId id = 0;
  std::vector<std::int32_t> prompt;
  GenerationParams params;
  std::int32_t priority = 0;
  std::optional<Clock::time_point> deadline;
};

JobSpec spec(const Req& r, const JobLimits& limits) {
  auto s = JobSpec::check(r.prompt, r.params, limits);
  EXPECT_TRUE(s.ok()) << "job " << r.id << ": " << s.error().message;
  JobSpec out = std::move(s).value();
  out.id = r.id;
  out.priority = r.priority;
  out.deadline = r.deadline;
  return out;
}

JobLimits limits_of(const Llm& llm) {
  return JobLimits{llm.hparams().n_vocab, llm.options().n_ctx};
}

// The `zinfer generate` path: whole prompt in one forward, then one token per forward.
Output generate_alone(Llm& llm, const Req& req) {
  SequenceRunner run(llm);
  Sequence seq(llm.tokenizer(), spec(req, limits_of(llm)));
  Output out;
  while (!seq.finished()) {
    // The prompt, then each sampled token fed back as generated (SeqStep::generated).
    auto logits = run.forward(0, seq.pending_input(), false, !seq.generated().empty());
    EXPECT_TRUE(logits.ok()) << logits.error().message;
    if (!logits.ok()) break;
    auto step = seq.accept_logits(*logits);
    EXPECT_TRUE(step.ok());
    if (!step.ok()) break;
    out.text += step->text;
    for (const auto& smp : step->samples) out.logprobs.push_back(smp.logprob);
  }
  out.tokens = seq.generated();
  out.finish = seq.finish_reason();
  return out;
}

// Runs the scheduler to completion; checks one terminal event per job and nothing after it.
std::map<JobId, Output> run_all(Scheduler& sched, std::size_t n_jobs, int max_steps = 100000) {
  std::map<JobId, Output> outs;
  for (int s = 0; s < max_steps && !sched.idle(); ++s) {
    for (JobEvent& ev : sched.step()) {
      Output& o = outs[ev.id];
      EXPECT_EQ(o.terminals, 0) << "event after the terminal event of job " << ev.id;
      o.tokens.insert(o.tokens.end(), ev.tokens.begin(), ev.tokens.end());
      for (const auto& smp : ev.samples) o.logprobs.push_back(smp.logprob);
      o.text += ev.text;
      if (ev.terminal()) {
        ++o.terminals;
        o.finish = ev.finish;
        o.error = ev.error.has_value();
        EXPECT_EQ(ev.completion_tokens, static_cast<std::int32_t>(o.tokens.size()));
      }
    }
  }
  EXPECT_TRUE(sched.idle());
  EXPECT_EQ(outs.size(), n_jobs);
  for (const auto& [id, o] : outs) EXPECT_EQ(o.terminals, 1) << "job " << id;
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.kv_used_blocks, 0) << "KV blocks leaked";
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.waiting, 0);
  return outs;
}

// Job i: prompt of varied length (random in-vocabulary ids), greedy or seeded sampling.
std::vector<Req> make_jobs(int n, std::int32_t n_vocab, std::int32_t max_tokens, int max_prompt) {
  std::mt19937 rng(1234);
  std::vector<Req> jobs;
  for (int i = 0; i < n; ++i) {
    Req j;
    j.id = 100 + static_cast<JobId>(i);
    const int len = 1 + (i * 37) % max_prompt;
    for (int t = 0; t < len; ++t)
      j.prompt.push_back(static_cast<std::int32_t>(rng() % static_cast<unsigned>(n_vocab)));
    j.params.max_tokens = max_tokens;
    j.params.ignore_eos = i % 4 != 3;  // most run to max_tokens; some may stop early
    if (i % 2 == 0) {
      j.params.sampling.temperature = 0.0f;
    } else {
      j.params.sampling.temperature = 0.9f;
      j.params.sampling.top_p = 0.95f;
      j.params.sampling.top_k = i % 3 == 0 ? 40 : 0;
      j.params.sampling.repetition_penalty = i % 5 == 1 ? 1.1f : 1.0f;
      j.params.sampling.seed = 7000 + static_cast<std::uint64_t>(i);
    }
    jobs.push_back(std::move(j));
  }
  return jobs;
}

class TinyModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model::SyntheticOptions o;
    o.preset = "tiny-llama";
    o.type = quant::GgmlType::kQ4_1;
    o.seed = 5;
    path_ = testing::write_synthetic(o, "sched_tiny_llama_q4_1.gguf");
    ASSERT_FALSE(path_.empty());
  }
  // fp16_prompts: per-token numerics (LlmOptions::fp16_prompts), where a job's prompt and its
  // generated tokens take different matmul numerics.
  std::unique_ptr<Llm> load(std::int64_t kv_bytes = 0, bool fp16_prompts = false) {
    LlmOptions opt = testing::llm_options(path_, 256, 32);
    opt.n_threads = 2;
    opt.kv_cache_bytes = kv_bytes;
    opt.fp16_prompts = fp16_prompts;
    auto llm = Llm::load(opt);
    EXPECT_TRUE(llm.ok()) << llm.error().message;
    return llm.ok() ? std::move(*llm) : nullptr;
  }
  // One job running at a time (the order of admission shows), prefix cache on.
  static SchedulerConfig one_at_a_time() {
    SchedulerConfig cfg;
    cfg.prefix_cache = true;
    cfg.max_running = 1;
    return cfg;
  }
  static std::string path_;
};
std::string TinyModel::path_;

void expect_same_as_alone(Llm& llm, const std::vector<Req>& jobs, const SchedulerConfig& cfg,
                          bool expect_preemption) {
  std::map<JobId, Output> alone;
  for (const auto& j : jobs) alone[j.id] = generate_alone(llm, j);
  auto sched = Scheduler::create(llm, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  auto together = run_all(**sched, jobs.size());
  for (const auto& j : jobs) {
    const Output& a = alone[j.id];
    const Output& b = together[j.id];
    EXPECT_FALSE(b.error) << "job " << j.id;
    EXPECT_EQ(b.tokens, a.tokens) << "job " << j.id << " (prompt " << j.prompt.size()
                                  << " tokens, temp " << j.params.sampling.temperature << ")";
    EXPECT_EQ(b.text, a.text) << "job " << j.id;
    EXPECT_EQ(b.logprobs, a.logprobs) << "job " << j.id;  // bit for bit
    EXPECT_EQ(b.finish, a.finish) << "job " << j.id;
  }
  const SchedulerStats st = (*sched)->stats();
  if (expect_preemption) {
    EXPECT_GT(st.preemptions, 0u) << "the small KV pool should have forced preemption";
  } else {
    EXPECT_EQ(st.preemptions, 0u);
  }
  // Batching really happened: far fewer forward passes than the jobs' tokens.
  std::size_t total_tokens = 0;
  for (const auto& [id, o] : together) total_tokens += o.tokens.size();
  EXPECT_LT(st.steps, total_tokens / 2);
}

// The sampled forward pass on the CPU backend is the host Sampler on forward_batch's logits:
// same token and logprobs, and nothing for a step that asked for no sample.
TEST_F(TinyModel, ForwardSampleIsTheSamplerOnForwardBatchLogits) {
  auto llm = load();
  ASSERT_NE(llm, nullptr);
  SequenceRunner run(*llm);
  const std::vector<std::int32_t> prompt = {5, 9, 2, 7, 3, 9};
  auto logits = run.forward(0, prompt, false);
  ASSERT_TRUE(logits.ok()) << logits.error().message;
  for (const float temperature : {0.0f, 0.8f}) {
    sample::SamplingParams p;
    p.temperature = temperature;
    p.top_k = 20;
    p.top_p = 0.9f;
    p.seed = 11;
    p.top_logprobs = 3;
    p.repetition_penalty = 1.2f;
    p.logit_bias = {{4, 1.5f}};
    const int a = temperature == 0.0f ? 1 : 3;  // fresh sequences, same prompt
    const std::vector<SeqInput> in = {SeqInput{a, prompt, false}, SeqInput{a + 1, prompt, false}};
    const std::vector<sample::SampleRequest> requests = {{&p, prompt, 4}, {}};
    auto out = run.forward_sample(in, requests);
    ASSERT_TRUE(out.ok()) << out.error().message;
    ASSERT_EQ(out->size(), 2u);
    ASSERT_TRUE((*out)[0].has_value());
    EXPECT_FALSE((*out)[1].has_value());
    ASSERT_TRUE((*out)[0]->ok()) << (*out)[0]->error().message;
    std::vector<float> row = *logits;
    auto want = sample::sample_logits(p, row, prompt, 4);
    ASSERT_TRUE(want.ok());
    const sample::SampleResult& got = (*out)[0]->value();
    EXPECT_EQ(got.token, want->token) << "temperature " << temperature;
    EXPECT_EQ(got.logprob, want->logprob);
    EXPECT_EQ(got.top_logprobs, want->top_logprobs);
  }
}

// 32 jobs (prompts of 1-120 tokens, 24 tokens each) at once, prefix cache on, prompts in
// chunks of max_step_tokens mixed with decodes: each job's output is what it gets alone.
void expect_32_jobs_as_alone(std::unique_ptr<Llm> llm, std::int32_t max_step_tokens,
                             bool expect_preemption) {
  ASSERT_NE(llm, nullptr);
  auto jobs = make_jobs(32, llm->hparams().n_vocab, 24, 120);
  SchedulerConfig cfg;
  cfg.prefix_cache = true;
  cfg.max_running = 32;
  cfg.max_step_tokens = max_step_tokens;
  expect_same_as_alone(*llm, jobs, cfg, expect_preemption);
}

TEST_F(TinyModel, ThirtyTwoJobsTogetherMatchEachAlone) {
  // Room for every job's whole context: no preemption.
  expect_32_jobs_as_alone(load(32 * 256 * 2048), 64, false);
}

// Per-token numerics (--fp16-prompts): prompt chunks and decodes share steps, so most steps'
// matmuls split their rows by kind — each job's tokens are still those it gets alone.
TEST_F(TinyModel, ThirtyTwoJobsTogetherMatchEachAloneWithFp16Prompts) {
  expect_32_jobs_as_alone(load(32 * 256 * 2048, /*fp16_prompts=*/true), 64, false);
}

// A warm-up (sched/warm_up.h) caps its passes to the context, n_seq_max and the KV pool, and
// leaves nothing behind: jobs scheduled on a warmed model get the tokens of each job alone on
// a model that never warmed up.
TEST_F(TinyModel, WarmUpFitsThePoolAndLeavesJobsTokensUnchanged) {
  auto fresh = load();
  auto warmed = load();
  ASSERT_NE(fresh, nullptr);
  ASSERT_NE(warmed, nullptr);
  auto w = warm_up(*warmed, WarmUpPlan{100000, 1000, 3});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->prompt_tokens, std::min(warmed->options().n_ctx - 1,
                                       warmed->kv_blocks() * warmed->kv_block_size() - 1));
  EXPECT_EQ(w->batch, std::min(warmed->options().n_seq_max, warmed->kv_blocks()));
  EXPECT_GT(w->batch, 1);

  // More sequences than the pool has blocks: the batch is the pool's.
  LlmOptions many = testing::llm_options(path_, 256, 512);
  many.n_threads = 2;
  auto wide = Llm::load(many);
  ASSERT_TRUE(wide.ok()) << wide.error().message;
  ASSERT_LT((*wide)->kv_blocks(), 512);
  auto ws = warm_up(**wide, WarmUpPlan{64, 1000, 3});
  ASSERT_TRUE(ws.ok()) << ws.error().message;
  EXPECT_EQ(ws->prompt_tokens, 64);
  EXPECT_EQ(ws->batch, (*wide)->kv_blocks());

  const auto jobs = make_jobs(8, fresh->hparams().n_vocab, 12, 40);
  std::map<JobId, Output> alone;
  for (const auto& j : jobs) alone[j.id] = generate_alone(*fresh, j);
  SchedulerConfig cfg;
  cfg.max_running = 8;
  auto sched = Scheduler::create(*warmed, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  EXPECT_EQ((*sched)->stats().kv_used_blocks, 0);
  for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  auto together = run_all(**sched, jobs.size());
  for (const auto& j : jobs) {
    EXPECT_EQ(together[j.id].tokens, alone[j.id].tokens) << "job " << j.id;
    EXPECT_EQ(together[j.id].text, alone[j.id].text) << "job " << j.id;
  }
}

// Padded decode steps (LlmOptions::pad_decode_rows): decode steps run with dummy sequences up
// to 1, 2, 4, 8, 16 or 32 rows as the 32 jobs finish one by one, and every job's tokens equal
// the job alone on the unpadded model; the scheduler gets one KV block less (the dummies').
TEST_F(TinyModel, PaddedDecodeStepsKeepEveryJobsTokens) {
  constexpr std::int64_t kKvBytes = 32 * 256 * 2048;
  auto plain = load(kKvBytes);
  ASSERT_NE(plain, nullptr);
  LlmOptions opt = testing::llm_options(path_, 256, 32);
  opt.n_threads = 2;
  opt.kv_cache_bytes = kKvBytes;
  opt.pad_decode_rows = true;
  auto padded = Llm::load(opt);
  ASSERT_TRUE(padded.ok()) << padded.error().message;
  EXPECT_EQ((*padded)->kv_blocks(), plain->kv_blocks() - 1);
  auto jobs = make_jobs(32, plain->hparams().n_vocab, 24, 120);
  std::map<JobId, Output> alone;
  for (const auto& j : jobs) alone[j.id] = generate_alone(*plain, j);
  SchedulerConfig cfg;
  cfg.max_running = 32;
  cfg.max_step_tokens = 64;
  auto sched = Scheduler::create(**padded, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  auto together = run_all(**sched, jobs.size());
  for (const auto& j : jobs) {
    EXPECT_FALSE(together[j.id].error) << "job " << j.id;
    EXPECT_EQ(together[j.id].tokens, alone[j.id].tokens) << "job " << j.id;
  }
  EXPECT_GT((*padded)->device_report().padded_rows, 0u) << "no decode step was padded";
  EXPECT_EQ(plain->device_report().padded_rows, 0u);
}

// Buckets: powers of two up to 32, then multiples of 32, nothing past 512.
TEST(PaddedDecodeRows, Buckets) {
  const std::pair<std::int64_t, std::int64_t> cases[] = {
      {1, 1},   {2, 2},   {3, 4},     {5, 8},     {9, 16},    {17, 32},   {32, 32},
      {33, 64}, {65, 96}, {200, 224}, {480, 480}, {511, 512}, {512, 512}, {513, 513}};
  for (const auto& [n, want] : cases) EXPECT_EQ(model::padded_decode_rows(n), want) << n;
}

// --max-running 512 (the throughput issue's upper end): 512 sequences hold KV at once and run
// in the same steps; no fixed-size table in the scheduler, the KV allocator or the CPU backend
// stands in the way, and batching still changes no job's output (every 32nd job checked alone).
TEST_F(TinyModel, FiveHundredTwelveJobsRunTogether) {
  constexpr int kJobs = 512;
  LlmOptions opt = testing::llm_options(path_, 64, kJobs);
  opt.n_threads = 2;
  opt.kv_cache_bytes = std::int64_t{kJobs} * 2 * 16 * 2048;  // two blocks per job
  auto llm = Llm::load(opt);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  auto jobs = make_jobs(kJobs, (*llm)->hparams().n_vocab, 3, 12);
  std::map<std::size_t, Output> alone;  // before the scheduler owns the KV pool
  for (std::size_t i = 0; i < jobs.size(); i += 32) alone[i] = generate_alone(**llm, jobs[i]);
  SchedulerConfig cfg;
  cfg.max_running = kJobs;
  auto sched = Scheduler::create(**llm, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  std::map<JobId, Output> outs;
  std::int32_t most_running = 0;
  for (int s = 0; s < 1000 && !(*sched)->idle(); ++s) {
    for (JobEvent& ev : (*sched)->step()) {
      Output& o = outs[ev.id];
      o.tokens.insert(o.tokens.end(), ev.tokens.begin(), ev.tokens.end());
      for (const auto& smp : ev.samples) o.logprobs.push_back(smp.logprob);
      if (ev.terminal()) ++o.terminals;
    }
    most_running = std::max(most_running, (*sched)->stats().running);
  }
  EXPECT_TRUE((*sched)->idle());
  EXPECT_EQ(most_running, kJobs) << "every job should have been running at once";
  EXPECT_EQ((*sched)->stats().preemptions, 0u);
  EXPECT_EQ((*sched)->stats().kv_used_blocks, 0);
  ASSERT_EQ(outs.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, o] : outs) EXPECT_EQ(o.terminals, 1) << "job " << id;
  for (const auto& [i, a] : alone) EXPECT_EQ(outs[jobs[i].id].tokens, a.tokens) << "job " << i;
}

// Prefix caching: jobs sharing a 70-token prefix (4 full blocks) run through the scheduler with
// the cache on and off. Outputs are identical — and equal to each job alone — while the cache
// serves the shared blocks to every job admitted after the first ones stored them.
// With per-token numerics (fp16_prompts) only prompt blocks are published and attached.
void expect_shared_prefixes_reused(std::unique_ptr<Llm> llm) {
  ASSERT_NE(llm, nullptr);
  std::vector<Req> jobs = make_jobs(12, llm->hparams().n_vocab, 16, 20);
  std::vector<std::int32_t> prefix;
  for (int t = 0; t < 70; ++t) prefix.push_back((t * 131 + 7) % llm->hparams().n_vocab);
  for (Req& j : jobs) j.prompt.insert(j.prompt.begin(), prefix.begin(), prefix.end());
  SchedulerConfig cfg;
  cfg.max_running = 4;  // later jobs are admitted after earlier ones stored the prefix
  cfg.max_step_tokens = 48;
  std::map<JobId, Output> outs[2];
  SchedulerStats stats[2];
  for (int k = 0; k < 2; ++k) {
    cfg.prefix_cache = k == 0;
    auto sched = Scheduler::create(*llm, cfg);
    ASSERT_TRUE(sched.ok()) << sched.error().message;
    for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
    outs[k] = run_all(**sched, jobs.size());
    stats[k] = (*sched)->stats();
  }
  for (const auto& j : jobs) {
    EXPECT_EQ(outs[0][j.id].tokens, outs[1][j.id].tokens) << "job " << j.id;
    EXPECT_EQ(outs[0][j.id].logprobs, outs[1][j.id].logprobs) << "job " << j.id;
    const Output alone = generate_alone(*llm, j);
    EXPECT_EQ(outs[0][j.id].tokens, alone.tokens) << "job " << j.id;
    EXPECT_EQ(outs[0][j.id].logprobs, alone.logprobs) << "job " << j.id;
  }
  EXPECT_GE(stats[0].tokens_reused, 8u * 64u) << "jobs 5..12 should each reuse the 4 shared blocks";
  EXPECT_EQ(stats[1].tokens_reused, 0u);
  EXPECT_LT(stats[0].tokens_prefilled, stats[1].tokens_prefilled);
  std::printf("prefix cache: %llu prompt tokens reused; %llu vs %llu tokens fed to the model\n",
              static_cast<unsigned long long>(stats[0].tokens_reused),
              static_cast<unsigned long long>(stats[0].tokens_prefilled),
              static_cast<unsigned long long>(stats[1].tokens_prefilled));
}

TEST_F(TinyModel, SharedPrefixesComeFromTheCacheWithUnchangedOutputs) {
  expect_shared_prefixes_reused(load(0));
}

TEST_F(TinyModel, SharedPrefixesComeFromTheCacheWithFp16Prompts) {
  expect_shared_prefixes_reused(load(0, /*fp16_prompts=*/true));
}

TEST_F(TinyModel, PreemptionUnderASmallKvPoolKeepsOutputs) {
  // 2 layers × 128 KV floats × 2 (K, V) × 4 bytes = 2 KiB per token; 20 blocks of 16 tokens.
  auto llm = load(20 * 16 * 2048);
  ASSERT_NE(llm, nullptr);
  ASSERT_EQ(llm->kv_blocks(), 20);
  expect_32_jobs_as_alone(std::move(llm), 48, true);
}

// Per-token numerics: a preempted job recomputes its prompt as prompt tokens and its output
// as generated ones (a chunk never mixes them), so it continues exactly as it would have.
TEST_F(TinyModel, PreemptionKeepsOutputsWithFp16Prompts) {
  expect_32_jobs_as_alone(load(20 * 16 * 2048, /*fp16_prompts=*/true), 48, true);
}

// The scheduler owns the KV pool and plans every step before the forward pass: an Llm that
// checks each planned batch sees only steps whose block tables hold every position they
// store, block ids inside the pool, and no block written by one sequence while another
// sequence's table holds it. It never refuses a batch for lack of KV memory (it has no way
// to: the Llm allocates nothing), yet the pool is small enough to force preemption, and with
// the prefix cache on, shared blocks are only ever read.
class PlanCheckingLlm final : public ForwardingLlm {
 public:
  explicit PlanCheckingLlm(Llm& inner) : ForwardingLlm(inner) {}

  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqStep> steps) override {
    check(steps);
    return inner_.forward_batch(steps);
  }
  Result<std::vector<StepSample>> forward_sample(
      std::span<const SeqStep> steps, std::span<const sample::SampleRequest> requests) override {
    check(steps);
    return inner_.forward_sample(steps, requests);
  }

  int batches = 0;

 private:
  void check(std::span<const SeqStep> steps) {
    ++batches;
    const std::int32_t bs = kv_block_size();
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const SeqStep& st = steps[i];
      const auto n = static_cast<std::int32_t>(st.tokens.size());
      EXPECT_GE(n, 1);
      EXPECT_LE(st.n_past + n, options().n_ctx);
      EXPECT_GE(static_cast<std::int64_t>(st.block_table.size()) * bs, st.n_past + n)
          << "table too short";
      for (std::int32_t b : st.block_table) {
        EXPECT_TRUE(b >= 0 && b < kv_blocks()) << "block " << b << " outside the pool";
      }
      for (std::int32_t pos = st.n_past; pos < st.n_past + n; pos += 1) {
        const std::int32_t written = st.block_table[static_cast<std::size_t>(pos / bs)];
        for (std::size_t k = 0; k < steps.size(); ++k) {
          if (k == i) continue;
          for (std::int32_t b : steps[k].block_table) {
            EXPECT_NE(b, written) << "block " << b << " written by one sequence, held by another";
          }
        }
      }
    }
  }
};

TEST_F(TinyModel, PlannedBatchesAlwaysFitTheKvPool) {
  auto llm = load(20 * 16 * 2048);  // 20 blocks of 16 tokens: preemption is forced
  ASSERT_NE(llm, nullptr);
  PlanCheckingLlm checked(*llm);
  auto jobs = make_jobs(16, llm->hparams().n_vocab, 24, 120);
  std::vector<std::int32_t> prefix;  // shared by half the jobs: the prefix cache serves it
  for (int t = 0; t < 40; ++t) prefix.push_back((t * 53 + 3) % llm->hparams().n_vocab);
  for (std::size_t i = 0; i < jobs.size(); i += 2)
    jobs[i].prompt.insert(jobs[i].prompt.begin(), prefix.begin(), prefix.end());
  SchedulerConfig cfg;
  cfg.max_running = 16;
  cfg.max_step_tokens = 48;
  cfg.prefix_cache = true;
  auto sched = Scheduler::create(checked, cfg);
  ASSERT_TRUE(sched.ok()) << sched.error().message;
  for (const auto& j : jobs) ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  auto outs = run_all(**sched, jobs.size());
  for (const auto& [id, o] : outs) EXPECT_FALSE(o.error) << "job " << id;
  const SchedulerStats st = (*sched)->stats();
  EXPECT_GT(st.preemptions, 0u) << "the small pool should have forced preemption";
  EXPECT_GT(st.tokens_reused, 0u) << "the shared prefix should have come from the cache";
  EXPECT_EQ(static_cast<std::uint64_t>(checked.batches), st.steps);
}

TEST_F(TinyModel, PriorityThenFifoAdmission) {
  auto llm = load();
  ASSERT_NE(llm, nullptr);
  auto sched = Scheduler::create(*llm, TinyModel::one_at_a_time());
  ASSERT_TRUE(sched.ok());
  const std::vector<std::pair<JobId, std::int32_t>> order_in = {
      {1, 0}, {2, 5}, {3, 0}, {4, 5}, {5, -3}};
  for (auto [id, prio] : order_in) {
    Req j;
    j.id = id;
    j.prompt = {1, 2, 3};
    j.priority = prio;
    j.params.max_tokens = 2;
    j.params.ignore_eos = true;
    j.params.sampling.temperature = 0.0f;
    ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  }
  std::vector<JobId> first_token_order;
  std::map<JobId, int> terminals;
  while (!(*sched)->idle()) {
    for (const JobEvent& ev : (*sched)->step()) {
      if (!ev.tokens.empty() && std::find(first_token_order.begin(), first_token_order.end(),
                                          ev.id) == first_token_order.end()) {
        first_token_order.push_back(ev.id);
      }
      if (ev.terminal()) ++terminals[ev.id];
    }
  }
  EXPECT_EQ(first_token_order, (std::vector<JobId>{2, 4, 1, 3, 5}));
  for (auto [id, prio] : order_in) EXPECT_EQ(terminals[id], 1) << id;
}

TEST_F(TinyModel, DeadlinesInQueueAndWhileRunning) {
  auto llm = load();
  ASSERT_NE(llm, nullptr);
  auto sched = Scheduler::create(*llm, TinyModel::one_at_a_time());
  ASSERT_TRUE(sched.ok());
  const auto t0 = Clock::now();
  Req a;  // runs, then expires mid-generation
  a.id = 1;
  a.prompt = {5, 6, 7};
  a.params.max_tokens = 1000;
  a.params.ignore_eos = true;
  a.deadline = t0 + std::chrono::hours(1);
  Req b = a;  // never admitted (max_running 1), expires in the queue
  b.id = 2;
  ASSERT_TRUE((*sched)->add(spec(a, (*sched)->limits())).ok());
  ASSERT_TRUE((*sched)->add(spec(b, (*sched)->limits())).ok());
  std::map<JobId, std::vector<JobEvent>> evs;
  for (int s = 0; s < 3; ++s) {
    for (auto& e : (*sched)->step(t0)) evs[e.id].push_back(std::move(e));
  }
  EXPECT_EQ(evs[1].size(), 3u);  // one token per step
  EXPECT_TRUE(evs[2].empty());
  for (auto& e : (*sched)->step(t0 + std::chrono::hours(2))) evs[e.id].push_back(std::move(e));
  ASSERT_FALSE(evs[1].empty());
  ASSERT_EQ(evs[2].size(), 1u);
  EXPECT_EQ(evs[1].back().finish, FinishReason::kDeadline);
  EXPECT_TRUE(evs[1].back().started);
  EXPECT_EQ(evs[1].back().completion_tokens, 3);
  EXPECT_EQ(evs[2].back().finish, FinishReason::kDeadline);
  EXPECT_FALSE(evs[2].back().started);
  EXPECT_TRUE((*sched)->idle());
  EXPECT_EQ((*sched)->stats().kv_used_blocks, 0);
}

TEST_F(TinyModel, CancelFreesBlocksAndIsIdempotent) {
  auto llm = load();
  ASSERT_NE(llm, nullptr);
  auto sched = Scheduler::create(*llm, SchedulerConfig{});
  ASSERT_TRUE(sched.ok());
  Req j;
  j.id = 9;
  j.prompt.assign(40, 17);
  j.params.max_tokens = 100;
  j.params.ignore_eos = true;
  ASSERT_TRUE((*sched)->add(spec(j, (*sched)->limits())).ok());
  (void)(*sched)->step();
  (void)(*sched)->step();
  EXPECT_GT((*sched)->stats().kv_used_blocks, 0);
  auto ev = (*sched)->cancel(9);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->finish, FinishReason::kCancelled);
  EXPECT_TRUE(ev->terminal());
  EXPECT_EQ(ev->completion_tokens, 2);
  EXPECT_EQ((*sched)->stats().kv_used_blocks, 0);
  EXPECT_FALSE((*sched)->cancel(9).has_value());
  EXPECT_FALSE((*sched)->cancel(12345).has_value());
  EXPECT_TRUE((*sched)->idle());
}

// The boundary: JobSpec::check is where a job's contents are checked, once, with a typed
// error naming the field; the scheduler then only refuses an id that is already live.
TEST_F(TinyModel, JobSpecCheckIsTheBoundary) {
  auto llm = load();
  ASSERT_NE(llm, nullptr);
  auto sched = Scheduler::create(*llm, SchedulerConfig{});
  ASSERT_TRUE(sched.ok());
  const JobLimits lim = (*sched)->limits();
  EXPECT_EQ(lim.n_vocab, llm->hparams().n_vocab);
  EXPECT_EQ(lim.n_ctx, llm->options().n_ctx);
  GenerationParams params;
  auto ok = JobSpec::check({1}, params, lim);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  ok->id = 1;
  ASSERT_TRUE((*sched)->add(*ok).ok());
  auto dup = (*sched)->add(*ok);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(dup.error().message.find("already live"), std::string::npos) << dup.error().message;

  auto empty = JobSpec::check({}, params, lim);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(empty.error().message, "prompt: is empty");
  auto oov = JobSpec::check({1, lim.n_vocab}, params, lim);
  ASSERT_FALSE(oov.ok());
  EXPECT_EQ(oov.error().code, ErrorCode::kInvalidRequest);
  EXPECT_EQ(oov.error().message.rfind("prompt[1]: token id " + std::to_string(lim.n_vocab), 0), 0u)
      << oov.error().message;
  auto negative = JobSpec::check({-1}, params, lim);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, ErrorCode::kInvalidRequest);
  auto too_long = JobSpec::check(std::vector<std::int32_t>(static_cast<std::size_t>(lim.n_ctx), 1),
                                 params, lim);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::kPromptTooLong);
  EXPECT_TRUE(JobSpec::check(std::vector<std::int32_t>(static_cast<std::size_t>(lim.n_ctx) - 1, 1),
                             params, lim)
                  .ok())
      << "a prompt that leaves one token of context is accepted";

  GenerationParams bad = params;
  bad.max_tokens = 0;
  auto p = JobSpec::check({1}, bad, lim);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(p.error().message, "max_tokens must be ≥ 1, got 0");
  bad = params;
  bad.stop_token_ids = {lim.n_vocab};
  p = JobSpec::check({1}, bad, lim);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(p.error().message.rfind("stop_token_ids[0]", 0), 0u) << p.error().message;
  bad = params;
  bad.sampling.logit_bias = {{lim.n_vocab, 1.0f}};  // vocabulary-dependent sampling value
  p = JobSpec::check({1}, bad, lim);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(p.error().message.find("logit_bias[0]"), std::string::npos) << p.error().message;
  bad = params;
  bad.sampling.top_p = 1.5f;
  p = JobSpec::check({1}, bad, lim);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "top_p must be in (0, 1], got 1.5");

  SchedulerConfig too_many;
  too_many.max_running = llm->options().n_seq_max + 1;
  EXPECT_FALSE(Scheduler::create(*llm, too_many).ok());
}

TEST(SchedulerRealModel, SmolLm2JobsTogetherMatchEachAlone) {
  ZINFER_REQUIRE_MODEL(path, "SmolLM2-135M-Instruct.Q4_1.gguf");
  LlmOptions opt = testing::llm_options(path, 512, 16);
  opt.n_threads = 2;
  auto llm = Llm::load(opt);
  ASSERT_TRUE(llm.ok()) << llm.error().message;
  auto jobs = make_jobs(12, (*llm)->hparams().n_vocab, 6, 30);
  SchedulerConfig cfg;
  cfg.max_running = 12;
  cfg.max_step_tokens = 32;
  expect_same_as_alone(**llm, jobs, cfg, /*expect_preemption=*/false);
}

}  // namespace
}  // namespace zinfer::sched
