// StubEngine (see bench_stub_engine.h).
#include "service/cli/bench_stub_engine.h"

#include <algorithm>
#include <string>
#include <thread>

namespace zinfer::cli {

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<sched::JobEvent> StubEngine::step(sched::Clock::time_point) {
  if (step_us_ > 0) {
    next_step_ = std::max(next_step_ + std::chrono::microseconds(step_us_),
                          std::chrono::steady_clock::now());
    std::this_thread::sleep_until(next_step_);
  }
  std::vector<sched::JobEvent> events;
  events.reserve(jobs_.size());
  std::int32_t running = 0;
  for (auto it = jobs_.begin(); it != jobs_.end() && running < info_.capacity; ++running) {
    StubJob& j = it->second;
    const auto token = static_cast<std::int32_t>(j.produced++);
    if (j.produced >= j.max_tokens) {
      sched::JobEvent ev = terminal(it->first, j, sched::FinishReason::kLength);
      ev.tokens = {token};
      events.push_back(std::move(ev));
      it = jobs_.erase(it);
    } else {
      sched::JobEvent ev;
      ev.id = it->first;
      ev.tokens = {token};
      ev.started = true;
      events.push_back(std::move(ev));
      ++it;
    }
    ++steps_tokens_;
  }
  ++steps_;
  const std::string stamp = std::to_string(steady_now_ns());
  for (auto& ev : events) ev.text = stamp;
  return events;
}

}  // namespace zinfer::cli
