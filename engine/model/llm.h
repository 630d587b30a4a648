// Llm: a loaded model (weights + tokenizer + architecture) on a backend. It executes planned
// forward passes: the caller (the scheduler, or SequenceRunner for one-off sequences) owns the
// KV block allocator (engine/kv/) and says, per sequence, how many tokens its KV cache holds
// and in which blocks; the Llm never decides who gets KV memory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/device_report.h"
#include "engine/core/error.h"
#include "engine/model/hparams.h"
#include "engine/sample/sample_request.h"
#include "engine/sample/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer {

struct LlmOptions {
  std::string model_path;       // GGUF file
  std::string device = "cpu";   // "cpu", "cuda", "cuda:N" (builds with the CUDA backend) or
                                // "auto" (cuda:0 when a CUDA device is visible, else cpu)
  int n_threads = 0;            // 0 → hardware concurrency
  bool exact_matmul = true;     // float dot products against dequantized weights (the oracle);
                                // false → llama.cpp-style Q8 activations and integer dot
                                // products, on the CPU and (types with a Q8 kernel) CUDA
  std::int32_t n_ctx = 4096;    // max tokens per sequence (≤ model context length)
  std::int32_t n_seq_max = 64;  // sequences that can hold KV cache at once
  bool batch_invariant = true;  // CUDA: every matmul row reduced in the same order whatever the
                                // batch, so a job's tokens never depend on its batch-mates;
                                // false → prompt-sized batches use cuBLAS (faster prefill)
  bool cuda_graphs = true;      // CUDA: decode steps (one token per sequence) are captured as
                                // CUDA graphs and replayed; false → every kernel launched
                                // eagerly (debugging, profiling single kernels)
  bool gpu_sampling = true;     // CUDA: forward_sample samples on the device and copies back
                                // only the tokens and logprobs; false → the logits come to the
                                // host and the host Sampler runs (debugging)
  bool q16_act = false;         // matmuls of Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K weights on
                                // 16-bit activation quants (engine/quant/q16.h): CUDA takes
                                // integer dot products, the CPU rounds the activations to the
                                // same grid and keeps its float dot products (the two agree to
                                // float rounding). exact_matmul = false (Q8) takes precedence
  bool fp16_matmul = false;     // a measurement mode: with exact_matmul, the operands of the
                                // same matmuls as q16_act in fp16 (activations with a power-of-
                                // two row scale, dequantized weights), fp32 sums — the CPU
                                // rounds them (engine/quant/f16_round.h) before its float dot
                                // products, CUDA runs the fp16 tensor-core tiles
                                // (kernels/f16_mma.h); overrides q16_act / q16_on_cuda
  bool fp16_prompts = false;    // per-token numerics (with exact_matmul; sets q16_act): the
                                // matmuls fp16_matmul covers take a prompt token's row with
                                // fp16 operands (the fast prompt path) and a generated token's
                                // (SeqStep::generated) with Q16 activations (the fast decode
                                // path). A token's numerics depend on its kind only, never on
                                // the batch: invariance holds per token. CUDA: the fp16 tiles
                                // and the Q16 kernels; the CPU rounds the same way
  bool fp16_prompts_on_cuda = false;  // fp16_prompts when the device resolves to CUDA, no
                                      // numerics was asked for (q16_on_cuda set, exact_matmul,
                                      // neither q16_act nor fp16_matmul) and the model has no
                                      // MoE experts (those keep Q16); the CPU stays exact
  bool q16_on_cuda = false;      // q16_act when the device resolves to CUDA (and exact_matmul is
                                 // set): the CLI's default since Q16 meets the agreement rule
                                 // (tests/engine/model/hf_golden_test.cpp); --exact turns it
                                 // off. The CPU stays exact
  bool tensor_cores = false;     // CUDA, with Q8 or Q16 activations: every integer matmul on
                                 // the tensor-core tiles (kernels/q8_mma.h) at every batch size,
                                 // batch-invariant; also ZINFER_MMA=1 (a measurement switch
                                 // until it is measured faster than the matvec kernels)
  bool pad_decode_rows = false;  // decode steps padded with dummy sequences to a few row counts
                                 // (model/decode_rows.h) so the CUDA graphs of those counts
                                 // replay as the running set shrinks; one KV block is kept for
                                 // the dummies. The same tokens either way; opt-in until
                                 // measured on a GPU (CLI --pad-decode)
  std::string tokenizer_pre;     // replaces the file's tokenizer.ggml.pre (experts: a wrong
                                 // pre-tokenizer silently changes token ids); "" → the file's
  std::int64_t kv_cache_bytes =
      0;  // KV pool size; 0 → CPU: enough for n_ctx × min(n_seq_max, 4), ≤ 1 GiB;
          // CUDA: 90% of the VRAM left after weights, ≤ n_ctx × n_seq_max
};

// One sequence's share of a planned forward step. Its KV cache holds n_past tokens in the
// first blocks of block_table; the table already has room for the new tokens (the planner
// reserved it). Token ids were checked at the boundary (sched::JobSpec): < n_vocab.
struct SeqStep {
  std::span<const std::int32_t> tokens;  // [n] new tokens at positions [n_past, n_past + n), n ≥ 1
  std::int32_t n_past = 0;               // tokens already in the sequence's KV cache
  std::span<const std::int32_t> block_table;  // ≥ ceil((n_past + n) / kv_block_size()) block ids
  bool all_logits = false;                    // logits for every token, else only the last
  bool generated = false;  // the tokens were sampled by the engine (a decode, or a preempted
                           // job's output recomputed), not given in a prompt: with
                           // LlmOptions::fp16_prompts they take the generated tokens' numerics
};

// What forward_sample gives per step: the sampled token (or that job's own sampling error:
// NaN logits, an overflow after bias/penalties), or nothing when the step asked for no sample.
using StepSample = std::optional<Result<sample::SampleResult>>;

class Llm {
 public:
  virtual ~Llm() = default;
  static Result<std::unique_ptr<Llm>> load(const LlmOptions& options);

  virtual const tok::Tokenizer& tokenizer() const = 0;
  virtual const model::Hparams& hparams() const = 0;
  // The GGUF type names of the model's tensors, each once, sorted ({"F32", "Q4_K", "Q6_K"}):
  // read from the tensor table at load, so callers (health replies) never reopen the file.
  virtual const std::vector<std::string>& tensor_types() const = 0;

  // One forward pass over the planned steps of several sequences (continuous batching);
  // stores their new tokens' KV in the given blocks. Returns, per step, the logits:
  // [tokens.size()][n_vocab] row-major when all_logits, else [n_vocab] for the last token.
  // Preconditions (asserted): n ≥ 1, n_past + n ≤ n_ctx, tables long enough. Errors come
  // only from the device (kernel launch, transfer); the KV pool is never out of memory here.
  virtual Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqStep> steps) = 0;
  // The same forward pass, sampling instead of returning logits: requests[i] (one per step;
  // params == nullptr for a step that samples nothing, e.g. a prompt chunk) samples the
  // step's last token exactly as sample::sample_logits would from forward_batch's logits.
  // On the CUDA backend (gpu_sampling) only the results leave the device.
  virtual Result<std::vector<StepSample>> forward_sample(
      std::span<const SeqStep> steps, std::span<const sample::SampleRequest> requests) = 0;
  // The backend's KV pool: kv_blocks() blocks of kv_block_size() tokens, what the planner's
  // kv::KvBlockAllocator hands out.
  virtual std::int32_t kv_blocks() const = 0;
  virtual std::int32_t kv_block_size() const = 0;
  virtual const LlmOptions& options() const = 0;
  // The device, the memory held on it and whether its residency was verified at load (CUDA).
  virtual model::DeviceReport device_report() const = 0;
};

// An Llm that passes every call to `inner` (which must outlive it): the base of decorators
// that observe or check the forward passes (bench timings, test checks) and override those.
class ForwardingLlm : public Llm {
 public:
  explicit ForwardingLlm(Llm& inner) : inner_(inner) {}
  const tok::Tokenizer& tokenizer() const override { return inner_.tokenizer(); }
  const model::Hparams& hparams() const override { return inner_.hparams(); }
  const std::vector<std::string>& tensor_types() const override { return inner_.tensor_types(); }
  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqStep> steps) override {
    return inner_.forward_batch(steps);
  }
  Result<std::vector<StepSample>> forward_sample(
      std::span<const SeqStep> steps, std::span<const sample::SampleRequest> requests) override {
    return inner_.forward_sample(steps, requests);
  }
  std::int32_t kv_blocks() const override { return inner_.kv_blocks(); }
  std::int32_t kv_block_size() const override { return inner_.kv_block_size(); }
  const LlmOptions& options() const override { return inner_.options(); }
  model::DeviceReport device_report() const override { return inner_.device_report(); }

 protected:
  Llm& inner_;
};

}  // namespace zinfer
