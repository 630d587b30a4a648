// MetricsHttpServer (see metrics_http_server.h): "HOST:PORT" checking, the cpp-httplib routes
// (GET/HEAD /metrics; 405 for other methods there, 404 elsewhere) and the server's lifetime.
#include "service/worker/metrics_http_server.h"

#include <httplib.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <chrono>
#include <sstream>
#include <utility>

namespace zinfer::worker {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Per read or write on a connection: a scrape is one small request and one response.
constexpr auto kIoTimeout = std::chrono::seconds(5);
// How long an idle keep-alive connection is kept. cpp-httplib 0.11 waits this long for the next
// request without checking for stop(), so it also bounds how long the destructor can wait on an
// idle client; one second is far below any scrape interval, so scrapers simply reconnect.
constexpr time_t kKeepAliveSeconds = 1;
constexpr std::size_t kWorkerThreads = 2;  // scrapes are rare and short

Error bind_error(const std::string& bind, const std::string& why) {
  return make_error(ErrorCode::kInvalidParameter,
                    "--metrics: cannot serve metrics on '" + bind + "': " + why);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer() : server_(std::make_unique<httplib::Server>()) {}

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::start(const std::string& bind) {
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos) return bind_error(bind, "expected HOST:PORT");
  std::string host = bind.substr(0, colon);
  const std::string port_text = bind.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) > 65535)
    return bind_error(bind, "the port must be a number in 0..65535");
  if (host.empty()) host = "0.0.0.0";

  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  httplib::Server& http = *s->server_;
  http.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  http.set_read_timeout(kIoTimeout);
  http.set_write_timeout(kIoTimeout);
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_payload_max_length(8192);  // a scrape has no body
  // cpp-httplib's default also sets SO_REUSEPORT, which would let a second worker bind the same
  // --metrics port and take half the scrapes; a busy port must be an error instead.
  http.set_socket_options([](socket_t sock) {
    const int one = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  http.Get("/metrics", [p = s.get()](const httplib::Request& /*req*/, httplib::Response& res) {
    res.set_content(p->exposition(), kContentType);  // cpp-httplib drops the body for HEAD
  });
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.path != "/metrics" || req.method == "GET" || req.method == "HEAD")
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("GET or HEAD\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request& /*req*/, httplib::Response& res) {
        if (res.status != 404) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content("only /metrics is served here\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      }));

  // cpp-httplib reports only success or failure, not why.
  const int port = std::stoi(port_text);
  s->port_ = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (s->port_ < 0)
    return bind_error(bind,
                      "cannot bind (not a local address, or the port is in use or "
                      "privileged)");
  s->thread_ = std::thread([p = s.get()] {
    p->server_->listen_after_bind();
    p->listen_ended_.store(true);
  });
  // stop() does nothing until listen_after_bind() has marked the server running (cpp-httplib
  // 0.11 has no wait_until_ready()), so a destructor right after start() would wait forever.
  while (!http.is_running() && !s->listen_ended_.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

void MetricsHttpServer::add(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(mu_);
  collectables_.push_back(std::move(collectable));
}

std::string MetricsHttpServer::exposition() const {
  std::vector<std::shared_ptr<prometheus::Collectable>> sources;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sources = collectables_;
  }
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : sources) {
    auto part = c->Collect();
    families.insert(families.end(), std::make_move_iterator(part.begin()),
                    std::make_move_iterator(part.end()));
  }
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  return text.str();
}

}  // namespace zinfer::worker
