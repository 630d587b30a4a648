// StepGraphs: CUDA graphs of whole decode steps, one per step shape, so a step costs one
// graph launch instead of a few hundred kernel launches.
//
// A step's shape — rows, logit rows, block-table width (StepInputs), the logits buffer and
// the StepInputs generation — fixes every kernel's arguments: the scratch arena hands out
// the same addresses for the same sequence of allocations, and everything that changes from
// step to step (tokens, positions, KV slots, block tables) is read from the StepInputs
// buffer, whose copy from pinned memory is the graph's first node. The first step of a
// shape runs eagerly (it grows the arena and any lazily made buffers; capture forbids
// allocation), the second is captured and launched, later ones only launch. A shape whose
// capture fails runs eagerly from then on.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>

#include "engine/core/error.h"
#include "kernels/cuda_handles.h"

namespace zinfer::cuda {

struct StepShape {
  std::int64_t rows = 0;
  std::int64_t logit_rows = 0;
  std::int32_t table_width = 0;
  const void* logits = nullptr;
  std::uint64_t inputs_generation = 0;
  auto tie() const { return std::tie(rows, logit_rows, table_width, logits, inputs_generation); }
  bool operator<(const StepShape& o) const { return tie() < o.tie(); }
};

class StepGraphs {
 public:
  // Runs one step of `shape` on `stream`: `record` queues the whole step (the inputs' copy
  // and every kernel); it is called directly (eager) or under stream capture.
  // `capturing(true/false)` brackets a capture (the ops refuse per-step uploads inside it).
  Status run(const StepShape& shape, cudaStream_t stream, const std::function<Status()>& record,
             const std::function<void(bool)>& capturing);
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }
  // Steps replayed from a graph / captured, for tests and stats.
  std::uint64_t replays() const { return replays_; }
  std::uint64_t captures() const { return captures_; }

 private:
  struct Entry {
    int seen = 0;
    bool failed = false;
    GraphPtr graph;
    GraphExecPtr exec;
  };
  std::map<StepShape, Entry> entries_;
  std::uint64_t replays_ = 0;
  std::uint64_t captures_ = 0;
};

}  // namespace zinfer::cuda
