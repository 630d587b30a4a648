// MetricsHttpServer: the HTTP endpoint behind `serve --metrics` — a cpp-httplib server (Debian
// libcpp-httplib-dev) on a std::thread of ours that answers GET and HEAD /metrics with the
// Prometheus text format (0.0.4) of the registered collectables.
//
// Why not prometheus-cpp's Exposer: it runs civetweb, and Debian's civetweb is built with
// USE_STACK_SIZE=102400, so each thread it starts asks for a 100 KiB stack. glibc refuses
// (pthread_create → EINVAL) any stack smaller than the process's static TLS plus a guard page,
// and a zinfer that links the CUDA backend carries ~126 KiB of static TLS (cuBLASLt alone
// declares 92 KiB of thread-locals, aligned to 4 KiB). civetweb then gave up after bind and
// listen ("null context when constructing CivetServer"). cpp-httplib's listener (our thread) and
// its worker pool are std::threads with the default stack (RLIMIT_STACK, 8 MiB), whatever
// libraries the binary links.
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/error.h"

namespace httplib {
class Server;
}

namespace zinfer::worker {

class MetricsHttpServer {
 public:
  // Binds and listens on "HOST:PORT" ("127.0.0.1:9400", "0.0.0.0:0", "[::1]:9400",
  // "localhost:9400"; port 0 picks a free one) and starts serving. kInvalidParameter naming
  // --metrics when the address is malformed or cannot be bound.
  static Result<std::unique_ptr<MetricsHttpServer>> start(const std::string& bind);
  // Stops the server and joins its threads; a scrape in progress is cut short, and an idle
  // keep-alive connection holds it for at most its keep-alive timeout (1 s).
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Adds what each scrape collects, in registration order (any thread; scrapes that start
  // afterwards include it).
  void add(std::shared_ptr<prometheus::Collectable> collectable);
  // The port actually bound (resolves port 0).
  int port() const { return port_; }

 private:
  MetricsHttpServer();
  std::string exposition() const;  // the text format of every collectable, now

  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  mutable std::mutex mu_;  // guards collectables_
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::atomic<bool> listen_ended_{false};  // set when listen_after_bind() returns
  std::thread thread_;  // runs server_->listen_after_bind() until server_->stop()
};

}  // namespace zinfer::worker
