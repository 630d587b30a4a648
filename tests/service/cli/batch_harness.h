// Child processes for the multi-process service tests: `zinfer serve` workers and `zinfer
// submit` producers with their output in a log file, signals, exit status and RSS; a free
// loopback port; the tiny synthetic model; seeded JSONL job files and result readers.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
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
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace zinfer::batch_testing {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

inline std::string zinfer_bin() { return std::string(ZINFER_BINARY_DIR) + "/bin/zinfer"; }

inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return 0;
  }
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

// A synthetic model written by `zinfer mkmodel` into the test's temporary directory ("" when
// that fails).
inline std::string synthetic_model(const std::string& preset, const std::string& type) {
  std::string p = zinfer::testing::temp_dir() + "/" + preset + "-" + type + ".gguf";
  if (std::filesystem::exists(p)) return p;
  const std::string cmd = "'" + zinfer_bin() + "' mkmodel --preset " + preset + " --type " + type +
                          " --out '" + p + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 ? p : std::string();
}

// The model of the fast workers.
inline std::string tiny_model() { return synthetic_model("tiny-llama", "Q8_0"); }

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

}  // namespace zinfer::batch_testing
