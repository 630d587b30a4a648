// Round trips of every message type through the codec, plus the wire shape of each encoded
// message checked independently: frames are read back with nlohmann::json's msgpack reader and
// compared with the documented maps, and client frames written by nlohmann decode as documented.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/sched/sequence.h"
#include "service/protocol/codec.h"
#include "tests/service/protocol/msgpack_json.h"

namespace zinfer::protocol {
namespace {

using json = nlohmann::json;
using testing::pack;
using testing::unpack;

SubmitMsg full_submit() {
  SubmitMsg s;
  s.job_id = "job-42/a:b";
  s.prompt = "Once upon a time, ünïcödé ✓ 🚀";
  auto& p = s.params.sampling;
  p.temperature = 0.7f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  p.repetition_penalty = 1.1f;
  p.presence_penalty = -0.5f;
  p.frequency_penalty = 0.25f;
  p.penalty_last_n = -1;
  p.logit_bias = {{50256, -100.0f}, {7, 2.5f}};
  p.seed = 18446744073709551615ull;
  p.top_logprobs = 5;
  s.logprobs = true;
  s.seed_given = true;
  s.params.max_tokens = 512;
  s.params.stop = {"\n\n", "User:"};
  s.params.stop_token_ids = {2, 32000};
  s.params.ignore_eos = true;
  s.priority = -7;
  s.deadline_ms = 30000;
  s.stream = false;
  return s;
}

void expect_same(const SubmitMsg& a, const SubmitMsg& b) {
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  ASSERT_EQ(a.messages.has_value(), b.messages.has_value());
  if (a.messages) {
    ASSERT_EQ(a.messages->size(), b.messages->size());
    for (std::size_t i = 0; i < a.messages->size(); ++i) {
      EXPECT_EQ((*a.messages)[i].role, (*b.messages)[i].role);
      EXPECT_EQ((*a.messages)[i].content, (*b.messages)[i].content);
    }
  }
  const auto& x = a.params.sampling;
  const auto& y = b.params.sampling;
  EXPECT_EQ(x.temperature, y.temperature);
  EXPECT_EQ(x.top_k, y.top_k);
  EXPECT_EQ(x.top_p, y.top_p);
  EXPECT_EQ(x.min_p, y.min_p);
  EXPECT_EQ(x.repetition_penalty, y.repetition_penalty);
  EXPECT_EQ(x.presence_penalty, y.presence_penalty);
  EXPECT_EQ(x.frequency_penalty, y.frequency_penalty);
  EXPECT_EQ(x.penalty_last_n, y.penalty_last_n);
  EXPECT_EQ(x.logit_bias, y.logit_bias);
  EXPECT_EQ(a.seed_given, b.seed_given);
  if (a.seed_given) {
    EXPECT_EQ(x.seed, y.seed);
  }
  EXPECT_EQ(x.top_logprobs, y.top_logprobs);
  EXPECT_EQ(a.logprobs, b.logprobs);
  EXPECT_EQ(a.params.max_tokens, b.params.max_tokens);
  EXPECT_EQ(a.params.stop, b.params.stop);
  EXPECT_EQ(a.params.stop_token_ids, b.params.stop_token_ids);
  EXPECT_EQ(a.params.ignore_eos, b.params.ignore_eos);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.deadline_ms, b.deadline_ms);
  EXPECT_EQ(a.stream, b.stream);
}

SubmitMsg decode_submit_ok(const std::string& frame) {
  ClientDecodeResult r = decode_client(as_bytes(frame), DecodeLimits{});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  EXPECT_TRUE(std::holds_alternative<SubmitMsg>(r.value()));
  return std::get<SubmitMsg>(r.value());
}

TEST(CodecRoundTrip, SubmitWithEveryFieldAndEachPromptForm) {
  SubmitMsg text = full_submit();
  expect_same(text, decode_submit_ok(encode_client(text)));

  SubmitMsg tokens = full_submit();
  tokens.prompt.reset();
  tokens.prompt_tokens = std::vector<std::int32_t>{1, 0, 2147483647, 12};
  expect_same(tokens, decode_submit_ok(encode_client(tokens)));

  SubmitMsg chat = full_submit();
  chat.prompt.reset();
  chat.messages =
      std::vector<tok::ChatMessage>{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", ""}};
  expect_same(chat, decode_submit_ok(encode_client(chat)));

  SubmitMsg defaults;
  defaults.job_id = "d";
  defaults.prompt = "";
  expect_same(defaults, decode_submit_ok(encode_client(defaults)));
}

TEST(CodecRoundTrip, CancelHealthStats) {
  ClientDecodeResult c = decode_client(as_bytes(encode_client(CancelMsg{"x-1"})), DecodeLimits{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<CancelMsg>(c.value()).job_id, "x-1");
  ClientDecodeResult h = decode_client(as_bytes(encode_client(HealthMsg{})), DecodeLimits{});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(std::holds_alternative<HealthMsg>(h.value()));
  ClientDecodeResult s = decode_client(as_bytes(encode_client(StatsMsg{})), DecodeLimits{});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(std::holds_alternative<StatsMsg>(s.value()));
  EXPECT_EQ(unpack(encode_client(HealthMsg{})), (json{{"v", 1}, {"type", "health"}}));
  EXPECT_EQ(unpack(encode_client(CancelMsg{"x-1"})),
            (json{{"v", 1}, {"type", "cancel"}, {"job_id", "x-1"}}));
}

TEST(CodecDecode, MinimalSubmitGetsTheDocumentedDefaults) {
  SubmitMsg s =
      decode_submit_ok(pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "hi"}}));
  EXPECT_EQ(s.params.sampling.temperature, 1.0f);
  EXPECT_EQ(s.params.sampling.top_k, 0);
  EXPECT_EQ(s.params.sampling.top_p, 1.0f);
  EXPECT_EQ(s.params.sampling.min_p, 0.0f);
  EXPECT_EQ(s.params.sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(s.params.sampling.presence_penalty, 0.0f);
  EXPECT_EQ(s.params.sampling.frequency_penalty, 0.0f);
  EXPECT_EQ(s.params.sampling.penalty_last_n, 64);
  EXPECT_TRUE(s.params.sampling.logit_bias.empty());
  EXPECT_EQ(s.params.sampling.top_logprobs, 0);
  EXPECT_FALSE(s.logprobs);
  EXPECT_FALSE(s.seed_given);
  EXPECT_EQ(s.params.max_tokens, 256);
  EXPECT_TRUE(s.params.stop.empty());
  EXPECT_TRUE(s.params.stop_token_ids.empty());
  EXPECT_FALSE(s.params.ignore_eos);
  EXPECT_EQ(s.priority, 0);
  EXPECT_FALSE(s.deadline_ms.has_value());
  EXPECT_TRUE(s.stream);
}

TEST(CodecDecode, AbsentSeedIsDrawnAtRandom) {
  const std::string frame = pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "hi"}});
  // Two 64-bit draws colliding has probability 2^-64.
  EXPECT_NE(decode_submit_ok(frame).params.sampling.seed,
            decode_submit_ok(frame).params.sampling.seed);
  SubmitMsg zero = decode_submit_ok(
      pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "hi"}, {"seed", 0}}));
  EXPECT_TRUE(zero.seed_given);
  EXPECT_EQ(zero.params.sampling.seed, 0u);
}

TEST(CodecDecode, JsonStyleInputs) {
  // Decimal-string logit_bias keys (what a JSON client has), stop as one string, nil as
  // "absent", logprobs as a boolean, integral values for float fields, unknown fields.
  json j = {{"v", 1},
            {"type", "submit"},
            {"job_id", "a"},
            {"prompt", nullptr},
            {"messages", json::array({{{"role", "user"}, {"content", "hi"}, {"name", "bob"}}})},
            {"logit_bias", {{"0", 5}, {"2147483647", -1.5}}},
            {"stop", "###"},
            {"temperature", 0},
            {"seed", nullptr},
            {"logprobs", true},
            {"future_field", {{"nested", json::array({1, "x", nullptr})}}}};
  SubmitMsg s = decode_submit_ok(pack(j));
  EXPECT_FALSE(s.prompt.has_value());
  ASSERT_TRUE(s.messages.has_value());
  EXPECT_EQ((*s.messages)[0].content, "hi");
  const std::vector<std::pair<std::int32_t, float>> bias = {{0, 5.0f}, {2147483647, -1.5f}};
  EXPECT_EQ(s.params.sampling.logit_bias, bias);
  EXPECT_EQ(s.params.stop, std::vector<std::string>{"###"});
  EXPECT_EQ(s.params.sampling.temperature, 0.0f);
  EXPECT_FALSE(s.seed_given);
  EXPECT_TRUE(s.logprobs);
  EXPECT_EQ(s.params.sampling.top_logprobs, 0);

  SubmitMsg n = decode_submit_ok(
      pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "x"}, {"logprobs", 20}}));
  EXPECT_TRUE(n.logprobs);
  EXPECT_EQ(n.params.sampling.top_logprobs, 20);
  SubmitMsg off = decode_submit_ok(
      pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "x"}, {"logprobs", false}}));
  EXPECT_FALSE(off.logprobs);
}

TEST(CodecDecode, BoundaryValuesAreAccepted) {
  json j = {{"v", 1},
            {"type", "submit"},
            {"job_id", std::string(128, '~')},
            {"prompt", std::string(512u << 10, 'p')},
            {"temperature", 100},
            {"top_p", 1},
            {"min_p", 1},
            {"repetition_penalty", 10},
            {"presence_penalty", -2},
            {"frequency_penalty", 2},
            {"max_tokens", 1 << 20},
            {"priority", -100},
            {"deadline_ms", 86400000},
            {"stop", std::vector<std::string>(16, std::string(256, 's'))},
            {"stop_token_ids", std::vector<int>(64, 0)}};
  SubmitMsg s = decode_submit_ok(pack(j));
  EXPECT_EQ(s.job_id.size(), 128u);
  EXPECT_EQ(s.prompt->size(), 512u << 10);
  EXPECT_EQ(s.params.max_tokens, 1 << 20);
  EXPECT_EQ(s.deadline_ms, std::optional<std::int64_t>(86400000));
}

// A value inside an open interval is valid however small (top_p in (0, 1], repetition_penalty in
// (0, 10]): it is validated as sent, not after float32 rounded it to 0, and it reaches the
// engine as a positive float (the smallest normal one) that the engine's own check accepts.
TEST(CodecDecode, TinyPositiveValuesOfOpenIntervalsAreValidatedAsSent) {
  SubmitMsg s = decode_submit_ok(pack({{"v", 1},
                                       {"type", "submit"},
                                       {"job_id", "a"},
                                       {"prompt", "x"},
                                       {"top_p", 1e-50},
                                       {"repetition_penalty", 1e-50}}));
  EXPECT_EQ(s.params.sampling.top_p, std::numeric_limits<float>::min());
  EXPECT_EQ(s.params.sampling.repetition_penalty, std::numeric_limits<float>::min());
  EXPECT_TRUE(sched::validate(s.params, 1000).ok());
  SubmitMsg t = decode_submit_ok(
      pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "x"}, {"top_p", 1e-30}}));
  EXPECT_EQ(t.params.sampling.top_p, 1e-30f);  // representable: kept as sent
  // 0 itself is still outside (0, 1], and the one validator words it.
  auto zero = decode_client(
      as_bytes(
          pack({{"v", 1}, {"type", "submit"}, {"job_id", "a"}, {"prompt", "x"}, {"top_p", 0.0}})),
      DecodeLimits{});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().code, ErrorCode::kInvalidParameter);
  EXPECT_EQ(zero.error().message, "submit.top_p: must be finite and in (0, 1], got 0");
}

// ---- worker → client ----

TEST(CodecRoundTrip, WorkerMessagesDecodeBackAndHaveTheDocumentedShape) {
  AcceptedMsg accepted{"j1", 3};
  EXPECT_EQ(unpack(encode(accepted)),
            (json{{"v", 1}, {"type", "accepted"}, {"job_id", "j1"}, {"queue_position", 3}}));
  auto a = decode_worker(as_bytes(encode(accepted)), DecodeLimits{});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(std::get<AcceptedMsg>(*a).queue_position, 3);

  TokenMsg token;
  token.job_id = "j1";
  token.seq = 4;
  token.tokens = {17, 9};
  token.text = "é!";
  token.logprobs = {{17, -0.5f, {{17, -0.5f}, {3, -1.25f}}}, {9, -2.0f, {}}};
  json want_token = {
      {"v", 1},
      {"type", "token"},
      {"job_id", "j1"},
      {"seq", 4},
      {"tokens", {17, 9}},
      {"text", "é!"},
      {"logprobs",
       {{{"token", 17},
         {"logprob", -0.5},
         {"top", {{{"token", 17}, {"logprob", -0.5}}, {{"token", 3}, {"logprob", -1.25}}}}},
        {{"token", 9}, {"logprob", -2.0}, {"top", json::array()}}}}};
  EXPECT_EQ(unpack(encode(token)), want_token);
  auto t = decode_worker(as_bytes(encode(token)), DecodeLimits{});
  ASSERT_TRUE(t.ok()) << t.error().message;
  const TokenMsg& td = std::get<TokenMsg>(*t);
  EXPECT_EQ(td.seq, 4u);
  EXPECT_EQ(td.tokens, token.tokens);
  EXPECT_EQ(td.text, token.text);
  ASSERT_EQ(td.logprobs.size(), 2u);
  EXPECT_EQ(td.logprobs[0].top, token.logprobs[0].top);
  TokenMsg plain = token;
  plain.logprobs.clear();
  EXPECT_FALSE(unpack(encode(plain)).contains("logprobs"));

  DoneMsg done;
  done.job_id = "j1";
  done.seq = 5;
  done.finish_reason = sched::FinishReason::kLength;
  done.text = "tail";
  done.tokens = {5};
  done.usage = {12, 6};
  done.timings = {1.5, 20.25, 100.0, 50.0};
  json want_done = {
      {"v", 1},
      {"type", "done"},
      {"job_id", "j1"},
      {"seq", 5},
      {"finish_reason", "length"},
      {"text", "tail"},
      {"tokens", {5}},
      {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 6}}},
      {"timings",
       {{"queue_ms", 1.5}, {"ttft_ms", 20.25}, {"decode_ms", 100.0}, {"tokens_per_s", 50.0}}}};
  EXPECT_EQ(unpack(encode(done)), want_done);
  auto d = decode_worker(as_bytes(encode(done)), DecodeLimits{});
  ASSERT_TRUE(d.ok()) << d.error().message;
  const DoneMsg& dd = std::get<DoneMsg>(*d);
  EXPECT_EQ(dd.finish_reason, sched::FinishReason::kLength);
  EXPECT_EQ(dd.usage.completion_tokens, 6);
  EXPECT_EQ(dd.timings.ttft_ms, 20.25);
  for (auto reason : {sched::FinishReason::kStop, sched::FinishReason::kCancelled,
                      sched::FinishReason::kDeadline}) {
    done.finish_reason = reason;
    auto r = decode_worker(as_bytes(encode(done)), DecodeLimits{});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<DoneMsg>(*r).finish_reason, reason);
  }

  ErrorMsg err =
      error_reply(make_error(ErrorCode::kQueueFull, "queue holds 64 jobs"), std::string("j9"));
  EXPECT_EQ(unpack(encode(err)), (json{{"v", 1},
                                       {"type", "error"},
                                       {"job_id", "j9"},
                                       {"code", "QUEUE_FULL"},
                                       {"message", "queue holds 64 jobs"},
                                       {"retriable", true}}));
  ErrorMsg anonymous =
      error_reply(make_error(ErrorCode::kInvalidRequest, "frame: empty"), std::nullopt);
  EXPECT_FALSE(unpack(encode(anonymous)).contains("job_id"));
  for (ErrorCode code : {ErrorCode::kOutOfMemory, ErrorCode::kInternal, ErrorCode::kInvalidDevice,
                         ErrorCode::kDeadlineExceeded, ErrorCode::kWorkerLost}) {
    auto e = decode_worker(as_bytes(encode(error_reply(make_error(code, "m"), std::nullopt))),
                           DecodeLimits{});
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(std::get<ErrorMsg>(*e).code, code);
    EXPECT_EQ(std::get<ErrorMsg>(*e).retriable, error_code_retriable(code));
  }

  HealthReply health{"ready", "SmolLM2-135M-Instruct",
                     "llama", {"Q4_1", "Q8_0", "F32"},
                     8192,    "cpu",
                     0,       2,
                     1,       8,
                     12.5,    false,
                     42,      0.25};
  json want_health = {{"v", 1},
                      {"type", "health"},
                      {"status", "ready"},
                      {"model", "SmolLM2-135M-Instruct"},
                      {"architecture", "llama"},
                      {"quant_types", {"Q4_1", "Q8_0", "F32"}},
                      {"context_length", 8192},
                      {"device", "cpu"},
                      {"vram_used_bytes", 0},
                      {"vram_resident", false},
                      {"queue_depth", 2},
                      {"active_jobs", 1},
                      {"capacity", 8},
                      {"uptime_s", 12.5},
                      {"engine_steps", 42},
                      {"last_step_age_s", 0.25}};
  EXPECT_EQ(unpack(encode(health)), want_health);
  auto h = decode_worker(as_bytes(encode(health)), DecodeLimits{});
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(std::get<HealthReply>(*h).quant_types, health.quant_types);
  EXPECT_EQ(std::get<HealthReply>(*h).engine_steps, 42u);
  EXPECT_EQ(std::get<HealthReply>(*h).last_step_age_s, 0.25);

  StatsReply stats{10, 7, 1, 1, 3, 900, 1200, 2, 1, 40, 512, 333, 60.0, 640};
  json want_stats = {{"v", 1},
                     {"type", "stats"},
                     {"jobs_accepted", 10},
                     {"jobs_completed", 7},
                     {"jobs_cancelled", 1},
                     {"jobs_failed", 1},
                     {"jobs_rejected", 3},
                     {"tokens_generated", 900},
                     {"prompt_tokens", 1200},
                     {"queue_depth", 2},
                     {"active_jobs", 1},
                     {"kv_blocks_used", 40},
                     {"kv_blocks_total", 512},
                     {"engine_steps", 333},
                     {"uptime_s", 60.0},
                     {"prompt_tokens_cached", 640}};
  EXPECT_EQ(unpack(encode(stats)), want_stats);
  auto s = decode_worker(as_bytes(encode(stats)), DecodeLimits{});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(std::get<StatsReply>(*s).engine_steps, 333u);
}

// Harmony chat jobs (PROTOCOL.md §6.3.1): `reasoning` is an added, optional field of token and
// done frames; absent unless set, decoded back when present.
TEST(CodecRoundTrip, ReasoningFieldOfHarmonyJobs) {
  TokenMsg token;
  token.job_id = "j1";
  token.tokens = {200005};
  token.text = "";
  EXPECT_FALSE(unpack(encode(token)).contains("reasoning"));
  token.reasoning = "Let me think";
  const json t = unpack(encode(token));
  EXPECT_EQ(t["reasoning"], "Let me think");
  EXPECT_EQ(t.size(), 7u);
  auto td = decode_worker(as_bytes(encode(token)), DecodeLimits{});
  ASSERT_TRUE(td.ok()) << td.error().message;
  EXPECT_EQ(std::get<TokenMsg>(*td).reasoning, token.reasoning);

  DoneMsg done;
  done.job_id = "j1";
  done.text = "4";
  EXPECT_FALSE(unpack(encode(done)).contains("reasoning"));
  auto plain = decode_worker(as_bytes(encode(done)), DecodeLimits{});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(std::get<DoneMsg>(*plain).reasoning.has_value());
  done.reasoning = "";
  const json d = unpack(encode(done));
  EXPECT_EQ(d["reasoning"], "");
  EXPECT_EQ(d.size(), 10u);
  auto dd = decode_worker(as_bytes(encode(done)), DecodeLimits{});
  ASSERT_TRUE(dd.ok()) << dd.error().message;
  EXPECT_EQ(std::get<DoneMsg>(*dd).reasoning, std::optional<std::string>(""));
}

TEST(CodecDecode, EncodedSubmitHasTheDocumentedShape) {
  json wire = unpack(encode_client(full_submit()));
  EXPECT_EQ(wire["v"], 1);
  EXPECT_EQ(wire["type"], "submit");
  EXPECT_EQ(wire["prompt"], "Once upon a time, ünïcödé ✓ 🚀");
  EXPECT_EQ(wire["logprobs"], 5);
  EXPECT_EQ(wire["seed"], 18446744073709551615ull);
  EXPECT_EQ(wire["stop"], json({"\n\n", "User:"}));
  EXPECT_EQ(wire["deadline_ms"], 30000);
  EXPECT_EQ(wire["stream"], false);
  EXPECT_FLOAT_EQ(wire["temperature"].get<float>(), 0.7f);
  EXPECT_EQ(wire["logit_bias"], (json{{"50256", -100.0}, {"7", 2.5}}));
}

TEST(CodecDecode, IntegerLogitBiasKeysAreAccepted) {
  // {v:1, type:"submit", job_id:"a", prompt:"p", logit_bias:{5: -1, 300: 2}} written by hand:
  // nlohmann cannot write integer map keys.
  std::string frame =
      "\x85\xa1v\x01\xa4type\xa6submit\xa6job_id\xa1"
      "a\xa6prompt\xa1p\xaalogit_bias\x82";
  frame += std::string("\x05\xff", 2);          // 5 → -1 (negative fixint)
  frame += std::string("\xcd\x01\x2c\x02", 4);  // 300 (uint16) → 2
  SubmitMsg s = decode_submit_ok(frame);
  const std::vector<std::pair<std::int32_t, float>> bias = {{5, -1.0f}, {300, 2.0f}};
  EXPECT_EQ(s.params.sampling.logit_bias, bias);
}

TEST(CodecDecode, WorkerDecoderRejectsMalformedReplies) {
  auto missing = decode_worker(as_bytes(pack({{"v", 1}, {"type", "accepted"}})), DecodeLimits{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "accepted.job_id: required");
  auto bad_reason = decode_worker(
      as_bytes(pack(
          {{"v", 1}, {"type", "done"}, {"job_id", "a"}, {"seq", 0}, {"finish_reason", "none"}})),
      DecodeLimits{});
  ASSERT_FALSE(bad_reason.ok());
  EXPECT_NE(bad_reason.error().message.find("done.finish_reason"), std::string::npos);
  auto version = decode_worker(as_bytes(pack({{"v", 2}, {"type", "stats"}})), DecodeLimits{});
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().code, ErrorCode::kUnsupportedVersion);
  auto text = decode_worker(as_bytes(pack({{"v", 1},
                                           {"type", "token"},
                                           {"job_id", "a"},
                                           {"seq", 0},
                                           {"tokens", {1}},
                                           {"text", "\xff"}})),
                            DecodeLimits{});
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("token.text: invalid UTF-8"), std::string::npos);
  // A code this build does not know still decodes (as UNKNOWN) so the text reaches the user.
  auto future = decode_worker(as_bytes(pack({{"v", 1},
                                             {"type", "error"},
                                             {"code", "SOMETHING_NEW"},
                                             {"message", "m"},
                                             {"retriable", false}})),
                              DecodeLimits{});
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(std::get<ErrorMsg>(*future).code, ErrorCode::kUnknown);
}

}  // namespace
}  // namespace zinfer::protocol
