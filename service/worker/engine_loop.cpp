// EngineLoop (see engine_loop.h).
#include "service/worker/engine_loop.h"

#include <pthread.h>
#include <zmq.h>

#include <algorithm>
#include <exception>

#include "service/protocol/codec.h"
#include "service/transport/socket_options.h"
#include "service/worker/service_log.h"

namespace zinfer::worker {
namespace {

constexpr std::size_t kPublishSlice = 16;  // frames per hand-over within one step

std::vector<protocol::TokenLogprob> to_wire(const std::vector<sample::SampleResult>& samples) {
  std::vector<protocol::TokenLogprob> out;
  out.reserve(samples.size());
  for (const auto& s : samples)
    out.push_back(protocol::TokenLogprob{s.token, s.logprob, s.top_logprobs});
  return out;
}

Error deadline_error(bool started) {
  return make_error(ErrorCode::kDeadlineExceeded,
                    std::string("submit.deadline_ms: passed before the first token (") +
                        (started ? "while processing the prompt)" : "while queued)"));
}

template <typename T>
void append(std::vector<T>& to, std::vector<T>&& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

EngineLoop::EngineLoop(sched::JobEngine& engine, void* zmq_context, std::string wake_endpoint,
                       std::int32_t max_pending_frames)
    : engine_(engine),
      zmq_context_(zmq_context),
      wake_endpoint_(std::move(wake_endpoint)),
      max_pending_frames_(max_pending_frames) {}

EngineLoop::~EngineLoop() { stop(); }

void EngineLoop::start() {
  publish_stats_now();
  thread_ = std::thread([this] { run(); });
}

void EngineLoop::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::push(Command cmd) {
  {
    std::lock_guard lk(mu_);
    inbox_.push_back(std::move(cmd));
  }
  cv_.notify_one();
}

void EngineLoop::submit(SubmitCommand cmd) {
  if (heartbeat_ != nullptr) heartbeat_->jobs_added(1, sched::Clock::now());
  push(std::move(cmd));
}
void EngineLoop::cancel(JobHandle handle) { push(CancelCmd{handle}); }
void EngineLoop::end_all() { push(EndAllCmd{}); }

std::vector<OutFrame> EngineLoop::take_frames() {
  std::vector<OutFrame> frames;
  {
    std::lock_guard lk(mu_);
    frames.swap(outbox_);
    wake_pending_ = false;
  }
  cv_.notify_one();  // the engine may be paused on max_pending_frames
  if (heartbeat_ != nullptr) {
    heartbeat_->jobs_ended(std::count_if(frames.begin(), frames.end(),
                                         [](const OutFrame& f) { return f.terminal(); }));
  }
  return frames;
}

sched::SchedulerStats EngineLoop::stats() const {
  std::lock_guard lk(stats_mu_);
  return stats_;
}

void EngineLoop::publish_stats_now() {
  const sched::SchedulerStats s = engine_.stats();
  {
    std::lock_guard lk(stats_mu_);
    stats_ = s;
  }
  failed_published_.store(failed_, std::memory_order_release);
}

void EngineLoop::run() {
  pthread_setname_np(pthread_self(), "zinfer-engine");  // visible in top -H, perf, gdb
  wake_socket_ = zmq_socket(zmq_context_, ZMQ_PAIR);
  if (Status st = transport::set_option(wake_socket_, ZMQ_LINGER, 0, "ZMQ_LINGER"); !st.ok()) {
    service_log().critical("engine thread: {}", st.error().message);
    failed_ = true;
  } else if (zmq_connect(wake_socket_, wake_endpoint_.c_str()) != 0) {
    service_log().critical("engine thread: cannot connect {}: {}", wake_endpoint_,
                           zmq_strerror(zmq_errno()));
    failed_ = true;
  }
  std::deque<Command> cmds;
  std::vector<OutFrame> frames;
  while (true) {
    bool step_now = false;
    {
      std::unique_lock lk(mu_);
      auto can_step = [&] {
        return !failed_ && !engine_.idle() &&
               static_cast<std::int32_t>(outbox_.size()) < max_pending_frames_;
      };
      cv_.wait(lk, [&] { return stop_ || !inbox_.empty() || can_step(); });
      if (stop_) break;
      cmds.swap(inbox_);
      step_now = can_step();
    }
    for (Command& c : cmds) apply(c, frames);
    cmds.clear();
    if (step_now && !engine_.idle()) {
      try {
        const sched::Clock::time_point step_start = sched::Clock::now();
        if (heartbeat_ != nullptr) heartbeat_->step_started(step_start);
        std::vector<sched::JobEvent> events = engine_.step(step_start);
        const sched::Clock::time_point step_end = sched::Clock::now();
        if (heartbeat_ != nullptr) heartbeat_->step_finished(step_end);
        if (step_observer_)
          step_observer_(std::chrono::duration<double>(step_end - step_start).count());
        std::optional<Error> fatal;
        for (std::size_t i = 0; i < events.size(); ++i) {
          if (events[i].error && events[i].error->fatal && !fatal) fatal = events[i].error;
          emit(events[i], frames, step_end);
          // Hand frames over in slices so the I/O thread starts sending while the rest of a
          // large step is still being encoded (the two threads overlap on two cores).
          if (frames.size() >= kPublishSlice && i + 1 < events.size()) publish(frames);
        }
        // A fatal engine error (sticky CUDA error): every other live job ends with it too.
        if (fatal) fail_all(*fatal, frames);
      } catch (const std::exception& e) {
        fail_all(std::string("engine step failed: ") + e.what(), frames);
      }
    }
    publish(frames);
  }
  zmq_close(wake_socket_);
  wake_socket_ = nullptr;
}

void EngineLoop::apply(Command& cmd, std::vector<OutFrame>& out) {
  if (auto* submit = std::get_if<SubmitCommand>(&cmd)) {
    WireJob w;
    w.job_id = std::move(submit->job_id);
    w.client = std::move(submit->client);
    w.stream = submit->stream;
    w.logprobs = submit->logprobs;
    w.channels = submit->spec.params().harmony_channels;
    w.deadline = submit->spec.deadline;
    const JobHandle h = submit->handle;
    jobs_.emplace(h, std::move(w));
    Status st = failed_ ? Status(make_error(ErrorCode::kInternal,
                                            "the engine has failed; the worker is exiting"))
                        : engine_.add(std::move(submit->spec));
    if (!st.ok()) emit_error(h, st.error(), out);
    return;
  }
  if (failed_) return;  // fail_all() has ended every job; the engine is not touched again
  if (auto* c = std::get_if<CancelCmd>(&cmd)) {
    if (jobs_.count(c->handle) == 0) return;  // already ended: cancel is idempotent
    if (auto ev = engine_.cancel(c->handle, sched::FinishReason::kCancelled))
      emit(*ev, out, sched::Clock::now());
    return;
  }
  // EndAllCmd
  for (sched::JobId id : engine_.live_ids()) {
    auto ev = engine_.cancel(id, sched::FinishReason::kCancelled);
    if (!ev) continue;
    if (ev->completion_tokens == 0) {
      // Nothing produced yet: retriable elsewhere, as documented for DRAINING (ERRORS.md).
      emit_error(id,
                 make_error(ErrorCode::kDraining,
                            std::string("the drain timeout expired before the job produced a "
                                        "token (") +
                                (ev->started ? "while processing the prompt" : "while queued") +
                                "); submit it to another worker"),
                 out);
    } else {
      emit(*ev, out, sched::Clock::now());
    }
  }
}

void EngineLoop::emit_error(JobHandle handle, const Error& error, std::vector<OutFrame>& out) {
  auto it = jobs_.find(handle);
  if (it == jobs_.end()) return;
  WireJob& w = it->second;
  OutFrame f;
  f.handle = handle;
  f.kind = FrameKind::kError;
  f.error = error.code;
  f.payload = protocol::encode(protocol::WorkerMessage(protocol::error_reply(error, w.job_id)));
  out.push_back(std::move(f));
  service_log().info("job {}/{}: error {}: {}", w.client, w.job_id, error_code_name(error.code),
                     error.message);
  jobs_.erase(it);
}

void EngineLoop::emit(sched::JobEvent& ev, std::vector<OutFrame>& out,
                      sched::Clock::time_point step_end) {
  auto it = jobs_.find(ev.id);
  if (it == jobs_.end()) return;
  WireJob& w = it->second;
  if (!w.has_token && !ev.tokens.empty() && !ev.error) {
    // The deadline is checked at the start of each step; one that passed during the step that
    // made the first token still came first (PROTOCOL.md §4.1): the job ends with the error,
    // and its token is never sent.
    if (w.deadline && *w.deadline <= step_end) {
      if (!ev.terminal()) engine_.cancel(ev.id, sched::FinishReason::kDeadline);
      emit_error(ev.id, deadline_error(ev.started), out);
      return;
    }
    w.has_token = true;
  }
  if (!ev.terminal()) {
    if (!w.stream) {
      w.held_text += ev.text;
      w.held_reasoning += ev.reasoning;
      w.held_tokens.insert(w.held_tokens.end(), ev.tokens.begin(), ev.tokens.end());
      if (w.logprobs) append(w.held_logprobs, to_wire(ev.samples));
      return;
    }
    protocol::TokenMsg m;
    m.job_id = w.job_id;
    m.seq = w.seq++;
    m.tokens = std::move(ev.tokens);
    m.text = std::move(ev.text);
    if (!ev.reasoning.empty()) m.reasoning = std::move(ev.reasoning);
    if (w.logprobs) m.logprobs = to_wire(ev.samples);
    out.push_back(OutFrame{ev.id, FrameKind::kToken,
                           protocol::encode(protocol::WorkerMessage(std::move(m)))});
    return;
  }
  if (ev.error) {
    emit_error(ev.id, *ev.error, out);
    return;
  }
  if (ev.finish == sched::FinishReason::kDeadline && ev.completion_tokens == 0) {
    // Before the first token the deadline is an error (PROTOCOL.md §4.1); after it, a done.
    emit_error(ev.id, deadline_error(ev.started), out);
    return;
  }
  protocol::DoneMsg d;
  d.job_id = w.job_id;
  d.seq = w.seq++;
  d.finish_reason = ev.finish;
  d.text = std::move(w.held_text) + ev.text;
  if (w.channels) d.reasoning = std::move(w.held_reasoning) + ev.reasoning;
  d.tokens = std::move(w.held_tokens);
  d.tokens.insert(d.tokens.end(), ev.tokens.begin(), ev.tokens.end());
  if (w.logprobs) {
    d.logprobs = std::move(w.held_logprobs);
    append(d.logprobs, to_wire(ev.samples));
  }
  d.usage.prompt_tokens = ev.prompt_tokens;
  d.usage.completion_tokens = ev.completion_tokens;
  d.timings.queue_ms = ev.timings.queue_ms;
  d.timings.ttft_ms = ev.timings.ttft_ms;
  d.timings.decode_ms = ev.timings.decode_ms;
  d.timings.tokens_per_s = ev.timings.tokens_per_s;
  OutFrame f{ev.id, FrameKind::kDone, protocol::encode(protocol::WorkerMessage(std::move(d)))};
  f.finish = ev.finish;
  f.completion_tokens = static_cast<std::uint32_t>(ev.completion_tokens);
  f.prompt_tokens = ev.prompt_tokens;
  f.timings = ev.timings;
  out.push_back(std::move(f));
  service_log().info(
      "job {}/{}: {} | prompt {} tok, completion {} tok | queue {:.1f} ms, ttft {:.1f} ms, "
      "decode {:.1f} ms ({:.1f} tok/s){}",
      w.client, w.job_id, sched::finish_reason_name(ev.finish), ev.prompt_tokens,
      ev.completion_tokens, ev.timings.queue_ms, ev.timings.ttft_ms, ev.timings.decode_ms,
      ev.timings.tokens_per_s,
      ev.preemptions > 0 ? fmt::format(", preempted {}×", ev.preemptions) : std::string());
  jobs_.erase(it);
}

void EngineLoop::fail_all(const std::string& why, std::vector<OutFrame>& out) {
  fail_all(make_error(ErrorCode::kInternal, why), out);
}

void EngineLoop::fail_all(const Error& error, std::vector<OutFrame>& out) {
  service_log().critical("{}; failing {} live jobs", error.message, jobs_.size());
  failed_ = true;
  std::vector<JobHandle> handles;
  for (const auto& [h, w] : jobs_) handles.push_back(h);
  for (JobHandle h : handles) emit_error(h, error, out);
}

void EngineLoop::publish(std::vector<OutFrame>& frames) {
  // Numbers first: a client that has read a terminal frame and then asks for stats sees them.
  publish_stats_now();
  if (frames.empty()) return;
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    if (outbox_.empty()) {
      outbox_.swap(frames);
    } else {
      append(outbox_, std::move(frames));
    }
    wake = !wake_pending_;
    wake_pending_ = true;
  }
  frames.clear();
  if (wake && wake_socket_ != nullptr) zmq_send(wake_socket_, "", 0, ZMQ_DONTWAIT);
}

}  // namespace zinfer::worker
