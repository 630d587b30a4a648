// ClientLimits (see client_limits.h).
#include "service/worker/client_limits.h"

#include <algorithm>

namespace zinfer::worker {

ClientLimits::ClientLimits(std::int32_t max_jobs, double bytes_per_s, std::size_t max_frame_bytes)
    : max_jobs_(max_jobs),
      bytes_per_s_(bytes_per_s),
      capacity_(std::max(bytes_per_s, static_cast<double>(max_frame_bytes))) {}

std::optional<Error> ClientLimits::charge_bytes(const std::string& client, std::size_t bytes,
                                                Clock::time_point now) {
  if (bytes_per_s_ <= 0.0) return std::nullopt;
  if (buckets_.size() >= kMaxBuckets) prune(now);
  auto [it, fresh] = buckets_.try_emplace(client, Bucket{capacity_, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double dt = std::chrono::duration<double>(now - b.refilled).count();
    b.tokens = std::min(capacity_, b.tokens + dt * bytes_per_s_);
    b.refilled = now;
  }
  if (b.tokens < static_cast<double>(bytes)) {
    return make_error(ErrorCode::kQueueFull,
                      "this client sent more than --max-client-bytes-per-s " +
                          std::to_string(static_cast<long long>(bytes_per_s_)) +
                          " bytes/s; retry later");
  }
  b.tokens -= static_cast<double>(bytes);
  return std::nullopt;
}

// A bucket idle long enough to have refilled is the same as no bucket: forget those, so
// clients that come and go (new connections, new routing ids) do not grow the map forever.
void ClientLimits::prune(Clock::time_point now) {
  const double full_after_s = capacity_ / bytes_per_s_;
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (std::chrono::duration<double>(now - it->second.refilled).count() >= full_after_s) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Error> ClientLimits::check_job(const std::string& client) const {
  if (max_jobs_ <= 0) return std::nullopt;
  auto it = live_.find(client);
  if (it == live_.end() || it->second < max_jobs_) return std::nullopt;
  return make_error(ErrorCode::kQueueFull, "this client has " + std::to_string(it->second) +
                                               " live jobs (--max-jobs-per-client " +
                                               std::to_string(max_jobs_) + "); retry later");
}

void ClientLimits::job_accepted(std::uint64_t handle, const std::string& client) {
  if (max_jobs_ <= 0) return;
  ++live_[client];
  client_of_.emplace(handle, client);
}

void ClientLimits::job_ended(std::uint64_t handle) {
  auto it = client_of_.find(handle);
  if (it == client_of_.end()) return;
  auto live = live_.find(it->second);
  if (live != live_.end() && --live->second <= 0) live_.erase(live);
  client_of_.erase(it);
}

}  // namespace zinfer::worker
