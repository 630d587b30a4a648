// DeadLetterHandler: what happens to a job that JetStream delivered max_deliver times without
// a settled outcome (its workers died, or every attempt was handed back). The server announces
// it with a max-deliveries advisory; one worker of the queue group takes it, and
//   1. publishes a terminal error frame WORKER_LOST (attempt = the deliveries) to the job's
//      reply subject, so the producer is not left waiting;
//   2. publishes the original job, with Zinfer-Error and Zinfer-Attempt headers, to the
//      dead-letter subject <dead_prefix>.<model> (kept by the dead-letter stream);
//   3. deletes the job from the work-queue stream.
// Each step is idempotent (message ids de-duplicate, a deleted job is skipped).
// The advisories arrive on the subscription's own thread; the destructor returns only after
// that thread's last call of handle() has.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "service/nats/jetstream_config.h"
#include "service/nats/jetstream_connection.h"

namespace zinfer::nats {

class DeadLetterHandler {
 public:
  static Result<std::unique_ptr<DeadLetterHandler>> create(JetStreamConnection& conn,
                                                           const JetStreamConfig& config);
  ~DeadLetterHandler();
  DeadLetterHandler(const DeadLetterHandler&) = delete;
  DeadLetterHandler& operator=(const DeadLetterHandler&) = delete;

  // The advisory's JSON (io.nats.jetstream.advisory.v1.max_deliver).
  void handle(const std::string& advisory);
  // Jobs this handler moved to the dead-letter subject (any thread).
  std::uint64_t dead_lettered() const { return dead_lettered_.load(std::memory_order_relaxed); }

 private:
  DeadLetterHandler(JetStreamConnection& conn, JetStreamConfig config)
      : conn_(conn), config_(std::move(config)) {}
  static void on_complete(void* self);
  JetStreamConnection& conn_;
  JetStreamConfig config_;
  natsSubscription* sub_ = nullptr;
  // Set by on_complete, which the subscription's thread runs once it is closed and the last
  // handle() has returned.
  bool watching_ = false;  // on_complete is registered
  std::mutex complete_mu_;
  std::condition_variable complete_cv_;
  bool complete_ = false;
  std::atomic<std::uint64_t> dead_lettered_{0};
};

}  // namespace zinfer::nats
