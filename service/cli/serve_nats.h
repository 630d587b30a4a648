// `zinfer serve --nats URL`: the flags of the JetStream ingress and the JobSource they make
// (service/nats/jetstream_ingress.h). In a build without libnats the flags exist and --nats
// reports that NATS support is missing.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "service/nats/jetstream_config.h"
#include "service/worker/job_source.h"

namespace zinfer::cli {

void add_serve_nats_flags(CLI::App* sub, nats::JetStreamConfig& config);

// Null when --nats was not given. `model_path` names the default --nats-model (its file stem).
Result<std::unique_ptr<worker::JobSource>> make_nats_source(nats::JetStreamConfig config,
                                                            const std::string& model_path);

}  // namespace zinfer::cli
