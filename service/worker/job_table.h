// JobTable: the I/O thread's live jobs, keyed by (client identity, client job_id), with the
// worker-wide handle the engine knows them by and how to answer them (envelope style).
// A job stays here from acceptance until its terminal frame has been sent (or dropped
// because its client is gone): the exactly-one-terminal bookkeeping lives here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace zinfer::worker {

struct JobEntry {
  std::uint64_t handle = 0;
  std::string client;      // ROUTER routing id (binary)
  std::string job_id;      // the client's id
  bool req_style = false;  // answer with an empty delimiter frame (REQ-style envelope)
  bool cancel_requested = false;
  std::int32_t prompt_tokens = 0;
  std::uint64_t ticket = 0;  // ≠ 0: the job came from the JobSource and answers through it
};

class JobTable {
 public:
  // The handle of the live job (client, job_id), if any.
  std::optional<std::uint64_t> find(const std::string& client, const std::string& job_id) const;
  // Adds a live job; the pair must not be live.
  JobEntry& insert(std::string client, std::string job_id, bool req_style);
  JobEntry* get(std::uint64_t handle);
  void erase(std::uint64_t handle);
  // Handles of the client's live jobs.
  std::vector<std::uint64_t> handles_of(const std::string& client) const;
  std::size_t size() const { return by_handle_.size(); }
  bool empty() const { return by_handle_.empty(); }

 private:
  static std::string key(const std::string& client, const std::string& job_id);
  std::uint64_t next_handle_ = 1;
  std::unordered_map<std::uint64_t, JobEntry> by_handle_;
  std::unordered_map<std::string, std::uint64_t> by_key_;
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> by_client_;
};

}  // namespace zinfer::worker
