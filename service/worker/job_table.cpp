// JobTable (see job_table.h).
#include "service/worker/job_table.h"

namespace zinfer::worker {

std::string JobTable::key(const std::string& client, const std::string& job_id) {
  // Length-prefixed: routing ids are arbitrary bytes, so no separator is safe on its own.
  return std::to_string(client.size()) + ":" + client + job_id;
}

std::optional<std::uint64_t> JobTable::find(const std::string& client,
                                            const std::string& job_id) const {
  auto it = by_key_.find(key(client, job_id));
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

JobEntry& JobTable::insert(std::string client, std::string job_id, bool req_style) {
  const std::uint64_t h = next_handle_++;
  by_key_.emplace(key(client, job_id), h);
  by_client_[client].insert(h);
  JobEntry e;
  e.handle = h;
  e.client = std::move(client);
  e.job_id = std::move(job_id);
  e.req_style = req_style;
  return by_handle_.emplace(h, std::move(e)).first->second;
}

JobEntry* JobTable::get(std::uint64_t handle) {
  auto it = by_handle_.find(handle);
  return it == by_handle_.end() ? nullptr : &it->second;
}

void JobTable::erase(std::uint64_t handle) {
  auto it = by_handle_.find(handle);
  if (it == by_handle_.end()) return;
  by_key_.erase(key(it->second.client, it->second.job_id));
  auto c = by_client_.find(it->second.client);
  if (c != by_client_.end()) {
    c->second.erase(handle);
    if (c->second.empty()) by_client_.erase(c);
  }
  by_handle_.erase(it);
}

std::vector<std::uint64_t> JobTable::handles_of(const std::string& client) const {
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace zinfer::worker
