// Validation of the operations settings of WorkerConfig (metrics, stall detection, CurveZMQ,
// per-client limits), kept apart from the core settings' checks. Messages name the flag.
#pragma once

#include "engine/core/error.h"
#include "service/worker/worker_config.h"

namespace zinfer::worker {

// kInvalidParameter naming the flag. Refuses a --bind beyond loopback without CurveZMQ keys
// or --insecure, and half a CurveZMQ configuration.
Status validate_operations(const WorkerConfig& config);

}  // namespace zinfer::worker
