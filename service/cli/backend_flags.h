// The flags that choose how the backend computes (LlmOptions: activation quantization, the
// CUDA paths), shared by every command that loads a model on a device: generate, serve, bench.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/model/llm.h"

namespace zinfer::cli {

// --q8-act, --q16-act, --fp16, --fp16-prompts, --exact, --tensor-cores, --fast-prefill,
// --no-graphs, --pad-decode, --no-gpu-sampling; sets the default numerics
// (LlmOptions::fp16_prompts_on_cuda over q16_on_cuda: per-token numerics on CUDA, exact on the
// CPU).
void add_backend_flags(CLI::App* sub, LlmOptions& llm);

}  // namespace zinfer::cli
