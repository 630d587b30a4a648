// decode_client(): frame → ClientMessage (envelope checks, version, type dispatch, job_id),
// plus error_reply() and message_type(). The submit fields live in submit_decoder.cpp.
#include "service/protocol/codec.h"

#include <msgpack.hpp>

#include "service/protocol/msgpack_reader.h"
#include "service/protocol/submit_decoder.h"

namespace zinfer::protocol {
namespace {

using detail::field_error;
using detail::MapReader;

// 1..128 bytes of visible ASCII (0x21..0x7e): safe in logs, file names and metric labels.
std::optional<std::string> job_id_problem(std::string_view id) {
  if (id.empty() || id.size() > kMaxJobIdBytes) {
    return "must be 1.." + std::to_string(kMaxJobIdBytes) + " bytes, got " +
           std::to_string(id.size());
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (c < 0x21 || c > 0x7e) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02x", c);
      return "must be visible ASCII (0x21..0x7e), byte " + std::to_string(i) + " is " + hex;
    }
  }
  return std::nullopt;
}

// The job_id of a frame that is being rejected, when it is readable and valid.
std::optional<std::string> peek_job_id(const MapReader& top) {
  const msgpack::object* o = top.get("job_id");
  if (o == nullptr || o->type != msgpack::type::STR) return std::nullopt;
  std::string_view id(o->via.str.ptr, o->via.str.size);
  if (job_id_problem(id)) return std::nullopt;
  return std::string(id);
}

Result<std::string> read_job_id(const MapReader& m) {
  const msgpack::object* o = m.get("job_id");
  if (o == nullptr) return field_error(ErrorCode::kInvalidRequest, m.path("job_id"), "required");
  if (o->type != msgpack::type::STR) {
    return field_error(ErrorCode::kInvalidRequest, m.path("job_id"),
                       "must be a string, got " + std::string(detail::type_name(*o)));
  }
  std::string_view id(o->via.str.ptr, o->via.str.size);
  if (auto problem = job_id_problem(id))
    return field_error(ErrorCode::kInvalidRequest, m.path("job_id"), *problem);
  return std::string(id);
}

// Everything after unpacking; the job_id out-parameter is filled as soon as it is known.
Result<ClientMessage> decode_root(const msgpack::object& root, const DecodeLimits& limits,
                                  std::optional<std::string>& job_id) {
  if (root.type != msgpack::type::MAP) {
    return make_error(ErrorCode::kInvalidRequest, "frame: top level must be a map, got " +
                                                      std::string(detail::type_name(root)));
  }
  ZINFER_ASSIGN_OR_RETURN(MapReader top, MapReader::make(root, "frame"));
  job_id = peek_job_id(top);

  const msgpack::object* v = top.get("v");
  if (v == nullptr) {
    return make_error(ErrorCode::kInvalidRequest, "v: required (protocol version, currently 1)");
  }
  if (v->type == msgpack::type::POSITIVE_INTEGER || v->type == msgpack::type::NEGATIVE_INTEGER) {
    const bool is_one =
        v->type == msgpack::type::POSITIVE_INTEGER && v->via.u64 == kProtocolVersion;
    if (!is_one) {
      const std::string got = v->type == msgpack::type::POSITIVE_INTEGER
                                  ? std::to_string(v->via.u64)
                                  : std::to_string(v->via.i64);
      return make_error(ErrorCode::kUnsupportedVersion,
                        "v: protocol version " + got + " is not supported (supported: 1)");
    }
  } else {
    return make_error(ErrorCode::kInvalidRequest,
                      "v: must be an integer, got " + std::string(detail::type_name(*v)));
  }

  const msgpack::object* type_obj = top.get("type");
  if (type_obj == nullptr) {
    return make_error(ErrorCode::kInvalidRequest,
                      "type: required (submit | cancel | health | stats)");
  }
  ZINFER_ASSIGN_OR_RETURN(std::string_view type, detail::read_str(*type_obj, "type"));
  if (type != "submit" && type != "cancel" && type != "health" && type != "stats") {
    return make_error(ErrorCode::kInvalidRequest,
                      "type: unknown message type " + detail::quote_for_message(type) +
                          " (expected submit | cancel | health | stats)");
  }
  const std::string type_str(type);
  ZINFER_RETURN_IF_ERROR(detail::check_frame_rules(root, type_str));
  ZINFER_ASSIGN_OR_RETURN(MapReader msg, MapReader::make(root, type_str));

  if (type == "health") return ClientMessage(HealthMsg{});
  if (type == "stats") return ClientMessage(StatsMsg{});
  ZINFER_ASSIGN_OR_RETURN(std::string id, read_job_id(msg));
  if (type == "cancel") return ClientMessage(CancelMsg{std::move(id)});
  ZINFER_ASSIGN_OR_RETURN(SubmitMsg submit, detail::decode_submit(msg, std::move(id), limits));
  return ClientMessage(std::move(submit));
}

}  // namespace

ClientDecodeResult decode_client(std::span<const std::uint8_t> frame, const DecodeLimits& limits) {
  Result<msgpack::object_handle> handle = detail::unpack_frame(frame, limits);
  if (!handle.ok()) return ClientDecodeResult(handle.error(), std::nullopt);
  std::optional<std::string> job_id;
  Result<ClientMessage> msg = decode_root(handle->get(), limits, job_id);
  if (!msg.ok()) return ClientDecodeResult(msg.error(), std::move(job_id));
  return ClientDecodeResult(std::move(msg).value());
}

ErrorMsg error_reply(const Error& error, std::optional<std::string> job_id) {
  ErrorMsg e;
  e.job_id = std::move(job_id);
  e.code = error.code;
  e.message = error.message;
  e.retriable = error_code_retriable(error.code);
  return e;
}

std::string_view message_type(const ClientMessage& msg) {
  static constexpr std::string_view kNames[] = {"submit", "cancel", "health", "stats"};
  return kNames[msg.index()];
}

std::string_view message_type(const WorkerMessage& msg) {
  static constexpr std::string_view kNames[] = {"accepted", "token",  "done",
                                                "error",    "health", "stats"};
  return kNames[msg.index()];
}

}  // namespace zinfer::protocol
