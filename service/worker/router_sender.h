// RouterSender: non-blocking sends on the worker's ROUTER socket (ZMQ_ROUTER_MANDATORY on),
// so one slow or vanished client never stalls the others.
//
// Policy when a peer's ZeroMQ pipe is full (its SNDHWM reached, i.e. the client reads slower
// than it is served): the frame goes to a per-peer backlog in user space and every later frame
// for that peer queues behind it (per-job order is kept); backlogs are retried on every I/O
// loop turn. Nothing is dropped while the peer is connected. A peer whose backlog grows past
// max_backlog_bytes is reported once as overflowed; the worker then cancels its jobs so the
// backlog stops growing (their terminal frames still queue behind the rest).
// EHOSTUNREACH (the ROUTER no longer knows the peer: it disconnected) reports the peer gone.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zinfer::worker {

class RouterSender {
 public:
  enum class Outcome { kSent, kQueued, kGone };

  RouterSender(void* router, std::size_t max_backlog_bytes)
      : router_(router), max_backlog_bytes_(max_backlog_bytes) {}

  // Sends [peer, (empty,) payload] now, or queues it behind the peer's backlog.
  Outcome send(const std::string& peer, bool req_style, std::string_view payload);
  // Retries every backlog; appends the peers found gone (their backlogs are dropped).
  void flush(std::vector<std::string>& gone);
  bool has_backlog() const { return !backlogs_.empty(); }
  std::size_t backlog_frames() const;
  // Peers whose backlog passed the limit since the last call (each reported once).
  std::vector<std::string> take_overflowed();
  // Drops a peer's backlog (it is gone).
  void forget(const std::string& peer);

 private:
  struct Pending {
    bool req_style;
    std::string payload;
  };
  struct Backlog {
    std::deque<Pending> frames;
    std::size_t bytes = 0;
    bool overflow_reported = false;
  };
  // 0 sent, else errno (EAGAIN: pipe full, EHOSTUNREACH: peer gone).
  int try_send(const std::string& peer, bool req_style, std::string_view payload);
  void enqueue(const std::string& peer, bool req_style, std::string_view payload);

  void* router_;
  std::size_t max_backlog_bytes_;
  std::unordered_map<std::string, Backlog> backlogs_;
  std::vector<std::string> overflowed_;
};

}  // namespace zinfer::worker
