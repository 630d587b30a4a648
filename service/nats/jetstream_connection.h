// JetStreamConnection: one NATS connection with its JetStream context (libnats, the C client),
// owned RAII, with the set-up both sides need: streams and durable pull consumers created when
// missing (idempotent, so any number of workers and producers may start at once), and libnats
// statuses turned into typed errors. The connection reconnects forever (a restarted server is
// found again; what is published meanwhile is buffered by the library).
// The library calls the connection's handlers (disconnected, reconnected, closed) on a thread of
// its own, after the event: the destructor returns only once the last of them has run.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace zinfer::nats {

// kInternal with libnats's text, the JetStream error code when there is one, and `what`.
Error nats_error(natsStatus s, jsErrCode js_code, const std::string& what);

// A stream as created when missing.
struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  bool work_queue = false;  // true: a message is removed once acked (jobs); false: limits
  double max_age_s = 0;     // 0: kept until acked (work queue) or forever
};

// A durable pull consumer as created when missing (updated when its timings differ).
struct ConsumerSpec {
  std::string stream;
  std::string durable;
  std::string filter_subject;
  double ack_wait_s = 30.0;
  std::int64_t max_deliver = -1;  // -1: unlimited
  bool ack_none = false;          // true: no acks (a reader of frames, not of jobs)
};

class JetStreamConnection {
 public:
  // Connects to `url` (fails at once when no server answers; reconnects forever afterwards).
  static Result<std::unique_ptr<JetStreamConnection>> connect(const std::string& url,
                                                              const std::string& client_name);
  ~JetStreamConnection();
  JetStreamConnection(const JetStreamConnection&) = delete;
  JetStreamConnection& operator=(const JetStreamConnection&) = delete;

  natsConnection* nc() { return nc_; }
  jsCtx* js() { return js_; }

  Status ensure_stream(const StreamSpec& spec);
  Status ensure_consumer(const ConsumerSpec& spec);
  // A pull subscription bound to an existing durable consumer (destroying it keeps the consumer).
  Result<natsSubscription*> bind_pull(const std::string& stream, const std::string& durable,
                                      const std::string& subject);
  // Publishes `msg` through JetStream and waits for the stream's acknowledgement, retrying
  // while the server is unreachable, up to `timeout_s`. With a Nats-Msg-Id header the stream
  // de-duplicates: true when the stream already held a message with that id (not stored again).
  Result<bool> publish_durable(natsMsg* msg, double timeout_s);

 private:
  JetStreamConnection() = default;
  static void on_disconnected(natsConnection*, void* self);
  static void on_reconnected(natsConnection*, void* self);
  static void on_closed(natsConnection*, void* self);
  std::atomic<bool> closing_{false};  // no disconnect warning for our own close
  // Set by on_closed, the connection's last handler: until then the library may still call
  // on_disconnected with this object as its closure.
  std::mutex closed_mu_;
  std::condition_variable closed_cv_;
  bool closed_ = false;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// Seconds → the nanoseconds JetStream configs use.
inline std::int64_t to_ns(double s) { return static_cast<std::int64_t>(s * 1e9); }

}  // namespace zinfer::nats
