// Heartbeat (see heartbeat.h).
#include "service/worker/heartbeat.h"

#include <algorithm>

namespace zinfer::worker {

void Heartbeat::step_started(Clock::time_point now) {
  step_start_ns_.store(ns(now), std::memory_order_release);
}

void Heartbeat::step_finished(Clock::time_point now) {
  last_end_ns_.store(ns(now), std::memory_order_release);
  step_start_ns_.store(0, std::memory_order_release);
  steps_.fetch_add(1, std::memory_order_acq_rel);
}

void Heartbeat::jobs_added(std::int64_t n, Clock::time_point now) {
  if (live_jobs_.fetch_add(n, std::memory_order_acq_rel) == 0)
    pending_since_ns_.store(ns(now), std::memory_order_release);
}

void Heartbeat::jobs_ended(std::int64_t n) { live_jobs_.fetch_sub(n, std::memory_order_acq_rel); }

HeartbeatView Heartbeat::view(Clock::time_point now) const {
  HeartbeatView v;
  const std::int64_t t = ns(now);
  v.steps_completed = steps_.load(std::memory_order_acquire);
  const std::int64_t last_end = last_end_ns_.load(std::memory_order_acquire);
  const std::int64_t step_start = step_start_ns_.load(std::memory_order_acquire);
  v.live_jobs = live_jobs_.load(std::memory_order_acquire);
  if (last_end != 0) v.last_step_age_s = static_cast<double>(t - last_end) * 1e-9;
  // Work is pending while a job is live or a step runs. Progress is measured from the later
  // of the last completed step and the moment work became pending (an idle hour before a
  // submit is not a stall).
  const bool pending = v.live_jobs > 0 || step_start != 0;
  if (pending) {
    std::int64_t since = std::max(last_end, pending_since_ns_.load(std::memory_order_acquire));
    if (step_start != 0 && since == 0) since = step_start;
    v.busy_s = since == 0 ? 0.0 : std::max(0.0, static_cast<double>(t - since) * 1e-9);
  }
  v.stalled = stall_timeout_s_ > 0.0 && pending && v.busy_s >= stall_timeout_s_;
  return v;
}

}  // namespace zinfer::worker
