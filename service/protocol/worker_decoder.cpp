// decode_worker(): worker → client frames back into WorkerMessage, for the C++ client and
// tests. As strict as decode_client: every documented field is required (except the optional
// ones: logprobs, reasoning, error.job_id), typed and range-checked; unknown fields are
// ignored.
#include <cstdint>
#include <limits>

#include "service/protocol/codec.h"
#include "service/protocol/msgpack_reader.h"
#include "service/protocol/submit_decoder.h"

namespace zinfer::protocol {
namespace {

using detail::field_error;
using detail::MapReader;

constexpr std::int64_t kI32Max = std::numeric_limits<std::int32_t>::max();
constexpr ErrorCode kBad = ErrorCode::kInvalidRequest;

const msgpack::object* need(const MapReader& m, std::string_view key, Error& err) {
  const msgpack::object* o = m.get(key);
  if (o == nullptr) err = field_error(kBad, m.path(key), "required");
  return o;
}

Result<std::string> req_str(const MapReader& m, std::string_view key) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  ZINFER_ASSIGN_OR_RETURN(std::string_view s, detail::read_str(*o, m.path(key)));
  return std::string(s);
}

Result<std::optional<std::string>> opt_str(const MapReader& m, std::string_view key) {
  ZINFER_ASSIGN_OR_RETURN(std::optional<std::string_view> s, m.str(key));
  if (!s) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*s));
}

Result<std::int64_t> req_int(const MapReader& m, std::string_view key, std::int64_t lo,
                             std::int64_t hi) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  return detail::read_int(*o, m.path(key), lo, hi, kBad);
}

Result<std::uint64_t> req_u64(const MapReader& m, std::string_view key) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  return detail::read_uint64(*o, m.path(key), kBad);
}

Result<double> req_num(const MapReader& m, std::string_view key) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  return detail::read_number(*o, m.path(key));
}

Result<bool> req_bool(const MapReader& m, std::string_view key) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  return detail::read_bool(*o, m.path(key));
}

Result<const msgpack::object_array*> req_array(const MapReader& m, std::string_view key) {
  Error err;
  const msgpack::object* o = need(m, key, err);
  if (o == nullptr) return err;
  if (o->type != msgpack::type::ARRAY) {
    return field_error(kBad, m.path(key),
                       "must be an array, got " + std::string(detail::type_name(*o)));
  }
  return &o->via.array;
}

Result<std::vector<std::int32_t>> req_tokens(const MapReader& m, std::string_view key) {
  ZINFER_ASSIGN_OR_RETURN(const msgpack::object_array* arr, req_array(m, key));
  std::vector<std::int32_t> out;
  out.reserve(arr->size);
  for (std::uint32_t i = 0; i < arr->size; ++i) {
    ZINFER_ASSIGN_OR_RETURN(
        std::int64_t t, detail::read_int(arr->ptr[i], m.path(key) + "[" + std::to_string(i) + "]",
                                         0, kI32Max, kBad));
    out.push_back(static_cast<std::int32_t>(t));
  }
  return out;
}

Result<std::vector<TokenLogprob>> opt_logprobs(const MapReader& m) {
  std::vector<TokenLogprob> out;
  if (m.get("logprobs") == nullptr) return out;
  ZINFER_ASSIGN_OR_RETURN(const msgpack::object_array* arr, req_array(m, "logprobs"));
  for (std::uint32_t i = 0; i < arr->size; ++i) {
    ZINFER_ASSIGN_OR_RETURN(MapReader e, MapReader::make(arr->ptr[i], m.path("logprobs") + "[" +
                                                                          std::to_string(i) + "]"));
    TokenLogprob lp;
    ZINFER_ASSIGN_OR_RETURN(std::int64_t token, req_int(e, "token", 0, kI32Max));
    lp.token = static_cast<std::int32_t>(token);
    ZINFER_ASSIGN_OR_RETURN(double logprob, req_num(e, "logprob"));
    lp.logprob = static_cast<float>(logprob);
    ZINFER_ASSIGN_OR_RETURN(const msgpack::object_array* top, req_array(e, "top"));
    for (std::uint32_t k = 0; k < top->size; ++k) {
      ZINFER_ASSIGN_OR_RETURN(
          MapReader t, MapReader::make(top->ptr[k], e.path("top") + "[" + std::to_string(k) + "]"));
      ZINFER_ASSIGN_OR_RETURN(std::int64_t alt, req_int(t, "token", 0, kI32Max));
      ZINFER_ASSIGN_OR_RETURN(double alt_lp, req_num(t, "logprob"));
      lp.top.emplace_back(static_cast<std::int32_t>(alt), static_cast<float>(alt_lp));
    }
    out.push_back(std::move(lp));
  }
  return out;
}

Result<sched::FinishReason> finish_reason(const MapReader& m) {
  ZINFER_ASSIGN_OR_RETURN(std::string r, req_str(m, "finish_reason"));
  for (auto f : {sched::FinishReason::kStop, sched::FinishReason::kLength,
                 sched::FinishReason::kCancelled, sched::FinishReason::kDeadline}) {
    if (r == sched::finish_reason_name(f)) return f;
  }
  return field_error(
      kBad, m.path("finish_reason"),
      "must be one of stop|length|cancelled|deadline, got " + detail::quote_for_message(r));
}

// Wire code name → ErrorCode. Names this build does not know (a newer worker) map to
// kUnknown rather than failing the whole frame: the message text still reaches the user.
ErrorCode code_from_name(std::string_view name) {
  for (std::uint16_t c = 1; c <= static_cast<std::uint16_t>(ErrorCode::kInternal); ++c) {
    const auto code = static_cast<ErrorCode>(c);
    if (error_code_name(code) == name && (c <= 9 || c >= 20)) return code;
  }
  return ErrorCode::kUnknown;
}

Result<WorkerMessage> decode_typed(const MapReader& m, std::string_view type) {
  if (type == "accepted") {
    AcceptedMsg a;
    ZINFER_ASSIGN_OR_RETURN(a.job_id, req_str(m, "job_id"));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t pos, req_int(m, "queue_position", 0, kI32Max));
    a.queue_position = static_cast<std::int32_t>(pos);
    return WorkerMessage(std::move(a));
  }
  if (type == "token") {
    TokenMsg t;
    ZINFER_ASSIGN_OR_RETURN(t.job_id, req_str(m, "job_id"));
    ZINFER_ASSIGN_OR_RETURN(t.seq, req_u64(m, "seq"));
    ZINFER_ASSIGN_OR_RETURN(t.tokens, req_tokens(m, "tokens"));
    ZINFER_ASSIGN_OR_RETURN(t.text, req_str(m, "text"));
    ZINFER_ASSIGN_OR_RETURN(t.reasoning, opt_str(m, "reasoning"));
    ZINFER_ASSIGN_OR_RETURN(t.logprobs, opt_logprobs(m));
    return WorkerMessage(std::move(t));
  }
  if (type == "done") {
    DoneMsg d;
    ZINFER_ASSIGN_OR_RETURN(d.job_id, req_str(m, "job_id"));
    ZINFER_ASSIGN_OR_RETURN(d.seq, req_u64(m, "seq"));
    ZINFER_ASSIGN_OR_RETURN(d.finish_reason, finish_reason(m));
    ZINFER_ASSIGN_OR_RETURN(d.text, req_str(m, "text"));
    ZINFER_ASSIGN_OR_RETURN(d.reasoning, opt_str(m, "reasoning"));
    ZINFER_ASSIGN_OR_RETURN(d.tokens, req_tokens(m, "tokens"));
    ZINFER_ASSIGN_OR_RETURN(d.logprobs, opt_logprobs(m));
    Error err;
    const msgpack::object* usage_obj = need(m, "usage", err);
    if (usage_obj == nullptr) return err;
    ZINFER_ASSIGN_OR_RETURN(MapReader usage, MapReader::make(*usage_obj, m.path("usage")));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t pt, req_int(usage, "prompt_tokens", 0, kI32Max));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t ct, req_int(usage, "completion_tokens", 0, kI32Max));
    d.usage = Usage{static_cast<std::int32_t>(pt), static_cast<std::int32_t>(ct)};
    const msgpack::object* timings_obj = need(m, "timings", err);
    if (timings_obj == nullptr) return err;
    ZINFER_ASSIGN_OR_RETURN(MapReader timings, MapReader::make(*timings_obj, m.path("timings")));
    ZINFER_ASSIGN_OR_RETURN(d.timings.queue_ms, req_num(timings, "queue_ms"));
    ZINFER_ASSIGN_OR_RETURN(d.timings.ttft_ms, req_num(timings, "ttft_ms"));
    ZINFER_ASSIGN_OR_RETURN(d.timings.decode_ms, req_num(timings, "decode_ms"));
    ZINFER_ASSIGN_OR_RETURN(d.timings.tokens_per_s, req_num(timings, "tokens_per_s"));
    return WorkerMessage(std::move(d));
  }
  if (type == "error") {
    ErrorMsg e;
    ZINFER_ASSIGN_OR_RETURN(std::optional<std::string_view> job_id, m.str("job_id"));
    if (job_id) e.job_id = std::string(*job_id);
    ZINFER_ASSIGN_OR_RETURN(std::string code, req_str(m, "code"));
    e.code = code_from_name(code);
    ZINFER_ASSIGN_OR_RETURN(e.message, req_str(m, "message"));
    ZINFER_ASSIGN_OR_RETURN(e.retriable, req_bool(m, "retriable"));
    return WorkerMessage(std::move(e));
  }
  if (type == "health") {
    HealthReply h;
    ZINFER_ASSIGN_OR_RETURN(h.status, req_str(m, "status"));
    ZINFER_ASSIGN_OR_RETURN(h.model, req_str(m, "model"));
    ZINFER_ASSIGN_OR_RETURN(h.architecture, req_str(m, "architecture"));
    ZINFER_ASSIGN_OR_RETURN(const msgpack::object_array* quants, req_array(m, "quant_types"));
    for (std::uint32_t i = 0; i < quants->size; ++i) {
      ZINFER_ASSIGN_OR_RETURN(
          std::string_view q,
          detail::read_str(quants->ptr[i], m.path("quant_types") + "[" + std::to_string(i) + "]"));
      h.quant_types.emplace_back(q);
    }
    ZINFER_ASSIGN_OR_RETURN(std::int64_t ctx, req_int(m, "context_length", 0, kI32Max));
    h.context_length = static_cast<std::int32_t>(ctx);
    ZINFER_ASSIGN_OR_RETURN(h.device, req_str(m, "device"));
    ZINFER_ASSIGN_OR_RETURN(h.vram_used_bytes, req_u64(m, "vram_used_bytes"));
    ZINFER_ASSIGN_OR_RETURN(h.vram_resident, req_bool(m, "vram_resident"));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t qd, req_int(m, "queue_depth", 0, kI32Max));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t aj, req_int(m, "active_jobs", 0, kI32Max));
    ZINFER_ASSIGN_OR_RETURN(std::int64_t cap, req_int(m, "capacity", 0, kI32Max));
    h.queue_depth = static_cast<std::int32_t>(qd);
    h.active_jobs = static_cast<std::int32_t>(aj);
    h.capacity = static_cast<std::int32_t>(cap);
    ZINFER_ASSIGN_OR_RETURN(h.uptime_s, req_num(m, "uptime_s"));
    // The heartbeat fields came later: absent from an older worker's reply.
    if (m.get("engine_steps") != nullptr) {
      ZINFER_ASSIGN_OR_RETURN(h.engine_steps, req_u64(m, "engine_steps"));
    }
    if (m.get("last_step_age_s") != nullptr) {
      ZINFER_ASSIGN_OR_RETURN(h.last_step_age_s, req_num(m, "last_step_age_s"));
    }
    return WorkerMessage(std::move(h));
  }
  StatsReply s;
  ZINFER_ASSIGN_OR_RETURN(s.jobs_accepted, req_u64(m, "jobs_accepted"));
  ZINFER_ASSIGN_OR_RETURN(s.jobs_completed, req_u64(m, "jobs_completed"));
  ZINFER_ASSIGN_OR_RETURN(s.jobs_cancelled, req_u64(m, "jobs_cancelled"));
  ZINFER_ASSIGN_OR_RETURN(s.jobs_failed, req_u64(m, "jobs_failed"));
  ZINFER_ASSIGN_OR_RETURN(s.jobs_rejected, req_u64(m, "jobs_rejected"));
  ZINFER_ASSIGN_OR_RETURN(s.tokens_generated, req_u64(m, "tokens_generated"));
  ZINFER_ASSIGN_OR_RETURN(s.prompt_tokens, req_u64(m, "prompt_tokens"));
  ZINFER_ASSIGN_OR_RETURN(s.prompt_tokens_cached, req_u64(m, "prompt_tokens_cached"));
  ZINFER_ASSIGN_OR_RETURN(std::int64_t qd, req_int(m, "queue_depth", 0, kI32Max));
  ZINFER_ASSIGN_OR_RETURN(std::int64_t aj, req_int(m, "active_jobs", 0, kI32Max));
  ZINFER_ASSIGN_OR_RETURN(std::int64_t used, req_int(m, "kv_blocks_used", 0, kI32Max));
  ZINFER_ASSIGN_OR_RETURN(std::int64_t total, req_int(m, "kv_blocks_total", 0, kI32Max));
  s.queue_depth = static_cast<std::int32_t>(qd);
  s.active_jobs = static_cast<std::int32_t>(aj);
  s.kv_blocks_used = static_cast<std::int32_t>(used);
  s.kv_blocks_total = static_cast<std::int32_t>(total);
  ZINFER_ASSIGN_OR_RETURN(s.engine_steps, req_u64(m, "engine_steps"));
  ZINFER_ASSIGN_OR_RETURN(s.uptime_s, req_num(m, "uptime_s"));
  return WorkerMessage(s);
}

}  // namespace

Result<WorkerMessage> decode_worker(std::span<const std::uint8_t> frame,
                                    const DecodeLimits& limits) {
  ZINFER_ASSIGN_OR_RETURN(msgpack::object_handle handle, detail::unpack_frame(frame, limits));
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::MAP) {
    return make_error(
        kBad, "frame: top level must be a map, got " + std::string(detail::type_name(root)));
  }
  ZINFER_ASSIGN_OR_RETURN(MapReader top, MapReader::make(root, "frame"));
  ZINFER_ASSIGN_OR_RETURN(std::int64_t v,
                          req_int(top, "v", std::numeric_limits<std::int64_t>::min(),
                                  std::numeric_limits<std::int64_t>::max()));
  if (v != kProtocolVersion) {
    return make_error(ErrorCode::kUnsupportedVersion, "v: protocol version " + std::to_string(v) +
                                                          " is not supported (supported: 1)");
  }
  ZINFER_ASSIGN_OR_RETURN(std::string type, req_str(top, "type"));
  static constexpr std::string_view kTypes[] = {"accepted", "token",  "done",
                                                "error",    "health", "stats"};
  bool known = false;
  for (std::string_view t : kTypes) known = known || t == type;
  if (!known) {
    return make_error(kBad, "type: unknown message type " + detail::quote_for_message(type) +
                                " (expected accepted | token | done | error | health | stats)");
  }
  ZINFER_RETURN_IF_ERROR(detail::check_frame_rules(root, type));
  ZINFER_ASSIGN_OR_RETURN(MapReader m, MapReader::make(root, type));
  return decode_typed(m, type);
}

}  // namespace zinfer::protocol
