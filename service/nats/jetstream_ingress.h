// JetStreamIngress: the worker's durable job queue (a JobSource). A pull consumer per priority
// class on a work-queue stream; it fetches only as many jobs as the engine has free slots
// (high, then normal, then low), keeps each fetched job alive with in-progress acks while it
// runs, publishes the job's frames to its reply subject (each with the delivery attempt), and
// settles the message only after the terminal frame is stored:
//
//   done (stop/length/deadline)        → publish, ack
//   error of the job, not retriable    → publish, term (never redelivered)
//   error retriable, a fault of the    → nak with --nats-nak-delay (another worker retries it);
//   worker (KERNEL_LAUNCH_FAILED,        on the last allowed delivery: publish, term
//   INTERNAL, …), or ended by a drain
//
// A worker killed mid-job acks nothing: JetStream redelivers after the ack wait. Jobs that run
// out of deliveries are dead-lettered by DeadLetterHandler (dead_letter.h).
// Threads: a fetch thread (fetch, in-progress acks) and a publisher thread (frames, acks, in
// order); the worker's I/O thread only queues work for them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "service/nats/dead_letter.h"
#include "service/nats/jetstream_config.h"
#include "service/nats/jetstream_connection.h"
#include "service/worker/job_source.h"

namespace zinfer::nats {

class JetStreamIngress final : public worker::JobSource {
 public:
  // Connects, creates the streams and consumers when missing, binds the pull subscriptions.
  static Result<std::unique_ptr<JetStreamIngress>> create(const JetStreamConfig& config);
  ~JetStreamIngress() override;

  Status start(std::int32_t capacity) override;
  int wake_fd() const override { return wake_fd_; }
  std::vector<worker::SourcedJob> take() override;
  void on_accepted(std::uint64_t ticket, const std::string& job_id) override;
  void on_frame(std::uint64_t ticket, const worker::OutFrame& frame) override;
  void on_rejected(std::uint64_t ticket, const Error& error,
                   const std::optional<std::string>& job_id) override;
  void begin_drain() override;
  void close(double timeout_s) override;
  worker::QueueCounters counters() const override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Settle { kNone, kAck, kTerm, kNak };

  // A fetched message until it is settled (owned: natsMsg_Destroy after settling).
  struct Delivery {
    natsMsg* msg = nullptr;
    std::string reply;   // Zinfer-Reply header ("" = nobody listens: frames are dropped)
    std::string job_id;  // from the decoded submit, else the Nats-Msg-Id header
    std::uint64_t attempt = 1;
    std::uint64_t stream_seq = 0;
    Clock::time_point progress_at;  // last ack or in-progress ack
  };
  // Work for the publisher thread, in the order the I/O thread produced it.
  struct Outgoing {
    std::uint64_t ticket = 0;
    std::string payload;  // a frame to publish ("" = none)
    bool terminal = false;
    Settle settle = Settle::kNone;
  };

  explicit JetStreamIngress(JetStreamConfig config) : config_(std::move(config)) {}
  void fetch_loop();
  void publish_loop();
  std::size_t fetch_class(std::size_t index, int batch);
  void send_progress();
  void publish_one(Outgoing& out);
  void settle(Delivery& d, Settle how);
  // What a terminal error means for the message (see the table above).
  Settle settle_for_error(ErrorCode code, std::uint64_t attempt) const;
  void enqueue(Outgoing out);

  JetStreamConfig config_;
  std::unique_ptr<JetStreamConnection> conn_;
  std::vector<natsSubscription*> subs_;  // one per priority class, highest first
  std::unique_ptr<DeadLetterHandler> dead_letters_;
  std::int32_t capacity_ = 1;
  int wake_fd_ = -1;

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::uint64_t next_ticket_ = 1;
  std::unordered_map<std::uint64_t, Delivery> live_;
  std::vector<worker::SourcedJob> inbox_;
  std::deque<Outgoing> outbox_;
  bool draining_ = false;
  bool stop_fetch_ = false;
  bool stop_publish_ = false;

  std::thread fetcher_, publisher_;

  // For counters() (any thread): what the fetch and publisher threads did.
  struct Counts {
    std::atomic<std::uint64_t> deliveries{0}, redeliveries{0}, acks{0}, naks{0}, terms{0},
        in_progress_acks{0}, settle_failures{0}, unsettled{0};
  };
  Counts counts_;
};

}  // namespace zinfer::nats
