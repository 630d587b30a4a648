// WorkerConfig validation (see worker_config.h).
#include "service/worker/worker_config.h"

#include <cmath>

#include "service/transport/endpoint.h"
#include "service/worker/operations_config.h"

namespace zinfer::worker {

Status validate(const WorkerConfig& c) {
  auto bad = [](const std::string& msg) { return make_error(ErrorCode::kInvalidParameter, msg); };
  if (c.bind.rfind("tcp://", 0) != 0 && c.bind.rfind("ipc://", 0) != 0 &&
      c.bind.rfind("inproc://", 0) != 0) {
    return bad("--bind must be a tcp://, ipc:// or inproc:// endpoint, got '" + c.bind + "'");
  }
  ZINFER_RETURN_IF_ERROR(
      transport::check_endpoint(c.bind, transport::EndpointUse::kBind, "--bind"));
  if (c.max_queued < 1) return bad("--max-queued must be ≥ 1, got " + std::to_string(c.max_queued));
  if (!std::isfinite(c.drain_timeout_s) || c.drain_timeout_s < 0.0) {
    return bad("--drain-timeout must be a number of seconds ≥ 0, got " +
               std::to_string(c.drain_timeout_s));
  }
  if (c.max_frame_bytes < 64 || c.max_frame_bytes > (std::size_t{1} << 30)) {
    return bad("--max-frame-bytes must be in [64, 1073741824], got " +
               std::to_string(c.max_frame_bytes));
  }
  if (c.sndhwm < 1) return bad("--sndhwm must be ≥ 1, got " + std::to_string(c.sndhwm));
  if (c.max_peer_backlog_bytes < 1024) {
    return bad("--max-peer-backlog must be ≥ 1024 bytes, got " +
               std::to_string(c.max_peer_backlog_bytes));
  }
  ZINFER_RETURN_IF_ERROR(validate_operations(c));
  if (c.max_pending_frames < 1) {
    return bad("max_pending_frames must be ≥ 1, got " + std::to_string(c.max_pending_frames));
  }
  return ok_status();
}

}  // namespace zinfer::worker
