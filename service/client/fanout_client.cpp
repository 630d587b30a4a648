// FanoutClient (see fanout_client.h).
#include "service/client/fanout_client.h"

#include <zmq.h>

#include <algorithm>

#include "service/protocol/codec.h"

namespace zinfer::client {

Result<std::unique_ptr<FanoutClient>> FanoutClient::connect(
    const std::vector<std::string>& endpoints, const FanoutOptions& options) {
  std::unique_ptr<FanoutClient> f(new FanoutClient());
  f->options_ = options;
  // With several workers a send must fail while a worker is unreachable, so the job goes to
  // another one instead of queueing for a dead peer.
  if (endpoints.size() > 1) f->options_.dealer.immediate = true;
  for (const std::string& ep : endpoints) {
    auto d = DealerClient::connect(ep, f->options_.dealer);
    if (!d.ok()) return d.error();
    Worker w;
    w.endpoint = ep;
    w.dealer = std::move(*d);
    w.last_heard = Clock::now();
    f->workers_.push_back(std::move(w));
  }
  f->ping_ = protocol::encode_client(protocol::ClientMessage(protocol::HealthMsg{}));
  return f;
}

bool FanoutClient::submit(const std::string& job_id, std::string_view frame) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (!workers_[i].lost) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return workers_[a].in_flight < workers_[b].in_flight;
  });
  const bool dont_wait = workers_.size() > 1;
  for (std::size_t i : order) {
    if (!workers_[i].dealer->send(frame, dont_wait)) continue;
    if (workers_[i].in_flight == 0) workers_[i].last_heard = Clock::now();  // silence counts now
    ++workers_[i].in_flight;
    owner_[job_id] = i;
    return true;
  }
  return false;
}

void FanoutClient::send_to_owner(const std::string& job_id, std::string_view frame) {
  auto it = owner_.find(job_id);
  if (it != owner_.end()) workers_[it->second].dealer->send(frame, true);
}

bool FanoutClient::recv(Frame& out, std::size_t& worker, int timeout_ms) {
  std::vector<zmq_pollitem_t> items;
  for (const Worker& w : workers_) items.push_back({w.dealer->socket(), 0, ZMQ_POLLIN, 0});
  if (zmq_poll(items.data(), static_cast<int>(items.size()), timeout_ms) <= 0) return false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
    if (!workers_[i].dealer->recv(out, 0)) continue;
    worker = i;
    workers_[i].last_heard = Clock::now();
    workers_[i].lost = false;  // it answers again
    return true;
  }
  return false;
}

bool FanoutClient::owns(std::size_t worker, const std::string& job_id) const {
  auto it = owner_.find(job_id);
  return it != owner_.end() && it->second == worker;
}

void FanoutClient::finished(const std::string& job_id) {
  auto it = owner_.find(job_id);
  if (it == owner_.end()) return;
  Worker& w = workers_[it->second];
  if (w.in_flight > 0) --w.in_flight;
  owner_.erase(it);
}

std::vector<std::string> FanoutClient::tick() {
  const auto now = Clock::now();
  const auto heartbeat = std::chrono::duration<double>(options_.heartbeat_s);
  const auto lost_after = std::chrono::duration<double>(options_.lost_after_s);
  std::vector<std::string> orphans;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker& w = workers_[i];
    if (now - w.last_ping >= heartbeat) {
      w.dealer->send(ping_, true);
      w.last_ping = now;
    }
    if (w.lost || w.in_flight == 0 || now - w.last_heard < lost_after) continue;
    w.lost = true;
    for (auto it = owner_.begin(); it != owner_.end();) {
      if (it->second == i) {
        orphans.push_back(it->first);
        it = owner_.erase(it);
      } else {
        ++it;
      }
    }
    w.in_flight = 0;
  }
  return orphans;
}

}  // namespace zinfer::client
