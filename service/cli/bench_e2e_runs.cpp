// The runs of zinfer bench --e2e (see bench_e2e_runs.h).
#include "service/cli/bench_e2e_runs.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "engine/sched/scheduler.h"
#include "service/client/dealer_client.h"
#include "service/protocol/codec.h"

namespace zinfer::cli::e2e {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

namespace {

// ---- the jobs -----------------------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// n pseudo-random token ids in the middle of the vocabulary (clear of the special tokens that
// vocabularies keep at either end); a different run of ids for every salt.
std::vector<std::int32_t> token_run(std::int32_t n_vocab, int n, std::uint64_t salt) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(n));
  const std::uint64_t span = static_cast<std::uint64_t>(std::max(n_vocab / 2, 1));
  for (int i = 0; i < n; ++i) {
    const std::uint64_t h = splitmix64(salt * 0x100000001b3ULL + static_cast<std::uint64_t>(i));
    out[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(h % span) + n_vocab / 8;
  }
  return out;
}

constexpr std::uint64_t kSharedSalt = 0x5157e3;  // the system prompt's ids
constexpr std::uint64_t kWarmupSalt = 0x3a3a3a;

JobPlan make_job(const E2eBenchArgs& a, std::int32_t n_vocab, std::string id,
                 const std::vector<std::int32_t>& prefix, std::uint64_t salt, int tokens,
                 std::uint64_t seed) {
  JobPlan p;
  p.id = std::move(id);
  p.prompt = prefix;
  const auto own = token_run(n_vocab, a.prompt_tokens, salt);
  p.prompt.insert(p.prompt.end(), own.begin(), own.end());
  p.params.max_tokens = tokens;
  p.params.ignore_eos = true;  // exactly `tokens` tokens per job
  p.params.sampling.temperature = a.temperature;
  p.params.sampling.top_p = a.top_p;
  p.params.sampling.top_k = a.top_k;
  p.params.sampling.top_logprobs = a.top_logprobs;
  p.params.sampling.seed = seed;
  protocol::SubmitMsg m;
  m.job_id = p.id;
  m.prompt_tokens = p.prompt;
  m.params = p.params;
  m.seed_given = true;
  m.stream = true;
  p.frame = protocol::encode_client(protocol::ClientMessage(std::move(m)));
  return p;
}

}  // namespace

Workload make_workload(const E2eBenchArgs& a, std::int32_t n_vocab, bool shared) {
  Workload w;
  w.name = shared ? "shared" : "unique";
  const std::vector<std::int32_t> prefix =
      shared ? token_run(n_vocab, a.shared_prefix, kSharedSalt) : std::vector<std::int32_t>{};
  for (int i = 0; i < a.jobs; ++i) {
    w.jobs.push_back(make_job(a, n_vocab, "j" + std::to_string(i), prefix,
                              static_cast<std::uint64_t>(i) + 1, a.tokens,
                              a.seed + static_cast<std::uint64_t>(i)));
  }
  // The warm-up job shares the system prompt (shared workload) but not the job prompts.
  w.warmup = make_job(a, n_vocab, "warmup", prefix, kWarmupSalt, std::min(a.tokens, 4), a.seed);
  return w;
}

namespace {

// ---- what one job's requester saw ---------------------------------------------------------

void on_tokens(JobRecord& r, const std::vector<std::int32_t>& tokens, Clock::time_point t) {
  ++r.frames;
  if (tokens.empty()) return;
  if (!r.first) {
    r.first = t;
  } else {
    r.gaps_ms.push_back(ms_between(*r.last, t));
  }
  r.last = t;
  r.tokens.insert(r.tokens.end(), tokens.begin(), tokens.end());
}

// ---- engine alone ---------------------------------------------------------------------------

// The model, timing its forward passes: the scheduler's host work per step is the step's wall
// time minus this.
class TimedLlm final : public ForwardingLlm {
 public:
  explicit TimedLlm(Llm& inner) : ForwardingLlm(inner) {}
  Result<std::vector<std::vector<float>>> forward_batch(std::span<const SeqStep> steps) override {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ms();
    auto r = inner_.forward_batch(steps);
    forward_cpu_ms_ += thread_cpu_ms() - c0;
    forward_ms_ += ms_between(t0, Clock::now());
    return r;
  }
  Result<std::vector<StepSample>> forward_sample(
      std::span<const SeqStep> steps, std::span<const sample::SampleRequest> requests) override {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ms();
    auto r = inner_.forward_sample(steps, requests);
    forward_cpu_ms_ += thread_cpu_ms() - c0;
    forward_ms_ += ms_between(t0, Clock::now());
    return r;
  }
  double forward_ms() const { return forward_ms_; }
  // The calling thread's CPU time inside the forward passes.
  double forward_cpu_ms() const { return forward_cpu_ms_; }

 private:
  double forward_ms_ = 0.0;
  double forward_cpu_ms_ = 0.0;
};

Result<std::unique_ptr<sched::Scheduler>> make_scheduler(Llm& llm, const E2eBenchArgs& a,
                                                         int max_running, bool prefix_cache) {
  sched::SchedulerConfig cfg;
  cfg.max_running = max_running;
  cfg.max_step_tokens = a.max_step_tokens;
  cfg.prefix_cache = prefix_cache;
  return sched::Scheduler::create(llm, cfg);
}

// CPU time of the engine thread encoding a step's events as token frames, as the worker's
// engine thread does next (EngineLoop::emit): timed, not sent — the service's own share of
// the host work per step.
double encode_cpu_ms(const std::vector<sched::JobEvent>& events, std::uint64_t seq,
                     std::uint64_t& bytes) {
  const double c0 = thread_cpu_ms();
  for (const sched::JobEvent& ev : events) {
    protocol::TokenMsg m;
    m.job_id = "j" + std::to_string(ev.id);
    m.seq = seq;
    m.tokens = ev.tokens;
    m.text = ev.text;
    bytes += protocol::encode(protocol::WorkerMessage(std::move(m))).size();
  }
  return thread_cpu_ms() - c0;
}

// Steps until idle; the events of job id k (1-based) go to records[k - 1] (id 0: dropped).
// With `extra` (and `timed`, the model the scheduler runs), every step is measured.
void drive(sched::Scheduler& s, std::vector<JobRecord>& records, EngineExtra* extra,
           TimedLlm* timed) {
  while (!s.idle()) {
    const sched::SchedulerStats before = s.stats();
    const double f0 = timed != nullptr ? timed->forward_ms() : 0.0;
    const double fc0 = timed != nullptr ? timed->forward_cpu_ms() : 0.0;
    const double c0 = thread_cpu_ms();
    const auto t0 = Clock::now();
    std::vector<sched::JobEvent> events = s.step(t0);
    const auto t1 = Clock::now();
    const double cpu = thread_cpu_ms() - c0;
    if (extra != nullptr) {
      const sched::SchedulerStats after = s.stats();
      const double ms = ms_between(t0, t1);
      const double fwd = timed->forward_ms() - f0;
      const double host_cpu = cpu - (timed->forward_cpu_ms() - fc0);
      const double encode = encode_cpu_ms(events, extra->steps, extra->frame_bytes);
      ++extra->steps;
      extra->step_ms.push_back(ms);
      extra->forward_ms += fwd;
      extra->host_ms.push_back(ms - fwd);
      extra->host_cpu_ms.push_back(host_cpu);
      extra->encode_cpu_ms.push_back(encode);
      const std::uint64_t fed = after.tokens_prefilled - before.tokens_prefilled;
      const std::uint64_t sampled = after.tokens_generated - before.tokens_generated;
      if (fed > 0 && fed == sampled) {  // every sequence fed one token and sampled: a decode step
        ++extra->decode_only_steps;
        extra->decode_only_tokens += sampled;
        extra->decode_only_ms += ms;
        if (sampled == static_cast<std::uint64_t>(extra->max_running)) {
          extra->host_ms_full.push_back(ms - fwd);
          extra->host_cpu_ms_full.push_back(host_cpu);
          extra->encode_cpu_ms_full.push_back(encode);
        }
      }
    }
    for (sched::JobEvent& ev : events) {
      if (ev.id == 0 || ev.id > records.size()) continue;
      JobRecord& r = records[ev.id - 1];
      on_tokens(r, ev.tokens, t1);
      if (ev.error) {
        r.error = std::string(error_code_name(ev.error->code)) + ": " + ev.error->message;
        r.ended = true;
      } else if (ev.terminal()) {
        r.finish = sched::finish_reason_name(ev.finish);
        r.usage_completion = ev.completion_tokens;
        r.server_ttft_ms = ev.timings.ttft_ms;
        r.ended = true;
      }
    }
  }
}

Result<sched::JobSpec> spec_of(const JobPlan& p, const sched::JobLimits& limits, sched::JobId id,
                               Clock::time_point arrival) {
  auto spec = sched::JobSpec::check(p.prompt, p.params, limits);
  if (!spec.ok()) return spec.error();
  spec->id = id;
  spec->arrival = arrival;
  return spec;
}

}  // namespace

// The same jobs through the same Scheduler on the same model and device, in this process.
Result<RunRecords> run_engine(const E2eBenchArgs& a, const LlmOptions& lo, const Workload& w,
                              int max_running, EngineExtra& extra) {
  auto llm = Llm::load(lo);
  if (!llm.ok()) return llm.error();
  extra.device = (*llm)->device_report().name;
  extra.max_running = max_running;
  TimedLlm timed(**llm);
  auto sched = make_scheduler(timed, a, max_running, a.prefix_cache);
  if (!sched.ok()) return sched.error();
  sched::Scheduler& s = **sched;
  {
    std::vector<JobRecord> none;
    auto spec = spec_of(w.warmup, s.limits(), 0, Clock::now());
    if (!spec.ok()) return spec.error();
    if (Status st = s.add(std::move(*spec)); !st.ok()) return st.error();
    drive(s, none, nullptr, nullptr);
  }
  const std::uint64_t reused0 = s.stats().tokens_reused;
  RunRecords run;
  run.jobs.resize(w.jobs.size());
  run.start = Clock::now();
  for (std::size_t i = 0; i < w.jobs.size(); ++i) {
    auto spec = spec_of(w.jobs[i], s.limits(), i + 1, run.start);
    if (!spec.ok()) return spec.error();
    run.jobs[i].submitted = run.start;
    if (Status st = s.add(std::move(*spec)); !st.ok()) return st.error();
  }
  drive(s, run.jobs, &extra, &timed);
  run.end = Clock::now();
  extra.prompt_tokens_cached = s.stats().tokens_reused - reused0;
  return run;
}

namespace {

// ---- through zinfer serve ---------------------------------------------------------------------

// One DEALER client: submits its jobs at once, then reads until each has ended.
void run_client(const std::string& endpoint, const std::vector<const JobPlan*>& plans,
                std::vector<JobRecord*> records, const std::atomic<bool>& go, double timeout_s,
                std::string& failure) {
  pthread_setname_np(pthread_self(), "bench-client");
  client::DealerOptions options;
  options.rcvhwm = 0;  // read everything; the worker never has to hold frames back
  auto connected = client::DealerClient::connect(endpoint, options);
  if (!connected.ok()) {
    failure = connected.error().message;
    return;
  }
  client::DealerClient& c = **connected;
  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < plans.size(); ++i) index.emplace(plans[i]->id, i);
  while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
  for (std::size_t i = 0; i < plans.size(); ++i) {
    records[i]->submitted = Clock::now();
    c.send(plans[i]->frame);
  }
  std::size_t open = plans.size();
  auto last_frame = Clock::now();
  while (open > 0) {
    client::Frame frame;
    if (!c.recv(frame, 200)) {
      if (Clock::now() - last_frame > std::chrono::duration<double>(timeout_s)) {
        failure = "no frame from the worker for " + std::to_string(timeout_s) + " s with " +
                  std::to_string(open) + " jobs open";
        return;
      }
      continue;
    }
    const auto t = Clock::now();
    last_frame = t;
    auto msg = protocol::decode_worker(frame.bytes(), protocol::DecodeLimits{});
    if (!msg.ok()) {
      failure = "undecodable frame from the worker: " + msg.error().message;
      return;
    }
    if (auto* tm = std::get_if<protocol::TokenMsg>(&*msg)) {
      auto it = index.find(tm->job_id);
      if (it != index.end()) on_tokens(*records[it->second], tm->tokens, t);
    } else if (auto* d = std::get_if<protocol::DoneMsg>(&*msg)) {
      auto it = index.find(d->job_id);
      if (it == index.end()) continue;
      JobRecord& r = *records[it->second];
      on_tokens(r, d->tokens, t);
      r.finish = sched::finish_reason_name(d->finish_reason);
      r.usage_completion = d->usage.completion_tokens;
      r.server_ttft_ms = d->timings.ttft_ms;
      if (!r.ended) --open;
      r.ended = true;
    } else if (auto* e = std::get_if<protocol::ErrorMsg>(&*msg)) {
      auto it = e->job_id ? index.find(*e->job_id) : index.end();
      if (it == index.end()) {
        failure = "worker error: " + std::string(error_code_name(e->code)) + ": " + e->message;
        return;
      }
      JobRecord& r = *records[it->second];
      r.error = std::string(error_code_name(e->code)) + ": " + e->message;
      if (!r.ended) --open;
      r.ended = true;
    }
  }
}

}  // namespace

RunRecords run_clients(const std::string& endpoint, const std::vector<JobPlan>& plans, int clients,
                       double timeout_s) {
  RunRecords run;
  run.jobs.resize(plans.size());
  const int n = std::max(1, std::min<int>(clients, static_cast<int>(plans.size())));
  std::vector<std::vector<const JobPlan*>> mine(static_cast<std::size_t>(n));
  std::vector<std::vector<JobRecord*>> recs(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < plans.size(); ++i) {
    mine[i % static_cast<std::size_t>(n)].push_back(&plans[i]);
    recs[i % static_cast<std::size_t>(n)].push_back(&run.jobs[i]);
  }
  std::atomic<bool> go{false};
  std::vector<std::string> failures(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int c = 0; c < n; ++c) {
    const auto k = static_cast<std::size_t>(c);
    threads.emplace_back(
        [&, k] { run_client(endpoint, mine[k], recs[k], go, timeout_s, failures[k]); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // sockets connected
  run.start = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  run.end = Clock::now();
  for (const auto& f : failures) {
    if (!f.empty() && run.failure.empty()) run.failure = f;
  }
  return run;
}

}  // namespace zinfer::cli::e2e
