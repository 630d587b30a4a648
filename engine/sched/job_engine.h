// JobEngine: what the worker's engine thread drives — jobs in, per-step events out. The
// Scheduler is the production implementation (it implements this interface directly); the
// interface exists so the service layer can run without a model (zinfer bench --service's
// stub, the worker tests' scripted and paced engines, serve's stall hook).
// Every method except info() is called from the engine thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/sched/job_spec.h"
#include "engine/sched/sequence.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::sched {

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

struct JobTimings {
  double queue_ms = 0.0;      // arrival → first admitted
  double ttft_ms = 0.0;       // arrival → first token
  double decode_ms = 0.0;     // first token → last token
  double tokens_per_s = 0.0;  // (completion tokens − 1) / decode time
};

// What one job gained in one step (or at cancel). At most one event per job per step.
struct JobEvent {
  JobId id = 0;
  std::vector<std::int32_t> tokens;           // tokens gained
  std::string text;                           // complete UTF-8 released (stop strings held back)
  std::string reasoning;                      // harmony_channels jobs: analysis text released
  std::vector<sample::SampleResult> samples;  // per token: logprob and top logprobs
  FinishReason finish = FinishReason::kNone;  // set on the terminal event of a normal end
  std::optional<Error> error;                 // set on the terminal event of a failed job
  bool started = false;  // the job was admitted at least once (false: it ended while waiting)
  // Filled on terminal events:
  std::int32_t prompt_tokens = 0;
  std::int32_t completion_tokens = 0;
  std::int32_t preemptions = 0;
  JobTimings timings;

  bool terminal() const { return finish != FinishReason::kNone || error.has_value(); }
};

// The engine's numbers: the one stats struct, from the scheduler to the worker's health and
// stats replies and the metrics endpoint.
struct SchedulerStats {
  std::int32_t waiting = 0;
  std::int32_t running = 0;
  std::int32_t kv_used_blocks = 0;
  std::int32_t kv_total_blocks = 0;
  std::uint64_t steps = 0;             // forward passes run
  std::uint64_t tokens_generated = 0;  // sampled tokens
  std::uint64_t tokens_prefilled = 0;  // tokens fed to the model (prompts, recomputes, decodes)
  std::uint64_t tokens_reused = 0;     // known tokens taken from the prefix cache instead
  std::uint64_t preemptions = 0;
};

class JobEngine {
 public:
  virtual ~JobEngine() = default;
  virtual const EngineInfo& info() const = 0;
  // Queues a job (the id is the worker's job handle). Errors name the offending field.
  virtual Status add(JobSpec spec) = 0;
  // Ends a live job now; nullopt when the id is not live.
  virtual std::optional<JobEvent> cancel(JobId id, FinishReason reason) = 0;
  // One step; at most one event per job.
  virtual std::vector<JobEvent> step(Clock::time_point now) = 0;
  virtual bool idle() const = 0;
  // Every live job, waiting ones first (the drain timeout ends them all).
  virtual std::vector<JobId> live_ids() const = 0;
  virtual SchedulerStats stats() const = 0;
};

}  // namespace zinfer::sched
