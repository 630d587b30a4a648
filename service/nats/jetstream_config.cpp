// JetStreamConfig validation and names (see jetstream_config.h).
#include "service/nats/jetstream_config.h"

#include <cctype>
#include <cmath>

namespace zinfer::nats {
namespace {

bool valid_token(const std::string& t) {
  if (t.empty()) return false;
  for (unsigned char c : t) {
    if (c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>') return false;
  }
  return true;
}

bool valid_subject(const std::string& s) {
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    if (!valid_token(s.substr(start, dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::string priority_class(std::int32_t priority) {
  if (priority > 0) return "high";
  return priority < 0 ? "low" : "normal";
}

std::string subject_token(const std::string& name) {
  std::string t;
  for (unsigned char c : name) {
    const bool keep = std::isalnum(c) != 0 || c == '_' || c == '-';
    t.push_back(keep ? static_cast<char>(std::tolower(c)) : '-');
  }
  return t.empty() ? "model" : t;
}

Status validate(const JetStreamConfig& c) {
  auto bad = [](const std::string& msg) { return make_error(ErrorCode::kInvalidParameter, msg); };
  if (c.url.rfind("nats://", 0) != 0 && c.url.rfind("tls://", 0) != 0) {
    return bad("--nats must be a nats:// or tls:// URL, got '" + c.url + "'");
  }
  if (!valid_token(c.model)) {
    return bad("--nats-model must be one subject token (no '.', '*', '>' or spaces), got '" +
               c.model + "'");
  }
  if (!valid_token(c.stream) || !valid_token(c.results_stream) || !valid_token(c.dead_stream)) {
    return bad("--nats-stream must be a stream name (no '.', '*', '>' or spaces), got '" +
               c.stream + "'");
  }
  if (!valid_subject(c.subject_prefix) || !valid_subject(c.results_prefix) ||
      !valid_subject(c.dead_prefix)) {
    return bad("--nats-subject must be a subject such as zinfer.jobs, got '" + c.subject_prefix +
               "'");
  }
  if (!std::isfinite(c.ack_wait_s) || c.ack_wait_s < 0.5 || c.ack_wait_s > 86400) {
    return bad("--nats-ack-wait must be in [0.5, 86400] seconds, got " +
               std::to_string(c.ack_wait_s));
  }
  if (c.max_deliver < 1 || c.max_deliver > 1000) {
    return bad("--nats-max-deliver must be in [1, 1000], got " + std::to_string(c.max_deliver));
  }
  if (!std::isfinite(c.nak_delay_s) || c.nak_delay_s < 0 || c.nak_delay_s > 3600) {
    return bad("--nats-nak-delay must be in [0, 3600] seconds, got " +
               std::to_string(c.nak_delay_s));
  }
  return ok_status();
}

}  // namespace zinfer::nats
