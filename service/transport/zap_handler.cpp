// ZapHandler (see zap_handler.h).
#include "service/transport/zap_handler.h"

#include <zmq.h>

#include <string>
#include <vector>

#include "service/transport/socket_options.h"
#include "service/worker/service_log.h"

namespace zinfer::transport {
namespace {

constexpr int kPollMs = 100;  // how soon the thread notices stop

std::string z85(const std::string& key32) {
  char out[41];
  zmq_z85_encode(out, reinterpret_cast<const std::uint8_t*>(key32.data()), 32);
  return std::string(out, 40);
}

}  // namespace

Result<std::unique_ptr<ZapHandler>> ZapHandler::start(void* ctx,
                                                      std::unordered_set<std::string> authorized) {
  std::unique_ptr<ZapHandler> h(new ZapHandler());
  h->authorized_ = std::move(authorized);
  h->socket_ = zmq_socket(ctx, ZMQ_REP);
  if (h->socket_ == nullptr) {
    return make_error(ErrorCode::kInternal,
                      std::string("ZAP handler: zmq_socket: ") + zmq_strerror(zmq_errno()));
  }
  if (Status st = set_option(h->socket_, ZMQ_LINGER, 0, "ZMQ_LINGER"); !st.ok()) {
    zmq_close(h->socket_);
    h->socket_ = nullptr;
    return st.error();
  }
  if (zmq_bind(h->socket_, "inproc://zeromq.zap.01") != 0) {
    const std::string why = zmq_strerror(zmq_errno());
    zmq_close(h->socket_);
    h->socket_ = nullptr;
    return make_error(ErrorCode::kInternal, "ZAP handler: inproc://zeromq.zap.01: " + why);
  }
  h->thread_ = std::thread([p = h.get()] { p->run(); });
  return h;
}

ZapHandler::~ZapHandler() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (socket_ != nullptr) zmq_close(socket_);
}

void ZapHandler::run() {
  while (!stop_.load()) {
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    const int rc = zmq_poll(&item, 1, kPollMs);
    if (rc < 0 && zmq_errno() == ETERM) return;
    if (rc > 0) answer();
  }
}

void ZapHandler::answer() {
  // Request: version, request id, domain, address, routing id, mechanism, credentials…
  std::vector<std::string> parts;
  int more = 1;
  while (more != 0) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, socket_, 0) < 0) {
      zmq_msg_close(&m);
      return;
    }
    parts.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
  }
  const std::string request_id = parts.size() > 1 ? parts[1] : "";
  std::string status = "400";
  std::string text = "not a ZAP 1.0 CURVE request";
  std::string user;
  if (parts.size() >= 7 && parts[0] == "1.0" && parts[5] == "CURVE" && parts[6].size() == 32) {
    const std::string key = z85(parts[6]);
    if (authorized_.count(key) != 0) {
      status = "200";
      text = "OK";
      user = key;
    } else {
      text = "unknown client key";
      worker::service_log().warn("refused a CurveZMQ client from {}: key {} is not authorized",
                                 parts[3], key);
    }
  } else if (parts.size() >= 6) {
    worker::service_log().warn("refused a {} client from {}: this worker requires CURVE", parts[5],
                               parts[3]);
  }
  (status == "200" ? accepted_ : refused_).fetch_add(1);
  const std::string reply[] = {"1.0", request_id, status, text, user, ""};
  for (std::size_t i = 0; i < 6; ++i)
    zmq_send(socket_, reply[i].data(), reply[i].size(), i + 1 < 6 ? ZMQ_SNDMORE : 0);
}

}  // namespace zinfer::transport
