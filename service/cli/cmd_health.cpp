// `zinfer health --connect EP`: asks a worker for its health (or, with --stats, its counters)
// over a DEALER socket and prints the reply as one JSON line. Made for liveness/readiness
// probes (systemd, Kubernetes exec probes, container HEALTHCHECK): the exit status says it all.
//   0  the worker answered and is ready (with --require-resident: and its model is verified
//      resident in VRAM)
//   1  no answer within --timeout, or an answer that is not a health/stats frame
//   2  --connect is not a usable endpoint
//   3  the worker answered but is loading, draining or stalled (its engine made no step for
//      --stall-timeout while work was pending), or not resident when required; with --live
//      only stalled
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "service/cli/commands.h"
#include "service/cli/exit_codes.h"
#include "service/cli/operations_flags.h"
#include "service/client/dealer_client.h"
#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using json = nlohmann::json;

struct HealthArgs {
  std::string connect;
  double timeout_s = 5.0;
  bool stats = false;
  bool require_resident = false;
  bool live = false;
  ClientCurveArgs curve;
};

// "5 s", "0.5 s", "1.25 s": durations as a person would write them.
std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g s", s);
  return buf;
}

// One request, one reply; an empty json (and `why`) on a bad endpoint, a timeout or a broken reply.
json ask(const HealthArgs& a, const std::string& type, std::string& why, bool& bad_endpoint) {
  client::DealerOptions options;
  if (Status st = apply_client_curve(a.curve, options); !st.ok()) {
    bad_endpoint = true;
    why = st.error().message;
    return json();
  }
  auto client = client::DealerClient::connect(a.connect, options);
  bad_endpoint = !client.ok();
  if (!client.ok()) {
    why = client.error().message;
    return json();
  }
  const std::vector<std::uint8_t> req =
      json::to_msgpack(json{{"v", protocol::kProtocolVersion}, {"type", type}});
  (*client)->send(std::string_view(reinterpret_cast<const char*>(req.data()), req.size()),
                  /*dont_wait=*/true);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(a.timeout_s);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      why = "no " + type + " reply from " + a.connect + " within " + seconds_text(a.timeout_s);
      return json();
    }
    client::Frame frame;
    if (!(*client)->recv(frame, static_cast<int>(left.count()))) continue;
    const auto bytes = frame.bytes();
    json j =
        json::from_msgpack(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
    // Token frames of other jobs cannot reach this fresh identity; anything but the answer is
    // a protocol error worth reporting.
    if (j.is_object() && j.value("type", "") == type) return j;
    why = "unexpected reply: " + (j.is_discarded() ? std::string("not msgpack") : j.dump());
    return json();
  }
}

int run_health(const HealthArgs& a) {
  std::string why;
  bool bad_endpoint = false;
  const json reply = ask(a, a.stats ? "stats" : "health", why, bad_endpoint);
  if (reply.is_null()) {
    std::cerr << "error: " << why << "\n";
    return bad_endpoint ? kExitBadInput : kExitFailed;
  }
  std::cout << reply.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  if (a.stats) return 0;
  const std::string status = reply.value("status", "");
  // --live (liveness probes): loading and draining are alive; only a stalled engine is not.
  if (a.live && status != "stalled") return 0;
  if (status != "ready") {
    std::cerr << "error: the worker is " << reply.value("status", "?") << "\n";
    return 3;
  }
  if (a.require_resident && !reply.value("vram_resident", false)) {
    std::cerr << "error: the worker's model is not verified resident in VRAM (device "
              << reply.value("device", "?") << ")\n";
    return 3;
  }
  return 0;
}

}  // namespace

Command register_health(CLI::App& app) {
  auto a = std::make_shared<HealthArgs>();
  CLI::App* sub = app.add_subcommand(
      "health",
      "Ask a worker for its health (exit 0 = ready; for probes) or, with --stats, its counters");
  sub->add_option("--connect", a->connect, "Worker endpoint, e.g. tcp://127.0.0.1:5555")
      ->required();
  sub->add_option("--timeout", a->timeout_s, "Seconds to wait for the reply")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  sub->add_flag("--stats", a->stats, "Ask for the stats counters instead of health");
  sub->add_flag("--require-resident", a->require_resident,
                "Also require the model to be verified resident in VRAM (GPU workers)");
  sub->add_flag("--live", a->live,
                "Liveness: exit 0 for any answering worker whose engine is not stalled (loading "
                "and draining count as alive)");
  add_client_curve_flags(sub, a->curve);
  return Command{sub, [a] { return run_health(*a); }};
}

}  // namespace zinfer::cli
