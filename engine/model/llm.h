// Llm: a loaded model (weights + tokenizer + architecture) on a backend, with a simple
// per-sequence forward API used by the CLI, the tests and the scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/model/device_report.h"
#include "engine/model/hparams.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer {

struct LlmOptions {
  std::string model_path;       // GGUF file
  std::string device = "cpu";   // "cpu", "cuda", "cuda:N" (builds with the CUDA backend) or
                                // "auto" (cuda:0 when a CUDA device is visible, else cpu)
  int n_threads = 0;            // 0 → hardware concurrency
  bool exact_matmul = true;     // CPU: float dot products against dequantized weights (the oracle);
                                // false → llama.cpp-style Q8 activations (faster, noisier)
  std::int32_t n_ctx = 4096;    // max tokens per sequence (≤ model context length)
  std::int32_t n_seq_max = 64;  // sequences that can hold KV cache at once
  bool prefix_cache = false;    // reuse_prefix() may attach cached KV blocks of earlier
                                // sequences with the same leading tokens (off by default
                                // until it has run on a GPU; CPU-verified)
  bool batch_invariant = true;  // CUDA: every matmul row reduced in the same order whatever the
                                // batch, so a job's tokens never depend on its batch-mates;
                                // false → prompt-sized batches use cuBLAS (faster prefill)
  std::string tokenizer_pre;     // replaces the file's tokenizer.ggml.pre (experts: a wrong
                                // pre-tokenizer silently changes token ids); "" → the file's
  std::int64_t kv_cache_bytes = 0;  // KV pool size; 0 → CPU: enough for n_ctx × min(n_seq_max, 4), ≤ 1 GiB;
                                    // CUDA: 90% of the VRAM left after weights, ≤ n_ctx × n_seq_max
};

// One sequence's share of a batched forward step.
struct SeqInput {
  std::int32_t seq_id = 0;
  std::span<const std::int32_t> tokens;  // appended after the sequence's cached tokens
  bool all_logits = false;               // logits for every token, else only the last
};

class Llm {
 public:
  virtual ~Llm() = default;
  static Result<std::unique_ptr<Llm>> load(const LlmOptions& options);

  virtual const tok::Tokenizer& tokenizer() const = 0;
  virtual const model::Hparams& hparams() const = 0;

  // Appends tokens to sequence seq_id (0 ≤ seq_id < n_seq_max) and returns logits:
  // [tokens.size()][n_vocab] row-major when all_logits, else [n_vocab] for the last token.
  virtual Result<std::vector<float>> forward(std::int32_t seq_id, std::span<const std::int32_t> tokens,
                                             bool all_logits) = 0;
  // One forward pass over several sequences (continuous batching). Returns, per input, the
  // logits as forward() would. kOutOfMemory when the KV pool cannot hold the new tokens
  // (nothing is changed then).
  virtual Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqInput> inputs) = 0;
  // Forgets the sequence's KV cache.
  virtual void reset(std::int32_t seq_id) = 0;
  // Prefix caching: for an empty sequence, attaches the KV of the longest run of whole cached
  // blocks that `tokens` starts with (never all of them: the last token is always computed,
  // so its logits exist) and returns how many tokens are now cached; the caller then feeds
  // tokens from that index on. 0 when prefix_cache is off or nothing matches. Outputs are
  // bitwise the same as recomputing (kv_block_allocator.h explains why).
  virtual std::int32_t reuse_prefix(std::int32_t seq_id, std::span<const std::int32_t> tokens) = 0;
  // Tokens cached for the sequence.
  virtual std::int32_t seq_length(std::int32_t seq_id) const = 0;
  // KV blocks free / total, for admission and stats.
  virtual std::int32_t kv_free_blocks() const = 0;
  virtual std::int32_t kv_total_blocks() const = 0;
  virtual std::int32_t kv_block_size() const = 0;
  virtual const LlmOptions& options() const = 0;
  // The device, the memory held on it and whether its residency was verified at load (CUDA).
  virtual model::DeviceReport device_report() const = 0;
};

}  // namespace zinfer
