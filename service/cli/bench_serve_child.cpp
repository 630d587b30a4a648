// ServeChild (see bench_serve_child.h).
#include "service/cli/bench_serve_child.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "service/client/dealer_client.h"
#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

// One request (health or stats) and its reply of the same type, on a fresh DEALER.
std::optional<protocol::WorkerMessage> ask(const std::string& endpoint,
                                           const protocol::ClientMessage& request,
                                           std::string_view type, int timeout_ms) {
  auto client = client::DealerClient::connect(endpoint, client::DealerOptions{}, "--bind");
  if (!client.ok()) return std::nullopt;
  if (!(*client)->send(protocol::encode_client(request), /*dont_wait=*/true)) return std::nullopt;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    client::Frame frame;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (!(*client)->recv(frame, static_cast<int>(std::max<std::int64_t>(left, 1)))) continue;
    auto msg = protocol::decode_worker(frame.bytes(), protocol::DecodeLimits{});
    if (msg.ok() && protocol::message_type(*msg) == type) return std::move(*msg);
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> fresh_endpoint(const std::string& transport) {
  static std::atomic<int> counter{0};
  if (transport == "ipc") {
    return "ipc:///tmp/zinfer-bench-" + std::to_string(getpid()) + "-" +
           std::to_string(counter.fetch_add(1)) + ".sock";
  }
  if (transport != "tcp") {
    return make_error(ErrorCode::kInvalidParameter,
                      "--transport must be ipc or tcp, got '" + transport + "'");
  }
  // A port the kernel hands out now; the child binds it a moment later.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(ErrorCode::kInternal, std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = strerror(errno);
    close(fd);
    return make_error(ErrorCode::kInternal, "no free TCP port on 127.0.0.1: " + why);
  }
  close(fd);
  return "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

Result<std::unique_ptr<ServeChild>> ServeChild::start(const std::string& endpoint,
                                                      const std::vector<std::string>& serve_args) {
  const std::string exe = self_exe();
  if (exe.empty()) return make_error(ErrorCode::kInternal, "cannot read /proc/self/exe");
  std::vector<std::string> args = {exe, "serve", "--bind", endpoint};
  args.insert(args.end(), serve_args.begin(), serve_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) return make_error(ErrorCode::kInternal, std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    dup2(STDERR_FILENO, STDOUT_FILENO);  // the bench's stdout is its report
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  auto child = std::unique_ptr<ServeChild>(new ServeChild());
  child->pid_ = pid;
  child->endpoint_ = endpoint;
  return child;
}

ServeChild::~ServeChild() {
  if (pid_ > 0 && !exit_status_) stop(10.0);
  if (endpoint_.rfind("ipc://", 0) == 0) {
    std::error_code ec;
    std::filesystem::remove(endpoint_.substr(6), ec);
  }
}

std::optional<int> ServeChild::poll_exit() {
  if (exit_status_) return exit_status_;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) == pid_)
    exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return exit_status_;
}

Status ServeChild::wait_ready(double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    if (auto st = poll_exit()) {
      return make_error(ErrorCode::kInternal, "zinfer serve exited with status " +
                                                  std::to_string(*st) +
                                                  " before it was ready (its messages are above)");
    }
    auto reply = ask(endpoint_, protocol::HealthMsg{}, "health", 500);
    if (reply) {
      const auto& h = std::get<protocol::HealthReply>(*reply);
      if (h.status == "ready") return ok_status();
    }
  }
  return make_error(
      ErrorCode::kInternal,
      "zinfer serve on " + endpoint_ + " was not ready within " + std::to_string(timeout_s) + " s");
}

std::optional<protocol::StatsReply> ServeChild::stats(double timeout_s) {
  auto reply = ask(endpoint_, protocol::StatsMsg{}, "stats", static_cast<int>(timeout_s * 1000));
  if (!reply) return std::nullopt;
  return std::get<protocol::StatsReply>(*reply);
}

int ServeChild::stop(double timeout_s) {
  if (auto st = poll_exit()) return *st;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (Clock::now() < deadline) {
    if (auto st = poll_exit()) return *st;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  int st = 0;
  waitpid(pid_, &st, 0);
  exit_status_ = 128 + SIGKILL;
  return *exit_status_;
}

}  // namespace zinfer::cli
