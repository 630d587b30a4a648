// Warm-up: forward passes run once after a model loads, before any job, and thrown away. On
// CUDA the first launch of each kernel loads its module (lazy loading), buffers sized by the
// step grow on first use, and a decode shape's graph is captured on its second step: without
// a warm-up the worker's first jobs pay for all of it (a 512-token prompt took ~3x its warm
// time on an H200). The passes go through a SequenceRunner of their own, so no KV block,
// prefix-cache entry or sequence survives them; the KV pool's contents are overwritten by the
// jobs that later hold its blocks, and every kernel computes a row the same way whatever ran
// before, so jobs after a warm-up get the same tokens as without it.
#pragma once

#include <cstdint>

#include "engine/core/error.h"
#include "engine/model/llm.h"

namespace zinfer::sched {

struct WarmUpPlan {
  std::int32_t prompt_tokens = 512;  // one prompt chunk of this many tokens (capped by the
                                     // context and the KV pool)
  std::int32_t batch = 1;            // then decode steps of 1 and of `batch` sequences (capped
                                     // by n_seq_max and the KV pool)
  std::int32_t decode_steps = 3;     // decode steps a batch size: the second captures its graph
};

// What a warm-up ran, for the start-up log.
struct WarmUpReport {
  std::int32_t prompt_tokens = 0;
  std::int32_t batch = 0;
  double ms = 0.0;
};

// Whether a warm-up does anything for `llm`: its backend loads kernels and captures graphs
// lazily (CUDA); the CPU has nothing to warm.
bool warm_up_helps(const Llm& llm);

// Runs the plan on `llm`, which must have no other KV owner (no Scheduler) while it runs.
// Errors are the forward pass's (a device error the first job would have met too).
Result<WarmUpReport> warm_up(Llm& llm, const WarmUpPlan& plan);

}  // namespace zinfer::sched
