// Scheduler: continuous batching over one Llm. Holds the jobs (waiting and running) and the
// KV cache's block allocator (engine/kv/) — the one owner of KV memory: it admits jobs by KV
// budget in priority-then-FIFO order, reserves each step's blocks (preempting instead of
// running out), reuses cached prefixes, and hands the planned batch (n_past + block tables)
// to ONE Llm::forward_sample per step over every running sequence (prompt chunks and decodes
// together). It enforces deadlines and reports per-job events. No threads, no sockets: the
// caller (the service's engine thread, a test, a benchmark) drives step().
//
// Policies:
//  - Admission: the waiting job at the head (priority desc, then add() order) starts when a
//    seq slot is free (max_running) and its known tokens + 1 fit the free KV blocks left after
//    what running jobs still need for their known tokens + 1. Nobody jumps a head that does not
//    fit (no starvation). max_tokens is not reserved up front (it would idle most of the
//    pool); growth past the pool is handled by preemption.
//  - Preemption: when a step's batch does not fit the pool, the lowest-ranked running job
//    (lowest priority, then youngest) loses its KV blocks and goes back to waiting; it later
//    recomputes prompt + generated tokens and continues with identical output. Blocks are
//    reserved before the forward pass, so the forward pass never runs out of KV memory.
//  - Prefix reuse (config.prefix_cache): an admitted job starts from the longest run of
//    cached full blocks its known tokens begin with; the blocks each step fills are published.
//  - Batch (the chunked-prefill token budget): every running decode (1 token each; decodes
//    are never cut by the budget), then prompt chunks in rank order filling what is left of
//    max_step_tokens — but at least one KV block (16 tokens) of prompt per step, so prompts
//    advance even when the decodes alone exceed the budget. A chunk may end at any token; a
//    job samples in the step that feeds its last known token. One forward_sample per step
//    (sampling on the device with CUDA). The default budget (512) is not tuned on a GPU yet.
//  - Deadlines are checked at the start of every step, for waiting and running jobs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/error.h"
#include "engine/kv/kv_block_allocator.h"
#include "engine/model/llm.h"
#include "engine/sched/job_engine.h"
#include "engine/sched/job_spec.h"
#include "engine/sched/sequence.h"

namespace zinfer::sched {

struct SchedulerConfig {
  std::int32_t max_running = 16;        // concurrent sequences (1 ≤ · ≤ LlmOptions.n_seq_max)
  std::int32_t max_step_tokens = 1024;  // tokens per forward step: all decodes, then prompt chunks
  bool prefix_cache = true;             // reuse cached KV blocks of earlier jobs with the same
                                        // leading tokens (automatic prefix caching; verified on
                                        // the CPU and, 32/32, on an H200)
  bool warm_up = true;  // CUDA (Scheduler::load): before the first job, a prompt chunk of
                        // max_step_tokens and decode steps of 1 and max_running sequences
                        // load the kernels and capture the graphs (sched/warm_up.h); the CPU
                        // has nothing to warm
};

// kInvalidParameter naming the field when config does not fit the model's options.
Status validate(const SchedulerConfig& config, const LlmOptions& llm_options);

class Scheduler final : public JobEngine {
 public:
  // The Llm must outlive the scheduler; the scheduler is its only user while it lives (and
  // the only owner of its KV pool).
  static Result<std::unique_ptr<Scheduler>> create(Llm& llm, const SchedulerConfig& config);
  // Loads the model (with at least config.max_running sequences) and a scheduler that owns it:
  // the worker's engine. Errors are the engine's (MODEL_LOAD_FAILED, INVALID_DEVICE,
  // INVALID_PARAMETER naming the option, ...).
  static Result<std::unique_ptr<Scheduler>> load(const LlmOptions& llm_options,
                                                 const SchedulerConfig& config);
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // What a job must be checked against (JobSpec::check) before add().
  JobLimits limits() const;
  // Queues a job; its contents were checked against limits(). kInvalidParameter only for an
  // id that is already live.
  Status add(JobSpec spec) override;
  // Ends a live job now with `reason` (kCancelled, kDeadline, ...), frees its KV blocks and
  // returns its terminal event (held-back text included); nullopt if the id is not live.
  std::optional<JobEvent> cancel(JobId id, FinishReason reason = FinishReason::kCancelled) override;
  // One engine step: expire deadlines, admit, build the batch, one forward_sample.
  // Returns at most one event per job: those that gained tokens or ended.
  std::vector<JobEvent> step(Clock::time_point now = Clock::now()) override;

  // The model's facts (name, architecture, device, capacity = max_running, tokenizer).
  const EngineInfo& info() const override { return info_; }
  bool idle() const override { return jobs_.empty(); }
  std::optional<Clock::time_point> next_deadline() const;
  std::vector<JobId> waiting_ids() const;
  std::vector<JobId> running_ids() const;
  // waiting_ids() then running_ids().
  std::vector<JobId> live_ids() const override;
  SchedulerStats stats() const override;
  const SchedulerConfig& config() const { return cfg_; }

 private:
  struct Job;
  Scheduler(Llm& llm, const SchedulerConfig& config);

  std::int32_t reserved_blocks() const;
  void admit(Clock::time_point now);
  void preempt(Job& job);
  void enqueue_waiting(Job* job);
  void release(Job& job);
  JobEvent terminal_event(Job& job, StepOutput out, Clock::time_point now);
  JobEvent error_event(Job& job, Error error, Clock::time_point now);
  void erase(JobId id);

  std::unique_ptr<Llm> owned_llm_;  // set by load(); declared first so it outlives the rest
  Llm& llm_;
  SchedulerConfig cfg_;
  // LlmOptions::fp16_prompts: a chunk holds one kind of token, generated rows go first, and
  // only prompt blocks are published to (and attached from) the prefix cache.
  bool per_token_ = false;
  EngineInfo info_;
  kv::KvBlockAllocator kv_;  // the KV pool's blocks: which job's positions live where
  std::unordered_map<JobId, std::unique_ptr<Job>> jobs_;
  std::vector<Job*> waiting_;             // sorted: priority desc, then add() order
  std::vector<Job*> running_;             // admission order
  std::vector<std::int32_t> free_slots_;  // seq_ids not held by a running job
  std::uint64_t next_order_ = 0;
  SchedulerStats counters_;
};

}  // namespace zinfer::sched
