// WorkerConfig: the settings of one worker process (ROUTER endpoint, admission, drain,
// flow control), validated once at start-up with messages that name the CLI flag.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/error.h"

namespace zinfer::worker {

struct WorkerConfig {
  std::string bind = "tcp://127.0.0.1:5555";  // --bind: ROUTER endpoint (tcp://, ipc://, inproc://)
  std::int32_t max_queued = 1024;             // --max-queued: accepted jobs not yet running
  double drain_timeout_s = 30.0;           // --drain-timeout: running jobs get this long on drain
  std::size_t max_frame_bytes = 1u << 20;  // --max-frame-bytes: largest accepted request frame
  std::int32_t sndhwm = 10000;             // --sndhwm: frames ZeroMQ queues per peer
  std::size_t max_peer_backlog_bytes = 64u << 20;  // --max-peer-backlog: bytes held for a slow peer
  std::int32_t max_pending_frames =
      65536;  // engine pauses while this many frames await the I/O thread
  // Operations (README "Operations"):
  std::string metrics_bind;     // --metrics: HOST:PORT of the Prometheus endpoint ("" = off)
  double stall_timeout_s = 60;  // --stall-timeout: pending work + no step this long → "stalled"
  std::string curve_secret_key_file;      // --curve-secret-key: the worker's key (zinfer keygen)
  std::string curve_authorized_keys_dir;  // --curve-authorized-keys: clients' public keys
  bool insecure = false;  // --insecure: allow a plaintext bind beyond loopback (warns)
  std::string
      probe_bind;  // --probe-bind: extra local endpoint without CurveZMQ (probes) ("" = none)
  std::int32_t max_jobs_per_client = 0;  // --max-jobs-per-client: live jobs per client (0 = ∞)
  double max_client_bytes_per_s = 0;     // --max-client-bytes-per-s: request bytes (0 = ∞)
};

// kInvalidParameter naming the flag ("--max-queued must be ≥ 1, got 0").
Status validate(const WorkerConfig& config);

}  // namespace zinfer::worker
