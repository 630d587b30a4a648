// Hostile client frames: each must decode to the documented error code (schemas/PROTOCOL.md)
// with the offending field named in the message. Frames are built with nlohmann::json's own
// msgpack writer or by hand, never with the codec under test.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "service/protocol/codec.h"
#include "tests/service/protocol/msgpack_json.h"

namespace zinfer::protocol {
namespace {

using json = nlohmann::json;
using testing::pack;

json submit() { return json{{"v", 1}, {"type", "submit"}, {"job_id", "j1"}, {"prompt", "Hello"}}; }

json with(json j, const std::string& key, json value) {
  j[key] = std::move(value);
  return j;
}

json without(json j, const std::string& key) {
  j.erase(key);
  return j;
}

// Hand-assembled msgpack pieces for what JSON cannot express (int or duplicate keys).
std::string fixstr(const std::string& s) {
  return std::string(1, static_cast<char>(0xa0 | s.size())) + s;
}
std::string fixmap(int n) { return std::string(1, static_cast<char>(0x80 | n)); }
std::string header_entries() {
  return fixstr("v") + '\x01' + fixstr("type") + fixstr("submit") + fixstr("job_id") + fixstr("j1");
}

struct HostileCase {
  std::string name;
  std::string frame;
  ErrorCode code;
  std::string must_contain;  // the field path (or "frame") the message has to name
  DecodeLimits limits = {};
};

std::vector<HostileCase> cases() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const ErrorCode req = ErrorCode::kInvalidRequest;
  const ErrorCode par = ErrorCode::kInvalidParameter;
  std::vector<HostileCase> c;

  // --- framing ---
  std::mt19937 rng(1234);
  std::string noise(257, '\0');
  for (char& ch : noise) ch = static_cast<char>(rng() & 0xff);
  noise[0] = '\xc1';  // reserved byte: never valid msgpack, whatever follows
  c.push_back({"random_bytes", noise, req, "frame"});
  c.push_back({"empty_frame", "", req, "frame: empty"});
  const std::string full = pack(submit());
  c.push_back({"truncated_msgpack", full.substr(0, full.size() / 2), req, "frame: truncated"});
  c.push_back({"top_level_array", pack(json::array({1, 2, 3})), req, "top level must be a map"});
  c.push_back({"top_level_string", pack("submit"), req, "top level must be a map"});
  c.push_back({"top_level_nil", std::string("\xc0", 1), req, "top level must be a map"});
  c.push_back({"array_claims_1e6_elements", std::string("\xdd\x00\x0f\x42\x40\x01", 6), req,
               "max_array_elements"});
  c.push_back({"map_claims_1e6_entries", std::string("\xdf\x00\x0f\x42\x40\x01", 6), req,
               "max_map_entries"});
  c.push_back({"str_claims_4GiB",
               std::string("\xdb\xff\xff\xff\xf0"
                           "abc",
                           8),
               req, "frame"});
  c.push_back({"nesting_1000_deep", std::string(1000, '\x91') + '\xc0', req, "max_depth"});
  c.push_back({"trailing_bytes", full + '\xc0', req, "trailing bytes"});
  c.push_back({"prompt_10MB", pack(with(submit(), "prompt", std::string(10u << 20, 'a'))), req,
               "exceeds max_frame_bytes"});
  c.push_back({"prompt_over_max_prompt_bytes",
               pack(with(submit(), "prompt", std::string(600000, 'a'))), ErrorCode::kPromptTooLong,
               "submit.prompt"});
  c.push_back({"duplicate_map_keys",
               fixmap(5) + header_entries() + fixstr("prompt") + fixstr("a") + fixstr("prompt") +
                   fixstr("b"),
               req, "duplicate key \"prompt\""});
  c.push_back({"non_string_top_level_key",
               fixmap(5) + header_entries() + fixstr("prompt") + fixstr("a") + '\x07' + fixstr("x"),
               req, "field names must be strings"});
  c.push_back({"float_map_key_anywhere",
               fixmap(5) + header_entries() + fixstr("prompt") + fixstr("a") + fixstr("extra") +
                   fixmap(1) + std::string("\xca\x3f\x80\x00\x00", 5) + '\x01',
               req, "submit.extra: map keys must be strings or integers"});
  c.push_back({"ext_in_known_field",
               pack(with(submit(), "temperature", json::binary({1, 2, 3, 4}, 7))), req,
               "submit.temperature: ext"});
  c.push_back({"ext_in_unknown_field", pack(with(submit(), "x_extra", json::binary({1}, -1))), req,
               "submit.x_extra: ext"});
  c.push_back({"bin_prompt", pack(with(submit(), "prompt", json::binary({'h', 'i'}))), req,
               "submit.prompt: bin"});

  // --- version and type ---
  c.push_back({"version_2", pack(with(submit(), "v", 2)), ErrorCode::kUnsupportedVersion,
               "v: protocol version 2"});
  c.push_back({"version_0", pack(with(submit(), "v", 0)), ErrorCode::kUnsupportedVersion, "v:"});
  c.push_back(
      {"version_negative", pack(with(submit(), "v", -1)), ErrorCode::kUnsupportedVersion, "v:"});
  c.push_back({"version_missing", pack(without(submit(), "v")), req, "v: required"});
  c.push_back({"version_string", pack(with(submit(), "v", "1")), req, "v: must be an integer"});
  c.push_back({"version_float", pack(with(submit(), "v", 1.0)), req, "v: must be an integer"});
  c.push_back({"unknown_type", pack(with(submit(), "type", "generate")), req,
               "type: unknown message type"});
  c.push_back({"type_missing", pack(without(submit(), "type")), req, "type: required"});
  c.push_back({"type_not_string", pack(with(submit(), "type", 3)), req, "type: must be a string"});

  // --- job_id ---
  c.push_back(
      {"job_id_missing", pack(without(submit(), "job_id")), req, "submit.job_id: required"});
  c.push_back({"job_id_too_long", pack(with(submit(), "job_id", std::string(129, 'j'))), req,
               "submit.job_id"});
  c.push_back({"job_id_empty", pack(with(submit(), "job_id", "")), req, "submit.job_id"});
  c.push_back({"job_id_integer", pack(with(submit(), "job_id", 17)), req,
               "submit.job_id: must be a string"});
  c.push_back(
      {"job_id_with_newline", pack(with(submit(), "job_id", "a\nb")), req, "submit.job_id"});
  c.push_back(
      {"job_id_invalid_utf8", pack(with(submit(), "job_id", "j\xff")), req, "submit.job_id"});
  c.push_back({"cancel_without_job_id", pack(json{{"v", 1}, {"type", "cancel"}}), req,
               "cancel.job_id: required"});

  // --- prompt forms ---
  c.push_back(
      {"prompt_and_messages",
       pack(with(submit(), "messages", json::array({{{"role", "user"}, {"content", "x"}}}))), req,
       "got prompt and messages"});
  c.push_back({"no_prompt_form", pack(without(submit(), "prompt")), req, "got none"});
  c.push_back({"prompt_invalid_utf8", pack(with(submit(), "prompt", "ok \xc3\x28")), req,
               "submit.prompt: invalid UTF-8"});
  c.push_back({"prompt_surrogate", pack(with(submit(), "prompt", "\xed\xa0\x80")), req,
               "submit.prompt: invalid UTF-8"});
  c.push_back({"prompt_overlong_slash", pack(with(submit(), "prompt", "\xc0\xaf")), req,
               "submit.prompt: invalid UTF-8"});
  json tokens = without(submit(), "prompt");
  c.push_back({"prompt_tokens_negative", pack(with(tokens, "prompt_tokens", {1, -5, 3})), req,
               "submit.prompt_tokens[1]"});
  c.push_back({"prompt_tokens_float", pack(with(tokens, "prompt_tokens", {1, 2.5})), req,
               "submit.prompt_tokens[1]: must be an integer"});
  c.push_back({"prompt_tokens_empty", pack(with(tokens, "prompt_tokens", json::array())), req,
               "submit.prompt_tokens: must not be empty"});
  DecodeLimits small;
  small.max_prompt_tokens = 16;
  c.push_back({"prompt_tokens_over_limit",
               pack(with(tokens, "prompt_tokens", std::vector<int>(17, 1))),
               ErrorCode::kPromptTooLong, "submit.prompt_tokens", small});
  json chat = without(submit(), "prompt");
  c.push_back({"role_invalid_utf8",
               pack(with(chat, "messages", json::array({{{"role", "us\xffr"}, {"content", "x"}}}))),
               req, "submit.messages[0].role"});
  c.push_back({"role_unknown",
               pack(with(chat, "messages",
                         json::array({{{"role", "user"}, {"content", "a"}},
                                      {{"role", "user"}, {"content", "b"}},
                                      {{"role", "tool"}, {"content", "c"}}}))),
               req, "submit.messages[2].role: must be one of system|user|assistant"});
  c.push_back({"message_without_content",
               pack(with(chat, "messages", json::array({{{"role", "user"}}}))), req,
               "submit.messages[0].content: required"});
  c.push_back({"message_not_a_map", pack(with(chat, "messages", json::array({"hi"}))), req,
               "submit.messages[0]: must be a map"});
  c.push_back(
      {"content_overlong_utf8",
       pack(with(chat, "messages", json::array({{{"role", "user"}, {"content", "\xe0\x80\xaf"}}}))),
       req, "submit.messages[0].content: invalid UTF-8"});
  c.push_back({"messages_over_max_prompt_bytes",
               pack(with(chat, "messages",
                         json::array({{{"role", "user"}, {"content", std::string(300000, 'a')}},
                                      {{"role", "user"}, {"content", std::string(300000, 'b')}}}))),
               ErrorCode::kPromptTooLong, "submit.messages"});

  // --- sampling and generation values ---
  c.push_back({"temperature_nan", pack(with(submit(), "temperature", nan)), par,
               "submit.temperature: must be finite and in [0, 100], got NaN"});
  c.push_back(
      {"temperature_inf", pack(with(submit(), "temperature", inf)), par, "submit.temperature"});
  c.push_back({"temperature_negative", pack(with(submit(), "temperature", -0.5)), par,
               "submit.temperature"});
  c.push_back(
      {"temperature_huge", pack(with(submit(), "temperature", 1e30)), par, "submit.temperature"});
  c.push_back({"top_p_zero", pack(with(submit(), "top_p", 0)), par,
               "submit.top_p: must be finite and in (0, 1]"});
  c.push_back({"top_p_1_5", pack(with(submit(), "top_p", 1.5)), par, "submit.top_p"});
  c.push_back({"top_k_negative", pack(with(submit(), "top_k", -1)), par, "submit.top_k"});
  c.push_back({"min_p_negative", pack(with(submit(), "min_p", -0.1)), par, "submit.min_p"});
  c.push_back({"repetition_penalty_zero", pack(with(submit(), "repetition_penalty", 0)), par,
               "submit.repetition_penalty"});
  c.push_back({"presence_penalty_3", pack(with(submit(), "presence_penalty", 3)), par,
               "submit.presence_penalty"});
  c.push_back({"frequency_penalty_minus_inf", pack(with(submit(), "frequency_penalty", -inf)), par,
               "submit.frequency_penalty"});
  c.push_back({"penalty_last_n_minus_2", pack(with(submit(), "penalty_last_n", -2)), par,
               "submit.penalty_last_n"});
  c.push_back({"max_tokens_zero", pack(with(submit(), "max_tokens", 0)), par, "submit.max_tokens"});
  c.push_back(
      {"max_tokens_1e9", pack(with(submit(), "max_tokens", 1000000000)), par, "submit.max_tokens"});
  c.push_back({"max_tokens_string", pack(with(submit(), "max_tokens", "256")), req,
               "submit.max_tokens: must be an integer, got string"});
  c.push_back({"seed_negative", pack(with(submit(), "seed", -1)), par, "submit.seed"});
  c.push_back({"logprobs_21", pack(with(submit(), "logprobs", 21)), par, "submit.logprobs"});
  c.push_back({"logit_bias_non_numeric_key", pack(with(submit(), "logit_bias", {{"hello", 1.0}})),
               req, "submit.logit_bias: key \"hello\" is not a token id"});
  c.push_back({"logit_bias_negative_key", pack(with(submit(), "logit_bias", {{"-3", 1.0}})), par,
               "submit.logit_bias"});
  c.push_back({"logit_bias_nan_bias", pack(with(submit(), "logit_bias", {{"42", nan}})), par,
               "submit.logit_bias.42"});
  c.push_back({"logit_bias_huge_bias", pack(with(submit(), "logit_bias", {{"42", 1000}})), par,
               "submit.logit_bias.42"});
  c.push_back({"logit_bias_same_token_twice",
               fixmap(5) + header_entries() + fixstr("prompt") + fixstr("a") +
                   fixstr("logit_bias") + fixmap(2) + '\x05' + '\x01' + fixstr("5") + '\x02',
               req, "submit.logit_bias: token id 5 appears twice"});
  c.push_back({"stop_100_strings", pack(with(submit(), "stop", std::vector<std::string>(100, "x"))),
               par, "submit.stop: at most 16"});
  c.push_back({"stop_string_300_bytes", pack(with(submit(), "stop", {"ok", std::string(300, 's')})),
               par, "submit.stop[1]"});
  c.push_back({"stop_empty_string", pack(with(submit(), "stop", "")), par,
               "submit.stop: must not be empty"});
  c.push_back({"stop_invalid_utf8", pack(with(submit(), "stop", {"fine", "bad\xf8"})), req,
               "submit.stop[1]: invalid UTF-8"});
  c.push_back({"stop_token_ids_negative", pack(with(submit(), "stop_token_ids", {2, -1})), par,
               "submit.stop_token_ids[1]"});
  c.push_back({"stop_token_ids_65", pack(with(submit(), "stop_token_ids", std::vector<int>(65, 2))),
               par, "submit.stop_token_ids: at most 64"});
  c.push_back({"deadline_zero", pack(with(submit(), "deadline_ms", 0)), req, "submit.deadline_ms"});
  c.push_back(
      {"deadline_negative", pack(with(submit(), "deadline_ms", -10)), req, "submit.deadline_ms"});
  c.push_back({"deadline_over_a_day", pack(with(submit(), "deadline_ms", 86400001)), req,
               "submit.deadline_ms"});
  c.push_back({"priority_1e6", pack(with(submit(), "priority", 1000000)), req, "submit.priority"});

  // --- wrong type for every field ---
  const std::pair<std::string, json> wrong_types[] = {{"temperature", "hot"},
                                                      {"top_k", 1.5},
                                                      {"top_p", json::array()},
                                                      {"min_p", true},
                                                      {"repetition_penalty", json::object()},
                                                      {"presence_penalty", "0"},
                                                      {"frequency_penalty", false},
                                                      {"penalty_last_n", 6.5},
                                                      {"logit_bias", json::array({1, 2})},
                                                      {"seed", 1.25},
                                                      {"logprobs", "yes"},
                                                      {"max_tokens", 12.0},
                                                      {"stop", 7},
                                                      {"stop_token_ids", "2"},
                                                      {"ignore_eos", 1},
                                                      {"priority", "high"},
                                                      {"deadline_ms", 1.5},
                                                      {"stream", "true"},
                                                      {"prompt", 5},
                                                      {"messages", "hi"}};
  for (const auto& [field, value] : wrong_types) {
    json j = with(submit(), field, value);
    if (field == "messages") j.erase("prompt");
    c.push_back({"wrong_type_" + field, pack(j), req, "submit." + field + ": must be"});
  }
  c.push_back({"wrong_type_prompt_tokens", pack(with(tokens, "prompt_tokens", "1 2 3")), req,
               "submit.prompt_tokens: must be an array"});
  return c;
}

TEST(CodecHostile, EveryFrameFailsWithTheDocumentedCodeAndNamesTheField) {
  const std::vector<HostileCase> all = cases();
  ASSERT_GE(all.size(), 45u);
  for (const HostileCase& hc : all) {
    SCOPED_TRACE(hc.name);
    const auto start = std::chrono::steady_clock::now();
    ClientDecodeResult r = decode_client(as_bytes(hc.frame), hc.limits);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(error_code_name(r.error().code), error_code_name(hc.code)) << r.error().message;
    EXPECT_NE(r.error().message.find(hc.must_contain), std::string::npos)
        << "message: " << r.error().message << "\nexpected to contain: " << hc.must_contain;
    EXPECT_LT(ms, 500.0) << "rejecting a hostile frame must be fast";
    // The error is always something the worker can send back.
    const ErrorMsg reply = error_reply(r);
    EXPECT_EQ(reply.retriable, false);
    EXPECT_FALSE(reply.message.empty());
  }
}

TEST(CodecHostile, OversizedFrameIsRejectedBeforeUnpacking) {
  // 10 MB of garbage: a decoder that unpacked first would report a parse error instead.
  const std::string frame(10u << 20, '\xc1');
  ClientDecodeResult r = decode_client(as_bytes(frame), DecodeLimits{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "frame of 10485760 bytes exceeds max_frame_bytes 1048576");
}

TEST(CodecHostile, ErrorCarriesTheJobIdWhenReadable) {
  ClientDecodeResult bad_temp =
      decode_client(as_bytes(pack(with(submit(), "temperature", -1))), DecodeLimits{});
  ASSERT_FALSE(bad_temp.ok());
  EXPECT_EQ(bad_temp.job_id(), std::optional<std::string>("j1"));
  EXPECT_EQ(error_reply(bad_temp).job_id, std::optional<std::string>("j1"));

  ClientDecodeResult bad_version =
      decode_client(as_bytes(pack(with(submit(), "v", 9))), DecodeLimits{});
  ASSERT_FALSE(bad_version.ok());
  EXPECT_EQ(bad_version.job_id(), std::optional<std::string>("j1"));

  // An invalid job_id is never echoed back.
  ClientDecodeResult bad_id =
      decode_client(as_bytes(pack(with(submit(), "job_id", "a b"))), DecodeLimits{});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_FALSE(bad_id.job_id().has_value());

  ClientDecodeResult not_msgpack = decode_client(as_bytes(std::string("\xc1")), DecodeLimits{});
  ASSERT_FALSE(not_msgpack.ok());
  EXPECT_FALSE(not_msgpack.job_id().has_value());
}

TEST(CodecHostile, MessageQuotesAreCutOnACharacterBoundary) {
  // 70 × "é" (2 bytes each) as an unknown type: the quoted part must stay valid UTF-8.
  std::string type;
  for (int i = 0; i < 70; ++i) type += "\xc3\xa9";
  ClientDecodeResult r =
      decode_client(as_bytes(pack(with(submit(), "type", type))), DecodeLimits{});
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("\"…"), std::string::npos) << m;
  EXPECT_EQ(json(m).dump().empty(), false);  // nlohmann's dump() throws on invalid UTF-8
}

}  // namespace
}  // namespace zinfer::protocol
