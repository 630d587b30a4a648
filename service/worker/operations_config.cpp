// validate_operations (see operations_config.h).
#include "service/worker/operations_config.h"

#include <cmath>

#include "service/transport/bind_scope.h"
#include "service/transport/endpoint.h"

namespace zinfer::worker {

Status validate_operations(const WorkerConfig& c) {
  auto bad = [](const std::string& msg) { return make_error(ErrorCode::kInvalidParameter, msg); };
  const bool curve = !c.curve_secret_key_file.empty() || !c.curve_authorized_keys_dir.empty();
  if (curve && (c.curve_secret_key_file.empty() || c.curve_authorized_keys_dir.empty())) {
    return bad(
        "--curve-secret-key and --curve-authorized-keys go together: the worker needs its own "
        "secret key and the directory of the client public keys it accepts");
  }
  if (curve && c.insecure) return bad("--insecure contradicts --curve-secret-key: choose one");
  if (!curve && !c.insecure && !transport::is_local_endpoint(c.bind)) {
    return bad("--bind " + c.bind +
               ": a bind beyond loopback (anything but tcp://127.0.0.1, tcp://[::1], "
               "tcp://localhost, ipc://) needs CurveZMQ: --curve-secret-key FILE and "
               "--curve-authorized-keys DIR (keys from `zinfer keygen`); or --insecure to "
               "accept plaintext from anyone who can reach it");
  }
  if (!c.probe_bind.empty()) {
    ZINFER_RETURN_IF_ERROR(
        transport::check_endpoint(c.probe_bind, transport::EndpointUse::kBind, "--probe-bind"));
    if (!transport::is_local_endpoint(c.probe_bind)) {
      return bad("--probe-bind " + c.probe_bind +
                 ": must be local (ipc://PATH or tcp://127.0.0.1:PORT): it takes plaintext");
    }
  }
  if (!std::isfinite(c.stall_timeout_s) || c.stall_timeout_s < 0.0) {
    return bad("--stall-timeout must be a number of seconds ≥ 0 (0 = off), got " +
               std::to_string(c.stall_timeout_s));
  }
  if (c.max_jobs_per_client < 0) {
    return bad("--max-jobs-per-client must be ≥ 0 (0 = no limit), got " +
               std::to_string(c.max_jobs_per_client));
  }
  if (!std::isfinite(c.max_client_bytes_per_s) || c.max_client_bytes_per_s < 0.0) {
    return bad("--max-client-bytes-per-s must be ≥ 0 (0 = no limit), got " +
               std::to_string(c.max_client_bytes_per_s));
  }
  return ok_status();
}

}  // namespace zinfer::worker
