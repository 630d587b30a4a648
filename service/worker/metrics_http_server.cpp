// MetricsHttpServer (see metrics_http_server.h): bind/listen, the accept loop and a minimal
// HTTP/1.x responder for Prometheus scrapes (GET or HEAD /metrics; 404 and 405 otherwise).
#include "service/worker/metrics_http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <sstream>
#include <utility>

namespace zinfer::worker {
namespace {

constexpr std::size_t kMaxRequestBytes = 8192;  // request line + headers; a scrape needs ~200
constexpr auto kClientTimeout = std::chrono::seconds(5);  // per connection, read and write

Error bind_error(const std::string& bind, const std::string& why) {
  return make_error(ErrorCode::kInvalidParameter,
                    "--metrics: cannot serve metrics on '" + bind + "': " + why);
}

// Waits until `fd` has `events` or `wake_fd` is readable or the deadline passes: true only in
// the first case.
bool wait_for(int fd, short events, int wake_fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || (p[1].revents & POLLIN) != 0) return false;
    return (p[0].revents & (events | POLLERR | POLLHUP)) != 0;
  }
}

bool send_all(int fd, const std::string& data, int wake_fd,
              std::chrono::steady_clock::time_point deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    if (!wait_for(fd, POLLOUT, wake_fd, deadline)) return false;
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string response(const char* status, const char* content_type, const std::string& body,
                     bool with_body, const char* extra_header = "") {
  std::string r = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_header +
                  "Connection: close\r\n\r\n";
  if (with_body) r += body;
  return r;
}

}  // namespace

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::start(const std::string& bind) {
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos) return bind_error(bind, "expected HOST:PORT");
  std::string host = bind.substr(0, colon);
  const std::string port = bind.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return bind_error(bind, "the port must be a number in 0..65535");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) return bind_error(bind, gai_strerror(gai));
  int fd = -1;
  std::string why = "no address to bind";
  for (const addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 16) != 0) {
      why = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return bind_error(bind, why);

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  const int wake = eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    close(fd);
    return bind_error(bind, std::string("eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer(fd, wake, bound_port));
  s->thread_ = std::thread([p = s.get()] { p->serve(); });
  return s;
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int wake_fd, int port)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), port_(port) {}

MetricsHttpServer::~MetricsHttpServer() {
  stop_.store(true);
  const std::uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
}

void MetricsHttpServer::add(std::shared_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(mu_);
  collectables_.push_back(std::move(collectable));
}

void MetricsHttpServer::serve() {
  while (!stop_.load()) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;  // EINTR
    if ((p[1].revents & POLLIN) != 0) return;
    if ((p[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // the peer gave up, or out of descriptors for now
    answer(fd);
    close(fd);
  }
}

void MetricsHttpServer::answer(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kClientTimeout;
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos) {
    if (req.size() > kMaxRequestBytes) {
      send_all(fd, response("431 Request Header Fields Too Large", "text/plain", "", true),
               wake_fd_, deadline);
      return;
    }
    if (!wait_for(fd, POLLIN, wake_fd_, deadline)) return;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;  // closed before a whole request arrived
    req.append(buf, static_cast<std::size_t>(n));
  }
  // Request line: METHOD SP TARGET SP HTTP/x.y
  std::istringstream line(req.substr(0, req.find_first_of("\r\n")));
  std::string method, target, version;
  line >> method >> target >> version;
  const std::string path = target.substr(0, target.find('?'));
  std::string out;
  if (version.rfind("HTTP/1.", 0) != 0) {
    out = response("400 Bad Request", "text/plain", "bad request line\n", true);
  } else if (path != "/metrics") {
    out =
        response("404 Not Found", "text/plain", "only /metrics is served here\n", method != "HEAD");
  } else if (method != "GET" && method != "HEAD") {
    out = response("405 Method Not Allowed", "text/plain", "GET or HEAD\n", true,
                   "Allow: GET, HEAD\r\n");
  } else {
    try {
      out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", exposition(),
                     method == "GET");
    } catch (const std::exception& e) {
      out = response("500 Internal Server Error", "text/plain", std::string(e.what()) + "\n", true);
    }
  }
  send_all(fd, out, wake_fd_, deadline);
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
