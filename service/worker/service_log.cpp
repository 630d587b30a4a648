// service_log() (see service_log.h).
#include "service/worker/service_log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace zinfer::worker {

spdlog::logger& service_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("service")) return existing;
    auto l = spdlog::stderr_color_mt("service");
    l->set_level(spdlog::get_level());
    return l;
  }();
  return *logger;
}

}  // namespace zinfer::worker
