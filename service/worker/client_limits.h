// ClientLimits: per-client admission limits, so one producer cannot starve the others —
// live jobs per client (--max-jobs-per-client) and request bytes per second
// (--max-client-bytes-per-s, a token bucket holding one second of budget, and at least one
// largest frame so any valid request can pass). A client is its CurveZMQ public key when the
// worker authenticates (so a key holder gains nothing by opening more connections), else its
// connection's routing id. I/O thread only. Over a limit, a submit is answered QUEUE_FULL
// (retriable): the client backs off as it does for a full queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/core/error.h"

namespace zinfer::worker {

class ClientLimits {
 public:
  using Clock = std::chrono::steady_clock;

  ClientLimits(std::int32_t max_jobs, double bytes_per_s, std::size_t max_frame_bytes);

  bool enabled() const { return max_jobs_ > 0 || bytes_per_s_ > 0.0; }
  // A request frame of `bytes` arrived from `client`: an error when it is over the byte rate.
  std::optional<Error> charge_bytes(const std::string& client, std::size_t bytes,
                                    Clock::time_point now);
  // Before accepting a job of `client`: an error when it already has max_jobs live.
  std::optional<Error> check_job(const std::string& client) const;
  void job_accepted(std::uint64_t handle, const std::string& client);
  void job_ended(std::uint64_t handle);

 private:
  static constexpr std::size_t kMaxBuckets = 4096;  // prune idle buckets beyond this
  void prune(Clock::time_point now);
  struct Bucket {
    double tokens = 0.0;
    Clock::time_point refilled;
  };
  std::int32_t max_jobs_;
  double bytes_per_s_;
  double capacity_;  // bytes a bucket holds
  std::unordered_map<std::string, Bucket> buckets_;
  std::unordered_map<std::string, std::int32_t> live_;        // client → live jobs
  std::unordered_map<std::uint64_t, std::string> client_of_;  // job handle → client
};

}  // namespace zinfer::worker
