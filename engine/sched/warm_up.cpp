// warm_up (see warm_up.h).
#include "engine/sched/warm_up.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "engine/sample/sample_request.h"
#include "engine/sample/sampling_params.h"
#include "engine/sched/sequence_runner.h"

namespace zinfer::sched {
namespace {

// Token ids spread over the vocabulary; the values do not change what runs.
std::vector<std::int32_t> filler(std::int32_t n_vocab, std::int32_t n, std::int32_t salt) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(
        (static_cast<std::int64_t>(i) * 7919 + static_cast<std::int64_t>(salt) * 104729 + 11) %
        n_vocab);
  }
  return out;
}

// `batch` one-token sequences, then decode steps of one token each, sampled on the path jobs
// take (forward_sample): greedy in even sequences, temperature with top-k/top-p in odd ones
// (the sampler's other kernels).
Status decode_steps(Llm& llm, std::int32_t batch, std::int32_t steps) {
  SequenceRunner run(llm);
  const std::int32_t n_vocab = llm.hparams().n_vocab;
  sample::SamplingParams greedy;
  greedy.temperature = 0.0f;
  sample::SamplingParams random;
  random.temperature = 0.8f;
  random.top_k = 40;
  random.top_p = 0.9f;
  random.seed = 1;
  std::vector<std::vector<std::int32_t>> tokens(static_cast<std::size_t>(batch));
  std::vector<SeqInput> in(static_cast<std::size_t>(batch));
  std::vector<sample::SampleRequest> requests(static_cast<std::size_t>(batch));
  for (std::int32_t s = 0; s <= steps; ++s) {
    for (std::int32_t b = 0; b < batch; ++b) {
      const auto i = static_cast<std::size_t>(b);
      tokens[i] = filler(n_vocab, 1, s * batch + b);
      in[i] = SeqInput{b, tokens[i], false, /*generated=*/true};  // decode steps, graphed
      requests[i] = sample::SampleRequest{b % 2 == 0 ? &greedy : &random, tokens[i], s};
    }
    ZINFER_RETURN_IF_ERROR(run.forward_sample(in, requests));
  }
  return ok_status();
}

}  // namespace

bool warm_up_helps(const Llm& llm) { return llm.device_report().name.rfind("cuda", 0) == 0; }

Result<WarmUpReport> warm_up(Llm& llm, const WarmUpPlan& plan) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::int32_t block = llm.kv_block_size();
  const std::int32_t pool_tokens = llm.kv_blocks() * block;
  WarmUpReport report;
  // Leave a token of context and of pool for nothing in particular: a prompt that fills
  // either exactly is legal but needs no special case here.
  report.prompt_tokens =
      std::max(0, std::min({plan.prompt_tokens, llm.options().n_ctx - 1, pool_tokens - 1}));
  // A decode sequence of steps + 1 tokens holds ceil((steps + 1) / block) blocks.
  const std::int32_t per_seq = (plan.decode_steps + 1 + block - 1) / block;
  report.batch = std::max(
      0, std::min({plan.batch, llm.options().n_seq_max, llm.kv_blocks() / std::max(1, per_seq)}));
  if (report.prompt_tokens > 0) {
    SequenceRunner run(llm);
    const auto prompt = filler(llm.hparams().n_vocab, report.prompt_tokens, 1);
    ZINFER_RETURN_IF_ERROR(run.forward(0, prompt, false));
  }
  if (report.batch >= 1 && plan.decode_steps + 1 < llm.options().n_ctx) {
    ZINFER_RETURN_IF_ERROR(decode_steps(llm, 1, plan.decode_steps));
    if (report.batch > 1)
      ZINFER_RETURN_IF_ERROR(decode_steps(llm, report.batch, plan.decode_steps));
  }
  report.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace zinfer::sched
