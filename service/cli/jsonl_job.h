// The JSONL lines of `zinfer submit`, shared by its ZeroMQ and NATS paths: a job line in (the
// wire submit fields as JSON, schemas/PROTOCOL.md §4.1, with "v", "type", "job_id" and
// "stream" filled in when absent) and a finished job's result line out.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace zinfer::cli {

struct JsonlJob {
  std::string job_id;
  std::string frame;  // msgpack submit
  std::int32_t priority = 0;
};

// Parses `line` (line number `line_no` of `source`); nullopt for a blank line. A bad line sets
// `problem` to the one-line message to print ("jobs.jsonl:3: expected a JSON object …").
std::optional<JsonlJob> parse_jsonl_job(const std::string& line, std::size_t line_no,
                                        const std::string& source, bool stream_default,
                                        std::string& problem);

// The result line of a job that ended with `done`: the frame without v/type/seq, with the
// text and tokens of every frame of the job (and its reasoning, for harmony jobs, whose done
// frame has that field).
nlohmann::json done_record(nlohmann::json done, const std::string& text,
                           const std::string& reasoning, const nlohmann::json& tokens);

}  // namespace zinfer::cli
