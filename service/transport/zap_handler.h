// ZapHandler: libzmq's ZAP protocol (RFC 27) answered for one ZeroMQ context — a thread with
// a REP socket on inproc://zeromq.zap.01 that libzmq asks about every CURVE handshake on that
// context's sockets. It accepts a client whose public key is in the authorized set (and sets
// the connection's User-Id to that key in Z85, readable per message as "User-Id") and refuses
// every other one; a refused client's connection never carries a message. Any mechanism other
// than CURVE is refused too.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "engine/core/error.h"

namespace zinfer::transport {

class ZapHandler {
 public:
  // Binds the ZAP endpoint on `zmq_context` (before any CURVE socket binds) and starts the
  // thread. kInternal if the endpoint is taken (another handler on the same context).
  static Result<std::unique_ptr<ZapHandler>> start(void* zmq_context,
                                                   std::unordered_set<std::string> authorized_z85);
  ~ZapHandler();  // stops the thread and closes its socket (before the context terminates)
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  std::uint64_t accepted() const { return accepted_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  ZapHandler() = default;
  void run();
  void answer();

  void* socket_ = nullptr;
  std::unordered_set<std::string> authorized_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0}, refused_{0};
  std::thread thread_;
};

}  // namespace zinfer::transport
