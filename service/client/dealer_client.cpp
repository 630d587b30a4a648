// DealerClient (see dealer_client.h).
#include "service/client/dealer_client.h"

#include "service/transport/endpoint.h"
#include "service/transport/socket_options.h"

namespace zinfer::client {

Result<std::unique_ptr<DealerClient>> DealerClient::connect(const std::string& endpoint,
                                                            const DealerOptions& options,
                                                            std::string_view flag) {
  std::unique_ptr<DealerClient> c(new DealerClient());
  c->ctx_ = zmq_ctx_new();
  c->socket_ = zmq_socket(c->ctx_, ZMQ_DEALER);
  if (c->socket_ == nullptr) {
    return make_error(ErrorCode::kInternal,
                      std::string("zmq_socket: ") + zmq_strerror(zmq_errno()));
  }
  ZINFER_RETURN_IF_ERROR(
      transport::set_option(c->socket_, ZMQ_LINGER, options.linger_ms, "ZMQ_LINGER"));
  ZINFER_RETURN_IF_ERROR(
      transport::set_option(c->socket_, ZMQ_RCVHWM, options.rcvhwm, "ZMQ_RCVHWM"));
  if (!options.curve_server_key.empty()) {
    if (zmq_setsockopt(c->socket_, ZMQ_CURVE_SERVERKEY, options.curve_server_key.c_str(), 40) !=
            0 ||
        zmq_setsockopt(c->socket_, ZMQ_CURVE_PUBLICKEY, options.curve_public_key.c_str(), 40) !=
            0 ||
        zmq_setsockopt(c->socket_, ZMQ_CURVE_SECRETKEY, options.curve_secret_key.c_str(), 40) !=
            0) {
      return make_error(ErrorCode::kInvalidParameter,
                        std::string("CurveZMQ client keys: ") + zmq_strerror(zmq_errno()));
    }
  }
  if (options.immediate) {
    ZINFER_RETURN_IF_ERROR(transport::set_option(c->socket_, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE"));
  }
  ZINFER_RETURN_IF_ERROR(transport::connect_endpoint(c->socket_, endpoint, flag));
  return c;
}

DealerClient::~DealerClient() {
  if (socket_ != nullptr) zmq_close(socket_);
  if (ctx_ != nullptr) zmq_ctx_term(ctx_);
}

bool DealerClient::send(std::string_view frame, bool dont_wait) {
  return zmq_send(socket_, frame.data(), frame.size(), dont_wait ? ZMQ_DONTWAIT : 0) >= 0;
}

bool DealerClient::recv(Frame& out, int timeout_ms) {
  if (timeout_ms >= 0) {
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0) return false;
  }
  return zmq_msg_recv(out.msg(), socket_, timeout_ms == 0 ? ZMQ_DONTWAIT : 0) >= 0;
}

}  // namespace zinfer::client
