// parse_jsonl_job() (see jsonl_job.h).
#include "service/cli/jsonl_job.h"

#include "service/protocol/codec.h"

namespace zinfer::cli {
namespace {

using json = nlohmann::json;

// The parser's own message with its column, minus the library's prefix: "column 7: syntax
// error while parsing object key - invalid literal; last read: '{"a":1,x'; expected string
// literal".
std::string parse_error_text(const json::parse_error& e) {
  std::string what = e.what();
  if (const auto at = what.find("column "); at != std::string::npos) return what.substr(at);
  if (const auto at = what.find("] "); at != std::string::npos) return what.substr(at + 2);
  return what;
}

}  // namespace

std::optional<JsonlJob> parse_jsonl_job(const std::string& line, std::size_t line_no,
                                        const std::string& source, bool stream_default,
                                        std::string& problem) {
  problem.clear();
  if (line.find_first_not_of(" \t\r") == std::string::npos) return std::nullopt;
  const std::string where = source + ":" + std::to_string(line_no) + ": ";
  json j;
  try {
    j = json::parse(line);
  } catch (const json::parse_error& e) {
    problem = where + parse_error_text(e);
    return std::nullopt;
  }
  if (!j.is_object()) {
    problem = where + "expected a JSON object (one submit per line), got " +
              (j.is_array() ? "an array" : j.type_name());
    return std::nullopt;
  }
  if (!j.contains("v")) j["v"] = protocol::kProtocolVersion;
  if (!j.contains("type")) j["type"] = "submit";
  if (!j.contains("job_id")) j["job_id"] = "job-" + std::to_string(line_no);
  if (!j.contains("stream")) j["stream"] = stream_default;
  if (j["type"] != "submit" || !j["job_id"].is_string()) {
    problem = where + "expected a submit with a string job_id";
    return std::nullopt;
  }
  JsonlJob job;
  job.job_id = j["job_id"].get<std::string>();
  if (j.contains("priority") && j["priority"].is_number_integer()) {
    job.priority = j["priority"].get<std::int32_t>();
  }
  const std::vector<std::uint8_t> bytes = json::to_msgpack(j);
  job.frame.assign(bytes.begin(), bytes.end());
  return job;
}

json done_record(json done, const std::string& text, const std::string& reasoning,
                 const json& tokens) {
  done.erase("v");
  done.erase("type");
  done.erase("seq");
  done["text"] = text;
  if (done.contains("reasoning")) done["reasoning"] = reasoning;
  done["tokens"] = tokens;
  return done;
}

}  // namespace zinfer::cli
