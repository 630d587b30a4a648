// Operations flags (see operations_flags.h).
#include "service/cli/operations_flags.h"

#include "service/transport/curve_keys.h"

namespace zinfer::cli {

void add_serve_operations_flags(CLI::App* sub, worker::WorkerConfig& c, StallHook& hook) {
  sub->add_option("--metrics", c.metrics_bind,
                  "Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9400; off by default)");
  sub->add_option("--stall-timeout", c.stall_timeout_s,
                  "Seconds of pending work without a completed engine step before health says "
                  "'stalled' (0 = never)")
      ->capture_default_str();
  sub->add_option("--curve-secret-key", c.curve_secret_key_file,
                  "CurveZMQ: this worker's secret key file (zinfer keygen's NAME.key_secret)");
  sub->add_option("--curve-authorized-keys", c.curve_authorized_keys_dir,
                  "CurveZMQ: directory of the client public keys (NAME.key) allowed in");
  sub->add_option("--probe-bind", c.probe_bind,
                  "Also bind this local endpoint (ipc://PATH, tcp://127.0.0.1:PORT) without "
                  "CurveZMQ, for health probes on the same host or pod");
  sub->add_flag("--insecure", c.insecure,
                "Allow a plaintext --bind beyond loopback (anyone who reaches it may submit)");
  sub->add_option("--max-jobs-per-client", c.max_jobs_per_client,
                  "Live jobs one client may have; beyond → QUEUE_FULL (0 = no limit)")
      ->capture_default_str();
  sub->add_option("--max-client-bytes-per-s", c.max_client_bytes_per_s,
                  "Request bytes per second one client may send; beyond → QUEUE_FULL (0 = no "
                  "limit)")
      ->capture_default_str();
  // Test hooks: not in --help.
  sub->add_option("--test-stall-after-steps", hook.after_steps)->group("");
  sub->add_option("--test-stall-seconds", hook.seconds)->group("");
}

void add_client_curve_flags(CLI::App* sub, ClientCurveArgs& a) {
  sub->add_option("--curve-server-key", a.server_key_file,
                  "CurveZMQ: the worker's public key file (its NAME.key)");
  sub->add_option("--curve-secret-key", a.secret_key_file,
                  "CurveZMQ: this client's secret key file (zinfer keygen's NAME.key_secret)");
}

Status apply_client_curve(const ClientCurveArgs& a, client::DealerOptions& options) {
  if (a.server_key_file.empty() && a.secret_key_file.empty()) return ok_status();
  if (a.server_key_file.empty() || a.secret_key_file.empty()) {
    return make_error(ErrorCode::kInvalidParameter,
                      "--curve-server-key and --curve-secret-key go together: the worker's public "
                      "key and this client's own key (zinfer keygen)");
  }
  auto server = transport::curve_read(a.server_key_file, false, "--curve-server-key");
  if (!server.ok()) return server.error();
  auto mine = transport::curve_read(a.secret_key_file, true, "--curve-secret-key");
  if (!mine.ok()) return mine.error();
  options.curve_server_key = server->public_z85;
  options.curve_public_key = mine->public_z85;
  options.curve_secret_key = mine->secret_z85;
  return ok_status();
}

}  // namespace zinfer::cli
