// The operations flags of `zinfer serve` (metrics, stall detection, CurveZMQ, per-client
// limits, the stall test hook) and the CurveZMQ flags of the client commands (submit, health),
// registered in one place so each command adds them with one call.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "service/client/dealer_client.h"
#include "service/worker/worker_config.h"

namespace zinfer::cli {

struct StallHook {
  std::int64_t after_steps = -1;  // hidden --test-stall-after-steps (-1 = off)
  double seconds = 3600.0;        // hidden --test-stall-seconds
};

void add_serve_operations_flags(CLI::App* sub, worker::WorkerConfig& config, StallHook& hook);

struct ClientCurveArgs {
  std::string server_key_file;  // --curve-server-key: the worker's public key file
  std::string secret_key_file;  // --curve-secret-key: this client's key (the _secret file)
};

void add_client_curve_flags(CLI::App* sub, ClientCurveArgs& args);
// Reads the key files into `options` (nothing when neither flag was given). Errors name the flag.
Status apply_client_curve(const ClientCurveArgs& args, client::DealerOptions& options);

}  // namespace zinfer::cli
