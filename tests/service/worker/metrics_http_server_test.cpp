// MetricsHttpServer on a real loopback socket: port 0 resolves, GET /metrics returns the
// collectables in the text format (one added after start included), a keep-alive connection
// gets several scrapes, HEAD has no body, other paths, methods and malformed requests get
// 404 / 405 / 400 / 414, bad or busy addresses are refused naming --metrics, and the
// destructor does not wait long for an idle client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#ifdef ZINFER_HAVE_METRICS  // else the server is not built (no prometheus-cpp)
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "service/worker/metrics_http_server.h"
#endif

#include "tests/service/worker/metrics_scrape.h"

namespace zinfer::worker::testing {
namespace {

#ifdef ZINFER_HAVE_METRICS

int connect_loopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Sends `request` as is and returns everything the server wrote before closing.
std::string exchange(int port, const std::string& request) {
  const int fd = connect_loopback(port);
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return resp;
}

std::unique_ptr<MetricsHttpServer> start_with_counter(prometheus::Counter** counter,
                                                      std::shared_ptr<prometheus::Registry>& r) {
  auto s = MetricsHttpServer::start("127.0.0.1:0");
  EXPECT_TRUE(s.ok()) << s.error().message;
  if (!s.ok()) return nullptr;
  r = std::make_shared<prometheus::Registry>();
  *counter = &prometheus::BuildCounter()
                  .Name("test_things_total")
                  .Help("Things.")
                  .Register(*r)
                  .Add({{"kind", "a"}});
  (*s)->add(r);
  return std::move(*s);
}

TEST(MetricsHttpServer, GetMetricsReturnsTheCollectablesAsText) {
  std::shared_ptr<prometheus::Registry> r;
  prometheus::Counter* c = nullptr;
  auto s = start_with_counter(&c, r);
  ASSERT_NE(s, nullptr);
  ASSERT_GT(s->port(), 0);
  c->Increment(3);
  const std::string url = "http://127.0.0.1:" + std::to_string(s->port()) + "/metrics";
  auto text = http_get(url);
  ASSERT_TRUE(text.has_value());
  Scrape scrape = parse_exposition(*text);
  EXPECT_EQ(scrape.types["test_things_total"], "counter");
  EXPECT_EQ(scrape.value("test_things_total{kind=\"a\"}"), 3.0);
  // A collectable added while serving is in the next scrape.
  auto late = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("test_late").Help("Late.").Register(*late).Add({}).Set(7);
  s->add(late);
  text = http_get(url + "?x=1");  // a query string does not change the path
  ASSERT_TRUE(text.has_value());
  scrape = parse_exposition(*text);
  EXPECT_EQ(scrape.value("test_late"), 7.0);
  EXPECT_EQ(scrape.value("test_things_total{kind=\"a\"}"), 3.0);
  const std::string resp =
      exchange(s->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(resp.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << resp;
  EXPECT_NE(resp.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos)
      << resp;
  EXPECT_NE(resp.find("Connection: close"), std::string::npos) << resp;
}

TEST(MetricsHttpServer, KeepAliveConnectionServesSeveralScrapes) {
  std::shared_ptr<prometheus::Registry> r;
  prometheus::Counter* c = nullptr;
  auto s = start_with_counter(&c, r);
  ASSERT_NE(s, nullptr);
  const int fd = connect_loopback(s->port());
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 1; i <= 2; ++i) {
    c->Increment();
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    // Read one whole response: the headers, then Content-Length bytes of body.
    std::string resp;
    char buf[4096];
    std::size_t want = std::string::npos;
    while (want == std::string::npos || resp.size() < want) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      ASSERT_GT(n, 0) << "connection closed after " << resp;
      resp.append(buf, static_cast<std::size_t>(n));
      const auto end = resp.find("\r\n\r\n");
      const auto len = resp.find("Content-Length: ");
      if (end != std::string::npos && len != std::string::npos)
        want = end + 4 + std::stoul(resp.substr(len + 16));
    }
    EXPECT_EQ(resp.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << resp;
    EXPECT_NE(resp.find("test_things_total{kind=\"a\"} " + std::to_string(i)), std::string::npos)
        << resp;
  }
  close(fd);
}

TEST(MetricsHttpServer, OtherRequestsGetTheirStatus) {
  std::shared_ptr<prometheus::Registry> r;
  prometheus::Counter* c = nullptr;
  auto s = start_with_counter(&c, r);
  ASSERT_NE(s, nullptr);
  const std::string head = exchange(s->port(), "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "") << "HEAD has no body";
  EXPECT_EQ(exchange(s->port(), "GET / HTTP/1.0\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  const std::string post = exchange(s->port(), "POST /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD"), std::string::npos) << post;
  EXPECT_EQ(exchange(s->port(), "hello\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  // cpp-httplib's own limits: a header line it cannot hold is a 400, a long target a 414.
  const std::string huge = "GET /metrics HTTP/1.0\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(exchange(s->port(), huge).rfind("HTTP/1.1 400 ", 0), 0u);
  const std::string long_target = "GET /" + std::string(20000, 'a') + " HTTP/1.0\r\n\r\n";
  EXPECT_EQ(exchange(s->port(), long_target).rfind("HTTP/1.1 414 ", 0), 0u);
  // Still serving after all that.
  EXPECT_TRUE(http_get("http://127.0.0.1:" + std::to_string(s->port()) + "/metrics").has_value());
}

TEST(MetricsHttpServer, BadOrBusyAddressesAreRefusedNamingTheFlag) {
  auto busy = MetricsHttpServer::start("127.0.0.1:0");
  ASSERT_TRUE(busy.ok());
  for (const std::string& bind :
       {std::string("9400"), std::string("127.0.0.1:"), std::string("127.0.0.1:65536"),
        std::string("127.0.0.1:http"), std::string("no.such.host.invalid:9400"),
        "127.0.0.1:" + std::to_string((*busy)->port())}) {
    auto s = MetricsHttpServer::start(bind);
    ASSERT_FALSE(s.ok()) << bind;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidParameter) << bind;
    EXPECT_NE(s.error().message.find("--metrics"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(bind), std::string::npos) << s.error().message;
  }
}

TEST(MetricsHttpServer, DestructorDoesNotWaitForAnIdleClient) {
  auto s = MetricsHttpServer::start("127.0.0.1:0");
  ASSERT_TRUE(s.ok());
  const int fd = connect_loopback((*s)->port());  // connected, never sends a request
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  s->reset();
  // cpp-httplib 0.11 gives an idle connection its keep-alive timeout (1 s here) before it
  // notices stop(); nothing waits on the 5 s read timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));
  close(fd);
}

#else

TEST(MetricsHttpServer, BuiltWithoutMetricsLibraries) {
  GTEST_SKIP() << "built without prometheus-cpp or cpp-httplib";
}

#endif

}  // namespace
}  // namespace zinfer::worker::testing
