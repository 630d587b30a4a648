// JobEngine: what the worker's engine thread drives — a scheduler of generation jobs behind
// an interface, so the service layer can be measured alone (zinfer bench --service plugs in a
// trivial engine) while production runs the real scheduler (scheduler_engine.h).
// Every method except info() is called from the engine thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/sched/scheduler.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::worker {

// Immutable facts about the loaded model; read by the I/O thread for validation and health.
struct EngineInfo {
  std::string model;                          // general.name or the file name
  std::string architecture;                   // general.architecture
  std::vector<std::string> quant_types;       // tensor types present, e.g. {"F32", "Q4_1", "Q8_0"}
  std::string device;                         // "cpu", "cuda:0"
  std::int32_t context_length = 0;            // n_ctx in use
  std::int32_t vocab_size = 0;                // valid token ids are [0, vocab_size)
  std::int32_t capacity = 0;                  // max concurrent sequences
  std::uint64_t device_bytes_used = 0;        // VRAM held (0 on CPU)
  bool vram_resident = false;                 // weights + KV cache verified as plain VRAM at load
  const tok::Tokenizer* tokenizer = nullptr;  // null: only prompt_tokens are accepted
};

class JobEngine {
 public:
  virtual ~JobEngine() = default;
  virtual const EngineInfo& info() const = 0;
  // Queues a job (the id is the worker's job handle). Errors name the offending field.
  virtual Status add(sched::JobSpec spec) = 0;
  // Ends a live job now; nullopt when the id is not live.
  virtual std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) = 0;
  // One step; at most one event per job.
  virtual std::vector<sched::JobEvent> step(sched::Clock::time_point now) = 0;
  virtual bool idle() const = 0;
  // Every live job, waiting ones first (the drain timeout ends them all).
  virtual std::vector<sched::JobId> live_ids() const = 0;
  virtual sched::SchedulerStats stats() const = 0;
};

}  // namespace zinfer::worker
