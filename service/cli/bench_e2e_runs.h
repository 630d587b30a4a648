// The runs of `zinfer bench --e2e` (bench_e2e.h): the jobs, the engine alone on them (in
// this process) and DEALER clients driving them through a `zinfer serve`, each recording what
// every job's requester saw (tokens, when they arrived).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/model/llm.h"
#include "engine/sched/job_spec.h"
#include "service/cli/bench_e2e.h"

namespace zinfer::cli::e2e {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// CPU time of the calling thread (ms): host work without the time the thread was not running
// (a shared machine), which wall time would count.
double thread_cpu_ms();

struct JobPlan {
  std::string id;
  std::vector<std::int32_t> prompt;
  sched::GenerationParams params;
  std::string frame;  // the encoded submit
};

struct Workload {
  std::string name;  // "unique" or "shared"
  std::vector<JobPlan> jobs;
  JobPlan warmup;
};

// The jobs: unique prompts, or (shared) the same shared_prefix-token system prompt in front of
// each; plus the untimed warm-up job of that workload.
Workload make_workload(const E2eBenchArgs& a, std::int32_t n_vocab, bool shared);

struct JobRecord {
  Clock::time_point submitted{};
  std::optional<Clock::time_point> first, last;
  std::vector<double> gaps_ms;  // between successive frames that carried tokens
  std::vector<std::int32_t> tokens;
  std::int32_t usage_completion = -1;  // done.usage.completion_tokens
  double server_ttft_ms = -1.0;        // done.timings.ttft_ms
  int frames = 0;                      // token and done frames
  std::string finish;
  std::string error;
  bool ended = false;
};

struct RunRecords {
  std::vector<JobRecord> jobs;
  Clock::time_point start{}, end{};
  std::string failure;  // the run as a whole failed (no answer, a child that died)
};

struct EngineExtra {
  std::string device;
  std::uint64_t steps = 0;
  std::vector<double> step_ms;
  double forward_ms = 0.0;           // Σ over the timed steps
  std::vector<double> host_ms;       // per step: wall time minus the forward pass
  std::vector<double> host_ms_full;  // the same, decode steps of a full batch (max_running)
  std::vector<double> host_cpu_ms;   // per step: the engine thread's CPU time beside the forward
  std::vector<double> host_cpu_ms_full;
  std::vector<double> encode_cpu_ms;  // per step: encoding its events as token frames
  std::vector<double> encode_cpu_ms_full;
  std::uint64_t frame_bytes = 0;
  int max_running = 0;
  double decode_only_ms = 0.0;
  std::uint64_t decode_only_steps = 0, decode_only_tokens = 0;
  std::uint64_t prompt_tokens_cached = 0;
};

// The jobs of `w` through a Scheduler on the model `lo` in this process, after the warm-up
// job: what an engine alone does with them (no sockets, no threads besides the backend's).
Result<RunRecords> run_engine(const E2eBenchArgs& a, const LlmOptions& lo, const Workload& w,
                              int max_running, EngineExtra& extra);

// `clients` DEALER sockets (threads) submit the jobs, dealt round-robin, all at once, and read
// until every job has ended (or nothing arrives for timeout_s).
RunRecords run_clients(const std::string& endpoint, const std::vector<JobPlan>& plans, int clients,
                       double timeout_s);

}  // namespace zinfer::cli::e2e
