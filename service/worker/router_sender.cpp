// RouterSender (see router_sender.h).
#include "service/worker/router_sender.h"

#include <zmq.h>

#include <cerrno>

namespace zinfer::worker {

int RouterSender::try_send(const std::string& peer, bool req_style, std::string_view payload) {
  // With ROUTER_MANDATORY the routing-id part decides: EAGAIN when this peer's pipe is at its
  // HWM, EHOSTUNREACH when no such peer. Once it is taken the rest of the message follows
  // (the HWM only counts whole messages).
  if (zmq_send(router_, peer.data(), peer.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
    return zmq_errno();
  if (req_style) zmq_send(router_, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
  if (zmq_send(router_, payload.data(), payload.size(), ZMQ_DONTWAIT) < 0) return zmq_errno();
  return 0;
}

void RouterSender::enqueue(const std::string& peer, bool req_style, std::string_view payload) {
  Backlog& b = backlogs_[peer];
  b.frames.push_back(Pending{req_style, std::string(payload)});
  b.bytes += payload.size();
  if (b.bytes > max_backlog_bytes_ && !b.overflow_reported) {
    b.overflow_reported = true;
    overflowed_.push_back(peer);
  }
}

RouterSender::Outcome RouterSender::send(const std::string& peer, bool req_style,
                                         std::string_view payload) {
  if (!backlogs_.empty() && backlogs_.count(peer) != 0) {
    enqueue(peer, req_style, payload);
    return Outcome::kQueued;
  }
  const int err = try_send(peer, req_style, payload);
  if (err == 0) return Outcome::kSent;
  if (err == EHOSTUNREACH) return Outcome::kGone;
  enqueue(peer, req_style, payload);  // EAGAIN (or EINTR): retried by flush()
  return Outcome::kQueued;
}

void RouterSender::flush(std::vector<std::string>& gone) {
  for (auto it = backlogs_.begin(); it != backlogs_.end();) {
    Backlog& b = it->second;
    int err = 0;
    while (!b.frames.empty()) {
      const Pending& p = b.frames.front();
      err = try_send(it->first, p.req_style, p.payload);
      if (err != 0) break;
      b.bytes -= p.payload.size();
      b.frames.pop_front();
    }
    if (err == EHOSTUNREACH) {
      gone.push_back(it->first);
      it = backlogs_.erase(it);
    } else if (b.frames.empty()) {
      it = backlogs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t RouterSender::backlog_frames() const {
  std::size_t n = 0;
  for (const auto& [peer, b] : backlogs_) n += b.frames.size();
  return n;
}

std::vector<std::string> RouterSender::take_overflowed() {
  std::vector<std::string> out;
  out.swap(overflowed_);
  return out;
}

void RouterSender::forget(const std::string& peer) { backlogs_.erase(peer); }

}  // namespace zinfer::worker
