// Processes for the JetStream tests: a real `nats-server -js` on a free loopback port with a
// temporary store (restartable on the same store), `zinfer serve --nats` workers and
// `zinfer submit --nats` producers as child processes, JSONL job files and result readers,
// and a libnats connection for looking at consumers and subjects. Tests skip when the
// nats-server binary is absent.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace zinfer::nats_testing {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

inline std::string zinfer_bin() { return std::string(ZINFER_BINARY_DIR) + "/bin/zinfer"; }

inline std::string nats_server_bin() {
  for (const char* p :
       {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

inline bool port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// A child process with stdout+stderr in `log`.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::string& log) { start(argv, log); }
  ~Child() { kill_now(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void start(const std::vector<std::string>& argv, const std::string& log) {
    reaped_ = false;
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> args;
      for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }
  // Exit status (128 + signal when killed), or -1 if still running after timeout_ms.
  int wait(int timeout_ms) {
    if (reaped_) return status_;
    const auto end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (Clock::now() < end);
    return -1;
  }
  void kill_now() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait(10000);
    }
  }
  // VmRSS of the live process in KiB (0 when unknown).
  long rss_kib() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

// `nats-server -js` on 127.0.0.1:<free port>, store in a temporary directory.
class NatsServer {
 public:
  explicit NatsServer(const std::string& dir) : dir_(dir), port_(free_port()) {
    std::filesystem::create_directories(dir_);
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool start() {
    proc_ = std::make_unique<Child>(
        std::vector<std::string>{nats_server_bin(), "-js", "-a", "127.0.0.1", "-p",
                                 std::to_string(port_), "-sd", dir_ + "/store"},
        dir_ + "/nats-server.log");
    const auto end = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < end) {
      if (port_open(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
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

// A synthetic model for fast workers (written once per test process).
inline std::string tiny_model() {
  static const std::string path = [] {
    const std::string p = zinfer::testing::temp_dir() + "/tiny-llama-q8.gguf";
    const std::string cmd = "'" + zinfer_bin() +
                            "' mkmodel --preset tiny-llama --type Q8_0 --out '" + p +
                            "' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0 ? p : std::string();
  }();
  return path;
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

// Seeded sampling jobs: the same id always gives the same tokens, on any worker, any attempt.
inline void write_jobs(const std::string& path, const std::string& prefix, int n, int max_tokens,
                       int first = 0) {
  std::ofstream f(path);
  for (int i = first; i < first + n; ++i) {
    json j = {{"job_id", prefix + std::to_string(i)},
              {"prompt_tokens", {1, 2 + i % 50, 3 + i % 7, 4}},
              {"max_tokens", max_tokens},
              {"temperature", 0.9},
              {"seed", 1000 + i},
              {"ignore_eos", true},
              {"priority", i % 3 - 1}};
    f << j.dump() << "\n";
  }
}

inline std::vector<json> read_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty()) out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

inline std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
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
  // Deliveries over the three priority consumers of the tiny model's queue.
  std::int64_t deliveries() {
    std::int64_t n = 0;
    for (const char* c : {"zinfer-tiny-high", "zinfer-tiny-normal", "zinfer-tiny-low"})
      n += std::max<std::int64_t>(0, consumer("ZINFER_JOBS", c)[0]);
    return n;
  }
  jsCtx* js() { return js_; }
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
