// ServeChild: a real `zinfer serve` started by `zinfer bench --e2e` as a child process (this
// same binary, /proc/self/exe), on a fresh ipc:// or tcp:// endpoint. The child's stdout is
// sent to stderr, so a --json report on stdout stays one clean line.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "service/protocol/messages.h"

namespace zinfer::cli {

// A fresh endpoint of the transport ("ipc": a socket file under /tmp; "tcp": a free port on
// 127.0.0.1), different on every call.
Result<std::string> fresh_endpoint(const std::string& transport);

class ServeChild {
 public:
  // Starts `zinfer serve --bind endpoint <serve_args>`; it is ready once ready() says so.
  static Result<std::unique_ptr<ServeChild>> start(const std::string& endpoint,
                                                   const std::vector<std::string>& serve_args);
  ~ServeChild();  // stops it (SIGTERM, then SIGKILL) if still running
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;

  // Waits until the worker answers a health request with "ready" (it binds once the model is
  // loaded); an error when it exits first or timeout_s passes.
  Status wait_ready(double timeout_s);
  // The worker's counters (prompt_tokens_cached, engine_steps, ...); nullopt on no answer.
  std::optional<protocol::StatsReply> stats(double timeout_s);
  // SIGTERM (drain) and wait; SIGKILL after timeout_s. The exit status (128+signal if killed).
  int stop(double timeout_s);
  const std::string& endpoint() const { return endpoint_; }

 private:
  ServeChild() = default;
  std::optional<int> poll_exit();  // the exit status when it has exited
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string endpoint_;
};

}  // namespace zinfer::cli
