// decode_submit(): prompt form, sampling and generation parameters, scheduling fields.
// Type errors are INVALID_REQUEST; sampling/generation values out of range INVALID_PARAMETER;
// over-long prompts PROMPT_TOO_LONG (schemas/PROTOCOL.md, "Error codes of a submit").
#include "service/protocol/submit_decoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/sched/sequence.h"
#include "service/protocol/utf8.h"

namespace zinfer::protocol::detail {
namespace {

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr ErrorCode kRequest = ErrorCode::kInvalidRequest;
constexpr ErrorCode kParam = ErrorCode::kInvalidParameter;

// Interval text such as "(0, 1]" for messages.
std::string interval(double lo, double hi, bool lo_open) {
  return std::string(lo_open ? "(" : "[") + fmt_number(lo) + ", " + fmt_number(hi) + "]";
}

// An optional finite number in [lo, hi] (or (lo, hi]), validated as sent (a double) and then
// stored as the engine's float. Narrowing must not push a valid value out of its interval: a
// value above an open lower bound that float32 would round onto it (or into its denormals,
// e.g. top_p = 1e-50 -> 0) is stored as the smallest normal float above the bound
// (PROTOCOL.md §4.1, "Numbers").
Status read_float(const MapReader& m, std::string_view key, float& out, double lo, double hi,
                  bool lo_open = false) {
  ZINFER_ASSIGN_OR_RETURN(std::optional<double> v, m.number(key));
  if (!v) return ok_status();
  const double x = *v;
  const bool in_range = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && x <= hi;
  if (!in_range) {
    return field_error(
        kParam, m.path(key),
        "must be finite and in " + interval(lo, hi, lo_open) + ", got " + fmt_number(x));
  }
  out = static_cast<float>(x);
  if (lo_open && out < static_cast<float>(lo) + std::numeric_limits<float>::min()) {
    out = static_cast<float>(lo) + std::numeric_limits<float>::min();  // the open bounds are all 0
  }
  return ok_status();
}

Status read_int32(const MapReader& m, std::string_view key, std::int32_t& out, std::int64_t lo,
                  std::int64_t hi, ErrorCode range_code) {
  ZINFER_ASSIGN_OR_RETURN(std::optional<std::int64_t> v, m.integer(key, lo, hi, range_code));
  if (v) out = static_cast<std::int32_t>(*v);
  return ok_status();
}

Status read_prompt(const MapReader& m, const DecodeLimits& limits, SubmitMsg& s) {
  const msgpack::object* prompt = m.get("prompt");
  const msgpack::object* tokens = m.get("prompt_tokens");
  const msgpack::object* messages = m.get("messages");
  std::vector<std::string> present;
  if (prompt != nullptr) present.emplace_back("prompt");
  if (tokens != nullptr) present.emplace_back("prompt_tokens");
  if (messages != nullptr) present.emplace_back("messages");
  if (present.empty()) {
    return field_error(kRequest, m.path(),
                       "exactly one of prompt, prompt_tokens, messages is required, got none");
  }
  if (present.size() > 1) {
    std::string got = present[0];
    for (std::size_t i = 1; i < present.size(); ++i) got += " and " + present[i];
    return field_error(kRequest, m.path(),
                       "exactly one of prompt, prompt_tokens, messages is allowed, got " + got);
  }

  if (prompt != nullptr) {
    const std::string path = m.path("prompt");
    ZINFER_ASSIGN_OR_RETURN(std::string_view text, read_str(*prompt, path));
    if (text.size() > limits.max_prompt_bytes) {
      return field_error(ErrorCode::kPromptTooLong, path,
                         std::to_string(text.size()) + " bytes exceeds max_prompt_bytes " +
                             std::to_string(limits.max_prompt_bytes));
    }
    s.prompt = std::string(text);
    return ok_status();
  }

  if (tokens != nullptr) {
    const std::string path = m.path("prompt_tokens");
    if (tokens->type != msgpack::type::ARRAY) {
      return field_error(kRequest, path,
                         "must be an array of token ids, got " + std::string(type_name(*tokens)));
    }
    const auto& arr = tokens->via.array;
    if (arr.size == 0) return field_error(kRequest, path, "must not be empty");
    if (arr.size > limits.max_prompt_tokens) {
      return field_error(ErrorCode::kPromptTooLong, path,
                         std::to_string(arr.size) + " tokens exceeds max_prompt_tokens " +
                             std::to_string(limits.max_prompt_tokens));
    }
    std::vector<std::int32_t> ids;
    ids.reserve(arr.size);
    for (std::uint32_t i = 0; i < arr.size; ++i) {
      ZINFER_ASSIGN_OR_RETURN(
          std::int64_t id,
          read_int(arr.ptr[i], path + "[" + std::to_string(i) + "]", 0, kInt32Max, kRequest));
      ids.push_back(static_cast<std::int32_t>(id));
    }
    s.prompt_tokens = std::move(ids);
    return ok_status();
  }

  const std::string path = m.path("messages");
  if (messages->type != msgpack::type::ARRAY) {
    return field_error(
        kRequest, path,
        "must be an array of {role, content} maps, got " + std::string(type_name(*messages)));
  }
  const auto& arr = messages->via.array;
  if (arr.size == 0) return field_error(kRequest, path, "must not be empty");
  if (arr.size > limits.max_messages) {
    return field_error(kRequest, path,
                       "at most " + std::to_string(limits.max_messages) + " messages, got " +
                           std::to_string(arr.size));
  }
  std::vector<tok::ChatMessage> out;
  out.reserve(arr.size);
  std::size_t content_bytes = 0;
  for (std::uint32_t i = 0; i < arr.size; ++i) {
    ZINFER_ASSIGN_OR_RETURN(MapReader msg,
                            MapReader::make(arr.ptr[i], path + "[" + std::to_string(i) + "]"));
    ZINFER_ASSIGN_OR_RETURN(std::optional<std::string_view> role, msg.str("role"));
    if (!role) return field_error(kRequest, msg.path("role"), "required");
    if (*role != "system" && *role != "user" && *role != "assistant") {
      return field_error(kRequest, msg.path("role"),
                         "must be one of system|user|assistant, got " + quote_for_message(*role));
    }
    ZINFER_ASSIGN_OR_RETURN(std::optional<std::string_view> content, msg.str("content"));
    if (!content) return field_error(kRequest, msg.path("content"), "required");
    content_bytes += content->size();
    out.push_back(tok::ChatMessage{std::string(*role), std::string(*content)});
  }
  if (content_bytes > limits.max_prompt_bytes) {
    return field_error(ErrorCode::kPromptTooLong, path,
                       std::to_string(content_bytes) + " content bytes exceed max_prompt_bytes " +
                           std::to_string(limits.max_prompt_bytes));
  }
  s.messages = std::move(out);
  return ok_status();
}

// Token id from a logit_bias key: an integer, or its decimal string (JSON object keys are
// strings). Non-numeric keys are malformed (INVALID_REQUEST); numbers out of range are
// INVALID_PARAMETER, the same as for integer keys.
Result<std::int32_t> logit_bias_token(const msgpack::object& key, const std::string& path) {
  std::int64_t id = 0;
  std::string shown;
  if (key.type == msgpack::type::POSITIVE_INTEGER) {
    if (key.via.u64 > static_cast<std::uint64_t>(kInt32Max)) {
      return field_error(kParam, path,
                         "key " + std::to_string(key.via.u64) +
                             " is not a token id (must be in [0, " + std::to_string(kInt32Max) +
                             "])");
    }
    id = static_cast<std::int64_t>(key.via.u64);
  } else if (key.type == msgpack::type::NEGATIVE_INTEGER) {
    id = key.via.i64;
  } else {
    const std::string_view s(key.via.str.ptr, key.via.str.size);
    const bool neg = !s.empty() && s[0] == '-';
    const std::string_view digits = neg ? s.substr(1) : s;
    const bool numeric =
        !digits.empty() && digits.size() <= 10 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        (digits.size() == 1 || digits[0] != '0');
    if (!numeric) {
      return field_error(
          kRequest, path,
          "key " + quote_for_message(s) + " is not a token id (an integer or its decimal string)");
    }
    id = std::stoll(std::string(digits));
    if (neg) id = -id;
  }
  if (id < 0 || id > kInt32Max) {
    return field_error(kParam, path,
                       "key " + std::to_string(id) + " is not a token id (must be in [0, " +
                           std::to_string(kInt32Max) + "])");
  }
  return static_cast<std::int32_t>(id);
}

Status read_logit_bias(const MapReader& m, sample::SamplingParams& p) {
  const msgpack::object* o = m.get("logit_bias");
  if (o == nullptr) return ok_status();
  const std::string path = m.path("logit_bias");
  if (o->type != msgpack::type::MAP) {
    return field_error(kRequest, path,
                       "must be a map of token id → bias, got " + std::string(type_name(*o)));
  }
  const auto& map = o->via.map;
  if (map.size > kMaxLogitBias) {
    return field_error(
        kParam, path,
        "at most " + std::to_string(kMaxLogitBias) + " entries, got " + std::to_string(map.size));
  }
  // Keys are strings or integers here: check_frame_rules() rejected every other key type.
  std::vector<std::pair<std::int32_t, float>> out;
  out.reserve(map.size);
  for (std::uint32_t i = 0; i < map.size; ++i) {
    ZINFER_ASSIGN_OR_RETURN(std::int32_t id, logit_bias_token(map.ptr[i].key, path));
    const std::string entry = path + "." + std::to_string(id);
    ZINFER_ASSIGN_OR_RETURN(double bias, read_number(map.ptr[i].val, entry));
    if (!(std::isfinite(bias) && bias >= -kMaxAbsLogitBias && bias <= kMaxAbsLogitBias)) {
      return field_error(kParam, entry,
                         "must be finite and in " +
                             interval(-kMaxAbsLogitBias, kMaxAbsLogitBias, false) + ", got " +
                             fmt_number(bias));
    }
    out.emplace_back(id, static_cast<float>(bias));
  }
  // 5 and "5" name the same token; distinct keys to msgpack, so checked after normalising.
  std::vector<std::int32_t> ids;
  ids.reserve(out.size());
  for (const auto& e : out) ids.push_back(e.first);
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] == ids[i - 1]) {
      return field_error(kRequest, path, "token id " + std::to_string(ids[i]) + " appears twice");
    }
  }
  p.logit_bias = std::move(out);
  return ok_status();
}

std::uint64_t random_seed() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

Status read_sampling(const MapReader& m, SubmitMsg& s) {
  sample::SamplingParams& p = s.params.sampling;
  ZINFER_RETURN_IF_ERROR(read_float(m, "temperature", p.temperature, 0.0, kMaxTemperature));
  ZINFER_RETURN_IF_ERROR(read_int32(m, "top_k", p.top_k, 0, kInt32Max, kParam));
  ZINFER_RETURN_IF_ERROR(read_float(m, "top_p", p.top_p, 0.0, 1.0, /*lo_open=*/true));
  ZINFER_RETURN_IF_ERROR(read_float(m, "min_p", p.min_p, 0.0, 1.0));
  ZINFER_RETURN_IF_ERROR(read_float(m, "repetition_penalty", p.repetition_penalty, 0.0,
                                    kMaxRepetitionPenalty,
                                    /*lo_open=*/true));
  ZINFER_RETURN_IF_ERROR(read_float(m, "presence_penalty", p.presence_penalty, -2.0, 2.0));
  ZINFER_RETURN_IF_ERROR(read_float(m, "frequency_penalty", p.frequency_penalty, -2.0, 2.0));
  ZINFER_RETURN_IF_ERROR(read_int32(m, "penalty_last_n", p.penalty_last_n, -1, kInt32Max, kParam));
  ZINFER_RETURN_IF_ERROR(read_logit_bias(m, p));

  if (const msgpack::object* seed = m.get("seed")) {
    ZINFER_ASSIGN_OR_RETURN(p.seed, read_uint64(*seed, m.path("seed"), kParam));
    s.seed_given = true;
  } else {
    p.seed = random_seed();
    s.seed_given = false;
  }

  if (const msgpack::object* lp = m.get("logprobs")) {
    const std::string path = m.path("logprobs");
    if (lp->type == msgpack::type::BOOLEAN) {
      s.logprobs = lp->via.boolean;
      p.top_logprobs = 0;
    } else if (lp->type == msgpack::type::POSITIVE_INTEGER ||
               lp->type == msgpack::type::NEGATIVE_INTEGER) {
      ZINFER_ASSIGN_OR_RETURN(std::int64_t n, read_int(*lp, path, 0, kMaxTopLogprobs, kParam));
      s.logprobs = true;
      p.top_logprobs = static_cast<std::int32_t>(n);
    } else {
      return field_error(
          kRequest, path,
          "must be a boolean or an integer in [0, 20], got " + std::string(type_name(*lp)));
    }
  }
  return ok_status();
}

Status read_generation(const MapReader& m, sched::GenerationParams& g) {
  ZINFER_RETURN_IF_ERROR(read_int32(m, "max_tokens", g.max_tokens, 1, kMaxMaxTokens, kParam));

  if (const msgpack::object* stop = m.get("stop")) {
    const std::string path = m.path("stop");
    std::vector<std::pair<const msgpack::object*, std::string>> items;  // value, its path
    if (stop->type == msgpack::type::STR) {
      items.emplace_back(stop, path);
    } else if (stop->type == msgpack::type::ARRAY) {
      if (stop->via.array.size > kMaxStopStrings) {
        return field_error(kParam, path,
                           "at most " + std::to_string(kMaxStopStrings) + " stop strings, got " +
                               std::to_string(stop->via.array.size));
      }
      for (std::uint32_t i = 0; i < stop->via.array.size; ++i) {
        items.emplace_back(&stop->via.array.ptr[i], path + "[" + std::to_string(i) + "]");
      }
    } else {
      return field_error(
          kRequest, path,
          "must be a string or an array of strings, got " + std::string(type_name(*stop)));
    }
    g.stop.clear();
    for (const auto& [obj, item_path] : items) {
      ZINFER_ASSIGN_OR_RETURN(std::string_view text, read_str(*obj, item_path));
      if (text.empty()) return field_error(kParam, item_path, "must not be empty");
      if (text.size() > kMaxStopBytes) {
        return field_error(kParam, item_path,
                           std::to_string(text.size()) + " bytes exceeds the limit of " +
                               std::to_string(kMaxStopBytes));
      }
      g.stop.emplace_back(text);
    }
  }

  if (const msgpack::object* ids = m.get("stop_token_ids")) {
    const std::string path = m.path("stop_token_ids");
    if (ids->type != msgpack::type::ARRAY) {
      return field_error(kRequest, path,
                         "must be an array of token ids, got " + std::string(type_name(*ids)));
    }
    if (ids->via.array.size > kMaxStopTokenIds) {
      return field_error(kParam, path,
                         "at most " + std::to_string(kMaxStopTokenIds) + " ids, got " +
                             std::to_string(ids->via.array.size));
    }
    g.stop_token_ids.clear();
    for (std::uint32_t i = 0; i < ids->via.array.size; ++i) {
      ZINFER_ASSIGN_OR_RETURN(
          std::int64_t id, read_int(ids->via.array.ptr[i], path + "[" + std::to_string(i) + "]", 0,
                                    kInt32Max, kParam));
      g.stop_token_ids.push_back(static_cast<std::int32_t>(id));
    }
  }

  ZINFER_ASSIGN_OR_RETURN(std::optional<bool> ignore_eos, m.boolean("ignore_eos"));
  if (ignore_eos) g.ignore_eos = *ignore_eos;
  return ok_status();
}

}  // namespace

std::string quote_for_message(std::string_view s, std::size_t max_bytes) {
  const std::string_view head = utf8_prefix(s, max_bytes);
  std::string text = "\"";
  text += head;
  text += head.size() < s.size() ? "\"…" : "\"";
  return text;
}

Result<SubmitMsg> decode_submit(const MapReader& m, std::string job_id,
                                const DecodeLimits& limits) {
  SubmitMsg s;
  s.job_id = std::move(job_id);
  ZINFER_RETURN_IF_ERROR(read_prompt(m, limits, s));
  ZINFER_RETURN_IF_ERROR(read_sampling(m, s));
  ZINFER_RETURN_IF_ERROR(read_generation(m, s.params));
  ZINFER_RETURN_IF_ERROR(
      read_int32(m, "priority", s.priority, kMinPriority, kMaxPriority, kRequest));
  ZINFER_ASSIGN_OR_RETURN(s.deadline_ms, m.integer("deadline_ms", 1, kMaxDeadlineMs, kRequest));
  ZINFER_ASSIGN_OR_RETURN(std::optional<bool> stream, m.boolean("stream"));
  if (stream) s.stream = *stream;

  // The checks above are the one range validation of a submit: no second, differently worded
  // check runs after the narrowing to float. What depends on the model (token ids against its
  // vocabulary) is the worker's check (service/worker/submit_prep.cpp).
  return s;
}

}  // namespace zinfer::protocol::detail
