// `zinfer health --connect EP`: asks a worker for its health (or, with --stats, its counters)
// over a DEALER socket and prints the reply as one JSON line. Made for liveness/readiness
// probes (systemd, Kubernetes exec probes, container HEALTHCHECK): the exit status says it all.
//   0  the worker answered and is ready (with --require-resident: and its model is verified
//      resident in VRAM)
//   1  no answer within --timeout, or an answer that is not a health/stats frame
//   3  the worker answered but is loading or draining, or not resident when required
#include <zmq.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "service/cli/commands.h"
#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using json = nlohmann::json;

struct HealthArgs {
  std::string connect;
  double timeout_s = 5.0;
  bool stats = false;
  bool require_resident = false;
};

// One request, one reply; nullopt-like empty json on timeout or a broken reply.
json ask(const HealthArgs& a, const std::string& type, std::string& why) {
  void* ctx = zmq_ctx_new();
  void* sock = zmq_socket(ctx, ZMQ_DEALER);
  const int linger = 0;
  zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
  json reply;
  if (zmq_connect(sock, a.connect.c_str()) != 0) {
    why = "--connect " + a.connect + ": " + zmq_strerror(zmq_errno());
  } else {
    const std::vector<std::uint8_t> req = json::to_msgpack(json{{"v", protocol::kProtocolVersion}, {"type", type}});
    zmq_send(sock, req.data(), req.size(), ZMQ_DONTWAIT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(a.timeout_s);
    while (reply.is_null()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        why = "no " + type + " reply from " + a.connect + " within " + std::to_string(a.timeout_s) + " s";
        break;
      }
      zmq_pollitem_t item{sock, 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) continue;
      zmq_msg_t msg;
      zmq_msg_init(&msg);
      if (zmq_msg_recv(&msg, sock, 0) >= 0) {
        const auto* p = static_cast<const std::uint8_t*>(zmq_msg_data(&msg));
        json j = json::from_msgpack(p, p + zmq_msg_size(&msg), /*strict=*/true, /*allow_exceptions=*/false);
        // Token frames of other jobs cannot reach this fresh identity; anything but the
        // answer is a protocol error worth reporting.
        if (j.is_object() && j.value("type", "") == type) {
          reply = std::move(j);
        } else {
          why = "unexpected reply: " + (j.is_discarded() ? std::string("not msgpack") : j.dump());
          zmq_msg_close(&msg);
          break;
        }
      }
      zmq_msg_close(&msg);
    }
  }
  zmq_close(sock);
  zmq_ctx_term(ctx);
  return reply;
}

int run_health(const HealthArgs& a) {
  std::string why;
  const json reply = ask(a, a.stats ? "stats" : "health", why);
  if (reply.is_null()) {
    std::cerr << "error: " << why << "\n";
    return 1;
  }
  std::cout << reply.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  if (a.stats) return 0;
  if (reply.value("status", "") != "ready") {
    std::cerr << "worker is " << reply.value("status", "?") << "\n";
    return 3;
  }
  if (a.require_resident && !reply.value("vram_resident", false)) {
    std::cerr << "worker's model is not verified resident in VRAM (device " << reply.value("device", "?") << ")\n";
    return 3;
  }
  return 0;
}

}  // namespace

Command register_health(CLI::App& app) {
  auto a = std::make_shared<HealthArgs>();
  CLI::App* sub = app.add_subcommand(
      "health", "Ask a worker for its health (exit 0 = ready; for probes) or, with --stats, its counters");
  sub->add_option("--connect", a->connect, "Worker endpoint, e.g. tcp://127.0.0.1:5555")->required();
  sub->add_option("--timeout", a->timeout_s, "Seconds to wait for the reply")->capture_default_str()->check(
      CLI::Range(0.001, 3600.0));
  sub->add_flag("--stats", a->stats, "Ask for the stats counters instead of health");
  sub->add_flag("--require-resident", a->require_resident,
                "Also require the model to be verified resident in VRAM (GPU workers)");
  return Command{sub, [a] { return run_health(*a); }};
}

}  // namespace zinfer::cli
