// DealerClient: the one client-side socket of the CLI (`submit`, `health`, `bench --service`):
// a DEALER connected to a worker, owning its ZeroMQ context, with checked options, readable
// endpoint errors and frames received into an owning Frame.
#pragma once

#include <zmq.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/error.h"

namespace zinfer::client {

// One received frame (owns the zmq message).
class Frame {
 public:
  Frame() { zmq_msg_init(&msg_); }
  ~Frame() { zmq_msg_close(&msg_); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  std::span<const std::uint8_t> bytes() {
    return {static_cast<const std::uint8_t*>(zmq_msg_data(&msg_)), zmq_msg_size(&msg_)};
  }
  zmq_msg_t* msg() { return &msg_; }

 private:
  zmq_msg_t msg_;
};

struct DealerOptions {
  int linger_ms = 0;  // ZMQ_LINGER: how long close() waits for unsent frames
  int rcvhwm =
      1000;  // ZMQ_RCVHWM: frames queued for us before the worker must hold them (0 = no limit)
  // CurveZMQ (all three Z85, 40 characters; empty = plaintext): the worker's public key and
  // this client's key pair.
  std::string curve_server_key;
  std::string curve_public_key;
  std::string curve_secret_key;
  bool immediate = false;  // ZMQ_IMMEDIATE: sends fail (EAGAIN) while not connected
};

class DealerClient {
 public:
  // Connects to `endpoint` (checked first; `flag` names it in errors, e.g. "--connect").
  static Result<std::unique_ptr<DealerClient>> connect(const std::string& endpoint,
                                                       const DealerOptions& options,
                                                       std::string_view flag = "--connect");
  ~DealerClient();
  DealerClient(const DealerClient&) = delete;
  DealerClient& operator=(const DealerClient&) = delete;

  // Queues one frame; false when it cannot be queued (dont_wait and the send queue is full).
  bool send(std::string_view frame, bool dont_wait = false);
  // Waits up to timeout_ms (-1: forever) for a frame and receives it into `out`; false on
  // timeout or interruption.
  bool recv(Frame& out, int timeout_ms);
  // The DEALER socket, for polling several clients at once (FanoutClient).
  void* socket() const { return socket_; }

 private:
  DealerClient() = default;
  void* ctx_ = nullptr;
  void* socket_ = nullptr;
};

}  // namespace zinfer::client
