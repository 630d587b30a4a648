// The ZeroMQ soak (issue 11): many DEALER clients run jobs against one `zinfer serve` process
// with random cancels and clients that disconnect with jobs in flight. Every job of a client
// that stays gets exactly one terminal frame (and nothing after it); the worker's counters
// balance (accepted = completed + cancelled + failed, nothing live, every KV block returned);
// its RSS grows < 20 MB after warm-up. ZINFER_SOAK=1 runs the acceptance size (10,000 jobs;
// scripts/soak.sh), the normal suite 2,000.
#include <gtest/gtest.h>
#include <zmq.h>

#include <random>
#include <set>
#include <unordered_map>

#include "tests/service/cli/batch_harness.h"

namespace zinfer::batch_testing {
namespace {

json request(const std::string& type) { return {{"v", 1}, {"type", type}}; }

std::string pack(const json& j) {
  const auto b = json::to_msgpack(j);
  return std::string(b.begin(), b.end());
}

// One DEALER client and what it has seen of its jobs.
struct SoakClient {
  void* socket = nullptr;
  std::set<std::string> live;                      // submitted, no terminal frame yet
  std::unordered_map<std::string, int> terminals;  // job id → terminal frames seen
  std::size_t after_terminal = 0;                  // frames of a job after its terminal one
};

class Soak {
 public:
  Soak(void* ctx, const std::string& endpoint, std::uint64_t seed)
      : ctx_(ctx), endpoint_(endpoint), rng_(seed) {}
  ~Soak() {
    for (auto& c : clients_) zmq_close(c.socket);
  }

  // Runs `n` jobs over `n_clients` clients with at most `window` each in flight.
  void run(int n, int n_clients, int window) {
    while (static_cast<int>(clients_.size()) < n_clients) add_client();
    int sent = 0;
    while (sent < n || any_live()) {
      for (std::size_t c = 0; c < clients_.size(); ++c) {
        while (sent < n && static_cast<int>(clients_[c].live.size()) < window) {
          submit(c, "s" + std::to_string(next_id_++));
          ++sent;
        }
      }
      pump(5);
      if (sent >= next_disconnect_) {  // about every 400 jobs a client vanishes mid-flight
        disconnect_one();
        next_disconnect_ = sent + 400;
      }
    }
  }
  void check() {
    for (const auto& c : clients_) {
      EXPECT_EQ(c.after_terminal, 0u);
      for (const auto& [id, n] : c.terminals) EXPECT_EQ(n, 1) << id;
    }
    EXPECT_EQ(checked_ + disconnected_jobs_, static_cast<std::size_t>(next_id_));
  }
  std::size_t cancels() const { return cancels_; }
  std::size_t disconnects() const { return disconnects_; }
  std::size_t disconnected_jobs() const { return disconnected_jobs_; }
  std::size_t checked() const { return checked_; }

 private:
  void add_client() {
    SoakClient c;
    c.socket = zmq_socket(ctx_, ZMQ_DEALER);
    const int linger = 0;
    EXPECT_EQ(zmq_setsockopt(c.socket, ZMQ_LINGER, &linger, sizeof(linger)), 0);
    zmq_connect(c.socket, endpoint_.c_str());
    clients_.push_back(std::move(c));
  }
  bool any_live() const {
    for (const auto& c : clients_) {
      if (!c.live.empty()) return true;
    }
    return false;
  }
  void submit(std::size_t c, const std::string& id) {
    std::uniform_int_distribution<int> tok(0, 511), len(1, 20), max_tokens(1, 16), pct(0, 99);
    std::vector<int> prompt(len(rng_));
    for (int& t : prompt) t = tok(rng_);
    json j = {{"v", 1},
              {"type", "submit"},
              {"job_id", id},
              {"prompt_tokens", prompt},
              {"max_tokens", max_tokens(rng_)},
              {"temperature", 0.8},
              {"seed", next_id_},
              {"stream", pct(rng_) < 70}};
    const std::string frame = pack(j);
    zmq_send(clients_[c].socket, frame.data(), frame.size(), 0);
    clients_[c].live.insert(id);
    if (pct(rng_) < 10) {  // cancel it right away, or a little later (whatever it reached)
      const std::string cancel = pack({{"v", 1}, {"type", "cancel"}, {"job_id", id}});
      zmq_send(clients_[c].socket, cancel.data(), cancel.size(), 0);
      ++cancels_;
    }
  }
  // Closes a random client with its jobs in flight and puts a fresh one in its place.
  void disconnect_one() {
    std::uniform_int_distribution<std::size_t> pick(0, clients_.size() - 1);
    const std::size_t c = pick(rng_);
    if (clients_[c].live.empty()) return;
    ++disconnects_;
    disconnected_jobs_ += clients_[c].live.size();
    zmq_close(clients_[c].socket);
    clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(c));
    add_client();
  }
  void pump(int timeout_ms) {
    std::vector<zmq_pollitem_t> items;
    for (auto& c : clients_) items.push_back({c.socket, 0, ZMQ_POLLIN, 0});
    if (zmq_poll(items.data(), static_cast<int>(items.size()), timeout_ms) <= 0) return;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
      while (true) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, clients_[i].socket, ZMQ_DONTWAIT) < 0) {
          zmq_msg_close(&m);
          break;
        }
        const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
        json f = json::from_msgpack(d, d + zmq_msg_size(&m), true, false);
        zmq_msg_close(&m);
        on_frame(clients_[i], f);
      }
    }
  }
  void on_frame(SoakClient& c, const json& f) {
    const std::string type = f.value("type", "");
    const std::string id = f.value("job_id", "");
    if (type == "accepted") return;
    if (c.terminals.count(id) != 0) {
      ++c.after_terminal;  // anything after the terminal frame breaks the invariant
      return;
    }
    if (type == "done" || type == "error") {
      ADD_FAILURE_IF(c.live.erase(id) == 0, id);
      c.terminals[id] = 1;
      ++checked_;
    }
  }
  static void ADD_FAILURE_IF(bool bad, const std::string& id) {
    if (bad) ADD_FAILURE() << "terminal frame for a job not in flight: " << id;
  }

  void* ctx_;
  std::string endpoint_;
  std::mt19937_64 rng_;
  std::vector<SoakClient> clients_;
  int next_id_ = 0;
  int next_disconnect_ = 200;
  std::size_t checked_ = 0, cancels_ = 0, disconnects_ = 0, disconnected_jobs_ = 0;
};

json stats(void* ctx, const std::string& endpoint) {
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  const int linger = 0;
  EXPECT_EQ(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
  zmq_connect(s, endpoint.c_str());
  const std::string req = pack(request("stats"));
  zmq_send(s, req.data(), req.size(), 0);
  zmq_pollitem_t item{s, 0, ZMQ_POLLIN, 0};
  json reply;
  if (zmq_poll(&item, 1, 10000) > 0) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, s, 0);
    const auto* d = static_cast<const std::uint8_t*>(zmq_msg_data(&m));
    reply = json::from_msgpack(d, d + zmq_msg_size(&m), true, false);
    zmq_msg_close(&m);
  }
  zmq_close(s);
  return reply;
}

TEST(ZmqSoak, EveryJobOneTerminalFrameKvReturnedRssFlat) {
  ASSERT_FALSE(tiny_model().empty());
  const bool full = std::getenv("ZINFER_SOAK") != nullptr;
  const int n = full ? 10000 : 2000;
  const std::string dir = zinfer::testing::temp_dir() + "/zmq_soak";
  std::filesystem::create_directories(dir);
  const std::string ep = "ipc://" + dir + "/w.sock";
  Child worker({zinfer_bin(), "serve", "--model", tiny_model(), "--device", "cpu", "--threads", "1",
                "--bind", ep, "--max-running", "16", "--log-level", "warn"},
               dir + "/worker.log");
  void* ctx = zmq_ctx_new();
  std::size_t warm_checked = 0;
  {
    Soak warm(ctx, ep, 1);
    warm.run(1000, 8, 16);  // warm-up: allocator pools, KV blocks, code pages
    warm.check();
    warm_checked = warm.checked();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long rss_warm = worker.rss_kib();
  const auto started = Clock::now();
  auto soak_ptr = std::make_unique<Soak>(ctx, ep, 42);
  Soak& soak = *soak_ptr;
  soak.run(n, 8, 16);
  const double secs = std::chrono::duration<double>(Clock::now() - started).count();
  soak.check();
  // Disconnected clients' jobs end when the worker finds them gone: wait until nothing is live.
  json s;
  const auto until = Clock::now() + std::chrono::seconds(30);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    s = stats(ctx, ep);
  } while ((s.value("active_jobs", 1) != 0 || s.value("queue_depth", 1) != 0 ||
            s.value("kv_blocks_used", 1) != 0) &&
           Clock::now() < until);
  const long rss_end = worker.rss_kib();
  std::printf(
      "%d jobs in %.1f s (%.0f jobs/s): %zu cancels sent, %zu clients disconnected with %zu "
      "jobs; worker: accepted %lld, completed %lld, cancelled %lld, failed %lld, rejected %lld; "
      "KV blocks used %lld of %lld; RSS %ld KiB after warm-up → %ld KiB (%+.1f MiB)\n",
      n, secs, n / secs, soak.cancels(), soak.disconnects(), soak.disconnected_jobs(),
      s.value("jobs_accepted", 0LL), s.value("jobs_completed", 0LL), s.value("jobs_cancelled", 0LL),
      s.value("jobs_failed", 0LL), s.value("jobs_rejected", 0LL), s.value("kv_blocks_used", -1LL),
      s.value("kv_blocks_total", -1LL), rss_warm, rss_end,
      static_cast<double>(rss_end - rss_warm) / 1024.0);
  EXPECT_EQ(s.value("active_jobs", -1), 0);
  EXPECT_EQ(s.value("queue_depth", -1), 0);
  EXPECT_EQ(s.value("kv_blocks_used", -1), 0);
  EXPECT_EQ(s.value("jobs_accepted", 0LL), s.value("jobs_completed", 0LL) +
                                               s.value("jobs_cancelled", 0LL) +
                                               s.value("jobs_failed", 0LL));
  // Every job of a client that stayed reached the worker; a vanished client's unsent ones not.
  const long long seen = s.value("jobs_accepted", 0LL) + s.value("jobs_rejected", 0LL);
  EXPECT_GE(seen, static_cast<long long>(warm_checked + soak.checked()));
  EXPECT_LE(seen, n + 1000LL);
  EXPECT_GT(soak.cancels(), 0u);
  EXPECT_GT(soak.disconnects(), 0u);
  EXPECT_LT(rss_end - rss_warm, 20 * 1024) << "RSS growth after warm-up";
  soak_ptr.reset();  // its sockets close before the context ends
  zmq_ctx_term(ctx);
  worker.signal(SIGTERM);
  EXPECT_EQ(worker.wait(30000), 0);
}

}  // namespace
}  // namespace zinfer::batch_testing
