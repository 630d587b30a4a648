// The JetStream tests' side of the harness: a real `nats-server -js` on a free loopback port
// with a temporary store (restartable on the same store), `zinfer serve --nats` argument
// lists, the producer's summary counts and a libnats connection for looking at consumers.
// Tests skip when the nats-server binary is absent.
#pragma once

#include <nats/nats.h>

#include <array>

#include "tests/service/cli/batch_harness.h"

namespace zinfer::nats_testing {

using namespace zinfer::batch_testing;  // NOLINT(google-build-using-namespace)

inline std::string nats_server_bin() {
  for (const char* p :
       {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// Whether the NATS server listening on 127.0.0.1:port is the one named `name` (its first line,
// INFO {...}, carries "server_name").
inline bool nats_server_named(int port, const std::string& name) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string info;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    std::array<char, 4096> buf{};
    while (info.find('\n') == std::string::npos && info.size() < buf.size()) {
      const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      info.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return info.find("\"server_name\":\"" + name + "\"") != std::string::npos;
}

// `nats-server -js` on 127.0.0.1:<free port>, store in a temporary directory. start() checks
// that the server answering on the port is this one (by name): a free port picked by one test
// can be taken by another test running in parallel before the server binds it, and then both
// would talk to one server. On such a clash it starts again on another port.
class NatsServer {
 public:
  explicit NatsServer(const std::string& dir) : dir_(dir), port_(free_port()) {
    std::filesystem::create_directories(dir_);
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt > 0) port_ = free_port();
      const std::string name =
          "zinfer-test-" + std::to_string(getpid()) + "-" + std::to_string(port_);
      proc_ = std::make_unique<Child>(
          std::vector<std::string>{nats_server_bin(), "-js", "-a", "127.0.0.1", "-p",
                                   std::to_string(port_), "-n", name, "-sd", dir_ + "/store"},
          dir_ + "/nats-server.log");
      const auto end = Clock::now() + std::chrono::seconds(10);
      while (Clock::now() < end) {
        if (nats_server_named(port_, name)) return true;
        if (proc_->wait(0) >= 0) break;  // exited: the port is someone else's
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      proc_.reset();
    }
    return false;
  }
  // SIGTERM and wait for the exit (the store is flushed), as an operator's restart does.
  void stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    proc_->wait(15000);
    proc_.reset();
  }
  ~NatsServer() { stop(); }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Child> proc_;
};

#define REQUIRE_NATS_SERVER()                                                   \
  if (::zinfer::nats_testing::nats_server_bin().empty()) {                      \
    GTEST_SKIP() << "nats-server not installed (scripts/setup.sh installs it)"; \
  }

// `zinfer serve` with the JetStream ingress on the tiny model; extra flags appended.
inline std::vector<std::string> worker_argv(const std::string& url, const std::string& bind,
                                            const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {zinfer_bin(),   "serve", "--model",     tiny_model(),
                                "--device",     "cpu",   "--threads",   "1",
                                "--bind",       bind,    "--nats",      url,
                                "--nats-model", "tiny",  "--log-level", "info"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// The producer's summary line: "[submit] N jobs: D done, F failed, L lost, X duplicated …, R
// redelivered …" → {"done": D, …}.
inline std::map<std::string, long> summary_counts(const std::string& log) {
  std::map<std::string, long> m;
  const auto at = log.rfind("[submit] ");
  if (at == std::string::npos) return m;
  std::istringstream in(log.substr(at + 9));
  long n = 0;
  std::string word;
  in >> n >> word;  // "N jobs:"
  m["jobs"] = n;
  while (in >> n >> word) {
    while (!word.empty() && (word.back() == ',' || word.back() == ':')) word.pop_back();
    m[word] = n;
    std::string skip;
    if (word == "duplicated" || word == "redelivered") {
      while (in >> skip && skip.find(')') == std::string::npos) {
      }
    }
  }
  return m;
}

// A plain libnats connection for the checks (consumer state, subjects).
class NatsProbe {
 public:
  explicit NatsProbe(const std::string& url) {
    natsConnection_ConnectTo(&nc_, url.c_str());
    if (nc_ != nullptr) natsConnection_JetStream(&js_, nc_, nullptr);
  }
  ~NatsProbe() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  bool ok() const { return js_ != nullptr; }
  natsConnection* nc() { return nc_; }
  // Deliveries (redeliveries included) over the three priority consumers of the tiny model's
  // queue, and the redeliveries among them.
  std::int64_t deliveries() { return over_consumers(0); }
  std::int64_t redeliveries() { return over_consumers(2); }
  jsCtx* js() { return js_; }
  // Field f of consumer() summed over the three priority consumers (unknown ones count 0).
  std::int64_t over_consumers(int f) {
    std::int64_t n = 0;
    for (const char* c : {"zinfer-tiny-high", "zinfer-tiny-normal", "zinfer-tiny-low"})
      n += std::max<std::int64_t>(0, consumer("ZINFER_JOBS", c)[static_cast<std::size_t>(f)]);
    return n;
  }
  // {deliveries (redeliveries included), ack_pending, redelivered, pending}; all -1 when the
  // consumer is unknown.
  std::array<std::int64_t, 4> consumer(const std::string& stream, const std::string& name) {
    jsConsumerInfo* ci = nullptr;
    if (js_GetConsumerInfo(&ci, js_, stream.c_str(), name.c_str(), nullptr, nullptr) != NATS_OK) {
      return {-1, -1, -1, -1};
    }
    std::array<std::int64_t, 4> r = {static_cast<std::int64_t>(ci->Delivered.Consumer),
                                     ci->NumAckPending, ci->NumRedelivered,
                                     static_cast<std::int64_t>(ci->NumPending)};
    jsConsumerInfo_Destroy(ci);
    return r;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace zinfer::nats_testing
