// The "service" spdlog logger (per-job lines carry the job id and the client), created once.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace zinfer::worker {

// The named logger "service" (stderr); created on first use, shared by every thread.
spdlog::logger& service_log();

}  // namespace zinfer::worker
