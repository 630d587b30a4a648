// Wire messages of the zinfer protocol as C++ values (schemas/PROTOCOL.md is the spec).
// Every message is one msgpack map with "v" (protocol version) and "type". The codec
// (codec.h) turns bytes into these structs with limits and typed errors, and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/core/error.h"
#include "engine/sched/sequence.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::protocol {

inline constexpr std::uint32_t kProtocolVersion = 1;

// ---- client → worker ------------------------------------------------------------------

struct SubmitMsg {
  std::string job_id;  // client-chosen, unique among the client's live jobs
  // Exactly one of the three prompt forms:
  std::optional<std::string> prompt;  // plain text (special-token text parsed: no)
  std::optional<std::vector<std::int32_t>> prompt_tokens;
  std::optional<std::vector<tok::ChatMessage>> messages;  // formatted with the chat template
  sched::GenerationParams params;  // sampling, max_tokens, stop, stop_token_ids, ignore_eos
  std::int32_t priority = 0;       // higher runs first; ties in arrival order
  std::optional<std::int64_t>
      deadline_ms;     // relative to receipt; expiry → DEADLINE_EXCEEDED / "deadline"
  bool stream = true;  // send token frames (false: only the terminal frame)
  // Send per-token logprobs (with params.sampling.top_logprobs alternatives each). Wire:
  // "logprobs": true | N (0..20) sets this and top_logprobs = N (true → 0).
  bool logprobs = false;
  // Whether the client sent "seed". When it did not, the decoder has already drawn a random
  // seed into params.sampling.seed (OpenAI/vLLM semantics: no seed → not reproducible);
  // encode_client() leaves "seed" out again when this is false.
  bool seed_given = false;
};

struct CancelMsg {
  std::string job_id;
};

struct HealthMsg {};
struct StatsMsg {};

using ClientMessage = std::variant<SubmitMsg, CancelMsg, HealthMsg, StatsMsg>;

// ---- worker → client ------------------------------------------------------------------

struct AcceptedMsg {
  std::string job_id;
  std::int32_t queue_position = 0;  // 0 = will run in the next engine step
};

struct TokenLogprob {
  std::int32_t token = 0;
  float logprob = 0.0f;
  std::vector<std::pair<std::int32_t, float>> top;  // top_logprobs alternatives
};

struct TokenMsg {
  std::string job_id;
  std::uint64_t seq = 0;               // 0, 1, 2, ... per job
  std::vector<std::int32_t> tokens;    // tokens gained in one engine step
  std::string text;                    // complete UTF-8, stop strings held back
  std::vector<TokenLogprob> logprobs;  // present when requested
  // Harmony (gpt-oss) chat jobs: analysis-channel text gained in this step, when any; `text`
  // then carries only the final channel.
  std::optional<std::string> reasoning = std::nullopt;
};

struct Usage {
  std::int32_t prompt_tokens = 0;
  std::int32_t completion_tokens = 0;
};

struct Timings {
  double queue_ms = 0.0;
  double ttft_ms = 0.0;       // receipt → first token
  double decode_ms = 0.0;     // first token → last token
  double tokens_per_s = 0.0;  // completion tokens / decode time
};

struct DoneMsg {
  std::string job_id;
  std::uint64_t seq = 0;
  sched::FinishReason finish_reason = sched::FinishReason::kStop;
  std::string text;  // held-back tail (stream) or the whole text (stream = false)
  // Harmony (gpt-oss) chat jobs, always: the analysis channel's held-back tail (stream) or
  // all of it (stream = false); `text` is the final channel's.
  std::optional<std::string> reasoning = std::nullopt;
  std::vector<std::int32_t> tokens;    // tokens not sent in token frames (all when stream = false)
  std::vector<TokenLogprob> logprobs;  // one per entry of `tokens`, when the job asked for them
  Usage usage;
  Timings timings;
};

struct ErrorMsg {
  std::optional<std::string> job_id;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // names the offending field
  bool retriable = false;
};

struct HealthReply {
  std::string status;  // "ready" | "loading" | "draining" | "stalled"
  std::string model;
  std::string architecture;
  std::vector<std::string> quant_types;
  std::int32_t context_length = 0;
  std::string device;
  std::uint64_t vram_used_bytes = 0;
  std::int32_t queue_depth = 0;
  std::int32_t active_jobs = 0;
  std::int32_t capacity = 0;  // max concurrent jobs
  double uptime_s = 0.0;
  bool vram_resident = false;      // weights and KV cache verified as plain device memory (CUDA)
  std::uint64_t engine_steps = 0;  // engine steps completed (the heartbeat)
  double last_step_age_s = -1.0;   // since the last step completed; -1 before the first
};

struct StatsReply {
  std::uint64_t jobs_accepted = 0;
  std::uint64_t jobs_completed = 0;
  std::uint64_t jobs_cancelled = 0;
  std::uint64_t jobs_failed = 0;
  std::uint64_t jobs_rejected = 0;
  std::uint64_t tokens_generated = 0;
  std::uint64_t prompt_tokens = 0;
  std::int32_t queue_depth = 0;
  std::int32_t active_jobs = 0;
  std::int32_t kv_blocks_used = 0;
  std::int32_t kv_blocks_total = 0;
  std::uint64_t engine_steps = 0;
  double uptime_s = 0.0;
  std::uint64_t prompt_tokens_cached = 0;  // prompt tokens served from the prefix cache
};

using WorkerMessage =
    std::variant<AcceptedMsg, TokenMsg, DoneMsg, ErrorMsg, HealthReply, StatsReply>;

}  // namespace zinfer::protocol
