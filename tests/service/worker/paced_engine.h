// PacedEngine: a sched::JobEngine test double for the operations tests — a real scheduler's shape
// without a model: jobs wait in priority-then-arrival order, at most `capacity` run, every
// step lasts `step_us` and gives each running job one token (id 7, text "x"), a job ends
// "length" at max_tokens. Timings are measured like the scheduler's (arrival → admission →
// first token → last token). hold(true) makes the next step block until hold(false): a
// wedged engine thread, for the stall tests.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "engine/sched/job_engine.h"

namespace zinfer::worker::testing {

class PacedEngine final : public sched::JobEngine {
 public:
  PacedEngine(std::int32_t capacity, std::int64_t step_us) : step_us_(step_us) {
    info_.model = "paced-engine";
    info_.architecture = "none";
    info_.device = "cpu";
    info_.context_length = 4096;
    info_.vocab_size = 1000;
    info_.capacity = capacity;
  }
  const sched::EngineInfo& info() const override { return info_; }
  Status add(sched::JobSpec spec) override {
    Job j;
    j.id = spec.id;
    j.priority = spec.priority;
    j.max_tokens = spec.params().max_tokens;
    j.prompt_tokens = static_cast<std::int32_t>(spec.prompt().size());
    j.arrival = spec.arrival;
    auto at = std::find_if(waiting_.begin(), waiting_.end(),
                           [&](const Job& w) { return w.priority < j.priority; });
    waiting_.insert(at, j);
    return ok_status();
  }
  std::optional<sched::JobEvent> cancel(sched::JobId id, sched::FinishReason reason) override {
    for (auto* list : {&running_, &waiting_}) {
      for (auto it = list->begin(); it != list->end(); ++it) {
        if (it->id != id) continue;
        sched::JobEvent ev = event(*it, sched::Clock::now());
        ev.finish = reason;
        ev.started = list == &running_;
        list->erase(it);
        return ev;
      }
    }
    return std::nullopt;
  }
  std::vector<sched::JobEvent> step(sched::Clock::time_point now) override {
    {
      std::unique_lock lk(hold_mu_);
      hold_cv_.wait(lk, [&] { return !hold_; });
    }
    while (static_cast<std::int32_t>(running_.size()) < info_.capacity && !waiting_.empty()) {
      running_.push_back(waiting_.front());
      running_.back().admitted = now;
      waiting_.pop_front();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(step_us_));
    const auto end = sched::Clock::now();
    ++steps_;
    std::vector<sched::JobEvent> events;
    for (auto it = running_.begin(); it != running_.end();) {
      Job& j = *it;
      if (j.produced++ == 0) j.first_token = end;
      j.last_token = end;
      ++tokens_;
      sched::JobEvent ev = event(j, end);
      ev.tokens = {7};
      ev.text = "x";
      if (j.produced >= j.max_tokens) {
        ev.finish = sched::FinishReason::kLength;
        it = running_.erase(it);
      } else {
        ++it;
      }
      events.push_back(std::move(ev));
    }
    return events;
  }
  bool idle() const override { return running_.empty() && waiting_.empty(); }
  std::vector<sched::JobId> live_ids() const override {
    std::vector<sched::JobId> v;
    for (const auto& j : waiting_) v.push_back(j.id);
    for (const auto& j : running_) v.push_back(j.id);
    return v;
  }
  sched::SchedulerStats stats() const override {
    sched::SchedulerStats s;
    s.running = static_cast<std::int32_t>(running_.size());
    s.waiting = static_cast<std::int32_t>(waiting_.size());
    s.steps = steps_;
    s.tokens_generated = tokens_;
    s.kv_total_blocks = 100;
    s.kv_used_blocks = s.running;
    return s;
  }

  // Any thread: while held, the next step blocks (a stuck engine thread).
  void hold(bool on) {
    {
      std::lock_guard lk(hold_mu_);
      hold_ = on;
    }
    hold_cv_.notify_all();
  }

 private:
  struct Job {
    sched::JobId id = 0;
    std::int32_t priority = 0;
    std::int32_t max_tokens = 0;
    std::int32_t prompt_tokens = 0;
    std::int32_t produced = 0;
    sched::Clock::time_point arrival, admitted, first_token, last_token;
  };
  static double ms(sched::Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  }
  sched::JobEvent event(const Job& j, sched::Clock::time_point) const {
    sched::JobEvent ev;
    ev.id = j.id;
    ev.started = true;
    ev.prompt_tokens = j.prompt_tokens;
    ev.completion_tokens = j.produced;
    if (j.produced > 0) {
      ev.timings.queue_ms = ms(j.admitted - j.arrival);
      ev.timings.ttft_ms = ms(j.first_token - j.arrival);
      ev.timings.decode_ms = ms(j.last_token - j.first_token);
    }
    return ev;
  }
  sched::EngineInfo info_;
  std::int64_t step_us_;
  std::list<Job> waiting_, running_;
  std::uint64_t steps_ = 0, tokens_ = 0;
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool hold_ = false;
};

}  // namespace zinfer::worker::testing
