// FanoutClient: `zinfer submit` over several workers without a broker — one DEALER per worker
// endpoint. A job goes to the live worker with the fewest jobs in flight; every worker gets a
// health request each heartbeat, and any frame from it proves it alive. A worker silent for
// `lost_after_s` is lost: the jobs placed on it are handed back to the caller (which reports
// them WORKER_LOST, retriable, or retries them elsewhere). Frames of a job are only taken
// from the worker the job is placed on, so a late answer of a lost worker never mixes with
// the retry's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "service/client/dealer_client.h"

namespace zinfer::client {

struct FanoutOptions {
  double heartbeat_s = 1.0;    // health request interval per worker
  double lost_after_s = 10.0;  // silence after which a worker with jobs in flight is lost
  DealerOptions dealer;
};

class FanoutClient {
 public:
  static Result<std::unique_ptr<FanoutClient>> connect(const std::vector<std::string>& endpoints,
                                                       const FanoutOptions& options);

  // Places the job on the least-loaded live worker; false when no worker can take it now.
  bool submit(const std::string& job_id, std::string_view frame);
  // Sends `frame` (a cancel) to the worker the job is placed on, if any.
  void send_to_owner(const std::string& job_id, std::string_view frame);
  // Waits up to timeout_ms for a frame from any worker; `worker` says which one.
  bool recv(Frame& out, std::size_t& worker, int timeout_ms);
  // Whether `worker` is where job_id is placed (frames from elsewhere are stale).
  bool owns(std::size_t worker, const std::string& job_id) const;
  // The job ended (terminal frame): forget its placement.
  void finished(const std::string& job_id);
  // Sends due heartbeats and finds lost workers: returns the ids of the jobs they held.
  std::vector<std::string> tick();
  const std::string& endpoint(std::size_t worker) const { return workers_[worker].endpoint; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Worker {
    std::string endpoint;
    std::unique_ptr<DealerClient> dealer;
    Clock::time_point last_heard;
    Clock::time_point last_ping;
    std::size_t in_flight = 0;
    bool lost = false;
  };
  FanoutClient() = default;

  FanoutOptions options_;
  std::vector<Worker> workers_;
  std::unordered_map<std::string, std::size_t> owner_;  // job id → worker
  std::string ping_;                                    // msgpack health request
};

}  // namespace zinfer::client
