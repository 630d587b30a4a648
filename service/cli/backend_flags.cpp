// The backend flags of generate, serve and bench (see backend_flags.h).
#include "service/cli/backend_flags.h"

namespace zinfer::cli {

void add_backend_flags(CLI::App* sub, LlmOptions& llm) {
  // The default numerics: exact float dot products on the CPU (the oracle); on CUDA per-token
  // numerics — prompt tokens with fp16 operands, generated tokens with 16-bit activation quants
  // (LlmOptions::fp16_prompts_on_cuda over q16_on_cuda; MoE models keep Q16). Measured on an H200
  // (2026-12-07, one run): prefill 1.12x (0.5B shape) and 1.68x (7B) the Q16 default's, decode the
  // same.
  llm.q16_on_cuda = true;
  llm.fp16_prompts_on_cuda = true;
  auto* q8 = sub->add_flag(
      "--q8-act{false}", llm.exact_matmul,
      "Quantize activations to Q8 and use integer dot products, as llama.cpp does (CPU; CUDA for "
      "Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K weights)");
  auto* q16 = sub->add_flag(
      "--q16-act", llm.q16_act,
      "16-bit activation quants for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K weights for every "
      "token, prompt tokens too (CUDA: integer dot products; the CPU rounds the activations to "
      "the same grid)");
  auto* fp16 = sub->add_flag(
      "--fp16", llm.fp16_matmul,
      "fp16 operands for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K weights: on CUDA the fp16 "
      "tensor-core tiles, on the CPU the operands rounded to fp16 (a measurement mode: 99.84% of "
      "the golden steps agree with transformers)");
  fp16->excludes(q8)->excludes(q16);
  auto* prompts = sub->add_flag(
      "--fp16-prompts", llm.fp16_prompts,
      "Per-token numerics: prompt tokens with fp16 operands (on CUDA the fp16 tensor-core "
      "tiles: the fast prompt path), generated tokens with 16-bit activation quants (the fast "
      "decode path); a token's numerics depend only on its kind, never on its batch. The "
      "default on CUDA; the CPU rounds the same way when asked");
  prompts->excludes(q8)->excludes(q16)->excludes(fp16);
  sub->add_flag("--exact{false}", llm.q16_on_cuda,
                "Exact float dot products on CUDA too (the CPU's numerics: slower, logits within "
                "2e-3 of transformers' where Q16 moves them by up to ~1e-2)")
      ->excludes(q8)
      ->excludes(q16)
      ->excludes(fp16)
      ->excludes(prompts);
  // The tensor-core order is the default on CUDA since the real-model goldens passed with it
  // on a GPU (an H100, 2026-12-06) and it measured faster at every batch size.
  llm.tensor_cores = true;
  sub->add_flag("--tensor-cores,!--no-tensor-cores", llm.tensor_cores,
                "CUDA, with Q8/Q16 activations: every integer matmul in the tensor-core order "
                "(mma.sync tiles for batches above 4 rows and prompts, dp4a kernels in the same "
                "order below; batch-invariant). The default; --no-tensor-cores takes the "
                "matvec kernels");
  sub->add_flag("--fast-prefill{false}", llm.batch_invariant,
                "CUDA: cuBLAS for prompt-sized matmuls (faster prefill; a job's tokens may then "
                "depend on its batch-mates at float-rounding level)");
  sub->add_flag(
      "--no-graphs{false}", llm.cuda_graphs,
      "CUDA: launch every kernel of a decode step eagerly instead of replaying a captured graph");
  sub->add_flag("--pad-decode", llm.pad_decode_rows,
                "Pad decode steps with dummy sequences to 1, 2, 4, 8, 16, 32 or a multiple of 32 "
                "rows, so CUDA graphs of those sizes replay as jobs finish (same tokens; a "
                "measurement switch until measured)");
  sub->add_flag("--no-gpu-sampling{false}", llm.gpu_sampling,
                "CUDA: copy the logits to the host and sample there instead of on the device "
                "(debugging)");
}

}  // namespace zinfer::cli
