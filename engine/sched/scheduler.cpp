// Scheduler (see scheduler.h).
//
// A job's tokens are "known" = prompt + generated; the KV cache of its sequence holds the
// first n_cached of them. Each step feeds known[n_cached, …) — a whole decode token or a
// prompt chunk — and samples only once the last known token has been fed. Preemption simply
// drops the cache (n_cached = 0): the job recomputes its known tokens later and continues
// exactly where it was, because the forward pass is row-independent and sampling is keyed
// by seed and position, never by batch composition.
#include "engine/sched/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <tuple>

#include "engine/sched/warm_up.h"

namespace zinfer::sched {

struct Scheduler::Job {
  explicit Job(JobSpec s) : spec(std::move(s)) {}
  JobSpec spec;
  std::uint64_t order = 0;  // add() order: FIFO among equal priorities
  std::unique_ptr<Sequence> seq;
  std::int32_t slot = -1;     // seq_id while running
  std::int32_t n_cached = 0;  // known tokens held in the KV cache
  bool started = false;
  std::int32_t preemptions = 0;
  std::optional<Clock::time_point> admitted_at, first_token_at, last_token_at;
  std::vector<std::int32_t> input;  // this step's tokens (forward_sample reads them in place)

  std::int32_t known() const {
    return static_cast<std::int32_t>(seq->prompt().size() + seq->generated().size());
  }
  std::int32_t prompt_size() const { return static_cast<std::int32_t>(seq->prompt().size()); }
  // This step feeds generated tokens (SeqStep::generated): its prompt is cached already.
  bool feeds_generated() const { return n_cached >= prompt_size(); }
  std::int32_t token_at(std::int32_t i) const {
    const auto p = static_cast<std::int32_t>(seq->prompt().size());
    return i < p ? seq->prompt()[static_cast<std::size_t>(i)]
                 : seq->generated()[static_cast<std::size_t>(i - p)];
  }
  // Scheduling rank: higher priority first, then older.
  auto rank() const { return std::make_tuple(-static_cast<std::int64_t>(spec.priority), order); }
};

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Status validate(const SchedulerConfig& config, const LlmOptions& llm_options) {
  if (config.max_running < 1 || config.max_running > llm_options.n_seq_max) {
    return make_error(
        ErrorCode::kInvalidParameter,
        "max_running must be in [1, n_seq_max=" + std::to_string(llm_options.n_seq_max) +
            "], got " + std::to_string(config.max_running));
  }
  if (config.max_step_tokens < 1) {
    return make_error(ErrorCode::kInvalidParameter,
                      "max_step_tokens must be ≥ 1, got " + std::to_string(config.max_step_tokens));
  }
  return ok_status();
}

Result<std::unique_ptr<Scheduler>> Scheduler::create(Llm& llm, const SchedulerConfig& config) {
  ZINFER_RETURN_IF_ERROR(validate(config, llm.options()));
  return std::unique_ptr<Scheduler>(new Scheduler(llm, config));
}

Result<std::unique_ptr<Scheduler>> Scheduler::load(const LlmOptions& llm_options,
                                                   const SchedulerConfig& config) {
  LlmOptions opt = llm_options;
  opt.n_seq_max = std::max(opt.n_seq_max, config.max_running);
  std::unique_ptr<Llm> llm;
  ZINFER_ASSIGN_OR_RETURN(llm, Llm::load(opt));
  if (config.warm_up && warm_up_helps(*llm)) {
    ZINFER_ASSIGN_OR_RETURN(const WarmUpReport w,
                            warm_up(*llm, WarmUpPlan{config.max_step_tokens, config.max_running}));
    spdlog::info("warm-up: a {}-token prompt and decode steps of 1 and {} sequences in {:.0f} ms",
                 w.prompt_tokens, w.batch, w.ms);
  }
  std::unique_ptr<Scheduler> sched;
  ZINFER_ASSIGN_OR_RETURN(sched, create(*llm, config));
  sched->owned_llm_ = std::move(llm);
  return sched;
}

Scheduler::Scheduler(Llm& llm, const SchedulerConfig& config)
    : llm_(llm),
      cfg_(config),
      per_token_(llm.options().fp16_prompts),
      kv_(llm.kv_blocks(), llm.kv_block_size()) {
  for (std::int32_t s = cfg_.max_running - 1; s >= 0; --s) free_slots_.push_back(s);
  const model::DeviceReport mem = llm.device_report();
  info_.model = llm.hparams().name.empty()
                    ? std::filesystem::path(llm.options().model_path).filename().string()
                    : llm.hparams().name;
  info_.architecture = llm.hparams().arch;
  info_.quant_types = llm.tensor_types();
  info_.device = mem.name;
  info_.context_length = llm.options().n_ctx;
  info_.vocab_size = llm.hparams().n_vocab;
  info_.capacity = cfg_.max_running;
  info_.device_bytes_used = mem.device_bytes;
  info_.vram_resident = mem.vram_resident;
  info_.tokenizer = &llm.tokenizer();
}

Scheduler::~Scheduler() {
  for (auto& [id, job] : jobs_) release(*job);
}

// Blocks the running jobs still need to hold all their known tokens plus the next one.
std::int32_t Scheduler::reserved_blocks() const {
  const std::int32_t n_ctx = llm_.options().n_ctx;
  std::int32_t sum = 0;
  for (const Job* j : running_)
    sum += kv_.blocks_needed(j->slot, std::min(j->known() + 1, n_ctx) - j->n_cached);
  return sum;
}

JobLimits Scheduler::limits() const {
  return JobLimits{llm_.hparams().n_vocab, llm_.options().n_ctx};
}

Status Scheduler::add(JobSpec spec) {
  assert(spec.limits() == limits());  // checked against this model (JobSpec::check)
  if (jobs_.count(spec.id) != 0) {
    return make_error(ErrorCode::kInvalidParameter,
                      "job id " + std::to_string(spec.id) + " is already live");
  }
  auto job = std::make_unique<Job>(std::move(spec));
  job->order = next_order_++;
  job->seq = std::make_unique<Sequence>(llm_.tokenizer(), job->spec);
  Job* raw = job.get();
  jobs_.emplace(raw->spec.id, std::move(job));
  enqueue_waiting(raw);
  return ok_status();
}

void Scheduler::enqueue_waiting(Job* job) {
  auto pos = std::upper_bound(waiting_.begin(), waiting_.end(), job,
                              [](const Job* a, const Job* b) { return a->rank() < b->rank(); });
  waiting_.insert(pos, job);
}

void Scheduler::release(Job& job) {
  if (job.slot >= 0) {
    kv_.release(job.slot);
    free_slots_.push_back(job.slot);
    job.slot = -1;
  }
  job.n_cached = 0;
}

void Scheduler::erase(JobId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Job* job = it->second.get();
  release(*job);
  std::erase(waiting_, job);
  std::erase(running_, job);
  jobs_.erase(it);
}

void Scheduler::preempt(Job& job) {
  spdlog::debug("scheduler: preempting job {} ({} tokens cached) — KV cache full", job.spec.id,
                job.n_cached);
  release(job);
  std::erase(running_, &job);
  ++job.preemptions;
  ++counters_.preemptions;
  enqueue_waiting(&job);
}

void Scheduler::admit(Clock::time_point now) {
  std::int32_t budget = kv_.free_blocks() - reserved_blocks();
  const std::int32_t n_ctx = llm_.options().n_ctx;
  // Strict order: when the head does not fit, nobody behind it jumps ahead (no starvation).
  while (!waiting_.empty() && !free_slots_.empty()) {
    Job* job = waiting_.front();
    // A free slot holds no blocks: this is the job's whole known context plus one token.
    const std::int32_t need =
        kv_.blocks_needed(free_slots_.back(), std::min(job->known() + 1, n_ctx));
    if (need > budget && !running_.empty()) break;
    waiting_.erase(waiting_.begin());
    job->slot = free_slots_.back();
    free_slots_.pop_back();
    // Prefix caching: the job's KV starts with the longest cached run of whole blocks of its
    // known tokens (a shared system prompt, or its own tokens after a preemption).
    std::vector<std::int32_t> known(static_cast<std::size_t>(job->known()));
    for (std::int32_t i = 0; i < job->known(); ++i)
      known[static_cast<std::size_t>(i)] = job->token_at(i);
    // Never the whole of it: the last known token is always fed, so its logits exist.
    // With per-token numerics only prompt blocks are published (commit below), and only the
    // prompt may attach them: a preempted job's generated tokens recompute as generated ones.
    std::int32_t attachable = static_cast<std::int32_t>(known.size()) - 1;
    if (per_token_) attachable = std::min(attachable, job->prompt_size());
    job->n_cached =
        cfg_.prefix_cache && known.size() >= 2 ? kv_.attach(job->slot, known, attachable) : 0;
    counters_.tokens_reused += static_cast<std::uint64_t>(job->n_cached);
    job->started = true;
    if (!job->admitted_at) job->admitted_at = now;
    running_.push_back(job);
    budget -= need;
  }
}

JobEvent Scheduler::terminal_event(Job& job, StepOutput out, Clock::time_point now) {
  JobEvent ev;
  ev.id = job.spec.id;
  ev.tokens = std::move(out.tokens);
  ev.text = std::move(out.text);
  ev.reasoning = std::move(out.reasoning);
  ev.samples = std::move(out.samples);
  ev.finish = out.finish;
  ev.started = job.started;
  ev.prompt_tokens = static_cast<std::int32_t>(job.seq->prompt().size());
  ev.completion_tokens = static_cast<std::int32_t>(job.seq->generated().size());
  ev.preemptions = job.preemptions;
  const Clock::time_point arrival = job.spec.arrival;
  ev.timings.queue_ms = ms_between(arrival, job.admitted_at.value_or(now));
  if (job.first_token_at) {
    ev.timings.ttft_ms = ms_between(arrival, *job.first_token_at);
    ev.timings.decode_ms = ms_between(*job.first_token_at, *job.last_token_at);
    if (ev.completion_tokens > 1 && ev.timings.decode_ms > 0.0) {
      ev.timings.tokens_per_s = 1000.0 * (ev.completion_tokens - 1) / ev.timings.decode_ms;
    }
  }
  return ev;
}

JobEvent Scheduler::error_event(Job& job, Error error, Clock::time_point now) {
  JobEvent ev = terminal_event(job, StepOutput{}, now);
  ev.finish = FinishReason::kNone;
  ev.error = std::move(error);
  return ev;
}

std::optional<JobEvent> Scheduler::cancel(JobId id, FinishReason reason) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  Job& job = *it->second;
  JobEvent ev = terminal_event(job, job.seq->finish(reason), Clock::now());
  ev.finish = reason;
  erase(id);
  return ev;
}

std::vector<JobEvent> Scheduler::step(Clock::time_point now) {
  std::vector<JobEvent> events;

  // 1. Deadlines, for waiting and running jobs alike.
  std::vector<JobId> expired;
  for (const auto& [id, job] : jobs_) {
    if (job->spec.deadline && *job->spec.deadline <= now) expired.push_back(id);
  }
  for (JobId id : expired) {
    if (auto ev = cancel(id, FinishReason::kDeadline)) events.push_back(std::move(*ev));
  }

  // 2. Admission, then the batch: every decode, then prompt chunks in rank order.
  admit(now);
  if (running_.empty()) return events;
  std::vector<Job*> order = running_;
  std::sort(order.begin(), order.end(),
            [](const Job* a, const Job* b) { return a->rank() < b->rank(); });
  std::int32_t n_decode = 0;
  for (const Job* j : order) n_decode += j->known() - j->n_cached == 1 ? 1 : 0;
  std::int32_t prefill_budget = std::max(cfg_.max_step_tokens - n_decode, kv_.block_size());
  std::vector<Job*> batch;
  for (Job* j : order) {
    const std::int32_t remaining = j->known() - j->n_cached;
    std::int32_t n = 1;
    if (remaining > 1) {
      n = std::min(remaining, prefill_budget);
      // Per-token numerics: a chunk holds one kind (a preempted job's prompt, then its
      // generated tokens).
      if (per_token_ && j->n_cached < j->prompt_size())
        n = std::min(n, j->prompt_size() - j->n_cached);
      if (n <= 0) continue;
      prefill_budget -= n;
    }
    j->input.clear();
    for (std::int32_t i = 0; i < n; ++i) j->input.push_back(j->token_at(j->n_cached + i));
    batch.push_back(j);
  }

  // 3. Give the batch its KV blocks, in rank order. When the pool is short, the lowest-ranked
  //    running job is preempted (it ranks at or below the job being served, so blocks already
  //    given this step are never taken back) until the reservation succeeds. A lone job
  //    always fits: the pool holds at least n_ctx tokens. The forward pass then only writes
  //    into blocks it was given — it cannot run out of KV memory.
  std::vector<Job*> planned;
  for (Job* j : batch) {
    if (j->slot < 0) continue;  // preempted below for a higher-ranked job
    const auto n = static_cast<std::int32_t>(j->input.size());
    while (!kv_.reserve(j->slot, n).ok()) {
      Job* victim =
          *std::max_element(running_.begin(), running_.end(),
                            [](const Job* a, const Job* b) { return a->rank() < b->rank(); });
      assert(victim != j || running_.size() > 1);  // the pool holds one full context
      preempt(*victim);
      if (victim == j) break;
    }
    if (j->slot >= 0) planned.push_back(j);
  }
  if (planned.empty()) return events;
  // Per-token numerics: generated tokens' rows first, then prompt chunks (rank order within
  // each), so a matmul splits its rows into two runs at most (rows are independent: the order
  // changes no result).
  if (per_token_) {
    std::stable_partition(planned.begin(), planned.end(),
                          [](const Job* j) { return j->feeds_generated(); });
  }

  // 4. One forward pass over every planned sequence, sampling those whose last known token
  //    it feeds (a prompt chunk short of the end samples nothing).
  std::vector<SeqStep> steps;
  std::vector<sample::SampleRequest> requests;
  steps.reserve(planned.size());
  requests.reserve(planned.size());
  for (const Job* j : planned) {
    steps.push_back(
        SeqStep{j->input, j->n_cached, kv_.block_table(j->slot), false, j->feeds_generated()});
    const bool last = j->n_cached + static_cast<std::int32_t>(j->input.size()) >= j->known();
    requests.push_back(last ? j->seq->sample_request() : sample::SampleRequest{});
  }
  auto sampled = llm_.forward_sample(steps, requests);
  ++counters_.steps;
  const Clock::time_point t = Clock::now();
  if (!sampled.ok()) {  // a device error: every job of the step ends with it
    for (Job* j : planned) {
      const JobId id = j->spec.id;
      events.push_back(error_event(*j, sampled.error(), t));
      erase(id);
    }
    return events;
  }
  if (cfg_.prefix_cache) {
    for (const Job* j : planned) {  // publish the blocks they filled (per-token: prompt only)
      if (!per_token_ || !j->feeds_generated()) kv_.commit(j->slot, j->input);
    }
  }

  // 5. Sample for the sequences whose last known token was just fed.
  for (std::size_t i = 0; i < planned.size(); ++i) {
    Job* j = planned[i];
    j->n_cached += static_cast<std::int32_t>(j->input.size());
    counters_.tokens_prefilled += j->input.size();
    if (j->n_cached < j->known()) continue;  // prompt chunk: nothing to sample yet
    auto& sample = (*sampled)[i];
    assert(sample.has_value());
    auto out = sample->ok() ? j->seq->accept_sample(std::move(*sample).value())
                            : Result<StepOutput>(sample->error());
    const JobId id = j->spec.id;
    if (!out.ok()) {
      events.push_back(error_event(*j, out.error(), t));
      erase(id);
      continue;
    }
    if (!j->first_token_at) j->first_token_at = t;
    j->last_token_at = t;
    counters_.tokens_generated += out->tokens.size();
    if (out->finish != FinishReason::kNone) {
      events.push_back(terminal_event(*j, std::move(*out), t));
      erase(id);
      continue;
    }
    JobEvent ev;
    ev.id = id;
    ev.tokens = std::move(out->tokens);
    ev.text = std::move(out->text);
    ev.reasoning = std::move(out->reasoning);
    ev.samples = std::move(out->samples);
    ev.started = true;
    events.push_back(std::move(ev));
  }
  return events;
}

std::optional<Clock::time_point> Scheduler::next_deadline() const {
  std::optional<Clock::time_point> best;
  for (const auto& [id, job] : jobs_) {
    if (job->spec.deadline && (!best || *job->spec.deadline < *best)) best = job->spec.deadline;
  }
  return best;
}

std::vector<JobId> Scheduler::waiting_ids() const {
  std::vector<JobId> ids;
  for (const Job* j : waiting_) ids.push_back(j->spec.id);
  return ids;
}

std::vector<JobId> Scheduler::running_ids() const {
  std::vector<JobId> ids;
  for (const Job* j : running_) ids.push_back(j->spec.id);
  return ids;
}

std::vector<JobId> Scheduler::live_ids() const {
  std::vector<JobId> ids = waiting_ids();
  for (const Job* j : running_) ids.push_back(j->spec.id);
  return ids;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = counters_;
  s.waiting = static_cast<std::int32_t>(waiting_.size());
  s.running = static_cast<std::int32_t>(running_.size());
  s.kv_total_blocks = kv_.n_blocks();
  s.kv_used_blocks = s.kv_total_blocks - kv_.free_blocks();
  return s;
}

}  // namespace zinfer::sched
