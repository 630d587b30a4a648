// The harmony chat format (engine/tokenizer/harmony.h) against openai-harmony 0.0.8 on the
// real o200k_harmony vocabulary (fixture: scripts/golden/o200k_harmony_vectors.py; the
// vocabulary: scripts/fetch_models.sh o200k): renderings token for token, and the reading of
// completion token sequences as its StreamableParser reads them. No model weights needed.
#include "engine/tokenizer/harmony.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/sched/job_spec.h"
#include "engine/sched/sequence.h"
#include "engine/tokenizer/chat_template.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

using nlohmann::json;

const json& fixture() {
  static const json j =
      json::parse(testing::read_file(testing::data_path("tokenizer/harmony_vectors.json")));
  return j;
}

// var names the variable the macro declares: it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define LOAD_O200K_OR_SKIP(var)                                           \
  ZINFER_REQUIRE_MODEL(var##_path, "o200k_harmony.gguf");                 \
  golden::LoadedTokenizer& var = golden::load_tokenizer_once(var##_path); \
  ASSERT_NE(var.tok, nullptr)
// NOLINTEND(bugprone-macro-parentheses)

std::vector<ChatMessage> messages_of(const json& c) {
  std::vector<ChatMessage> out;
  for (const json& m : c["messages"]) out.push_back({m["role"], m["content"]});
  return out;
}

HarmonyOptions options_of(const json& c) {
  HarmonyOptions o;
  const json& j = c["options"];
  if (j.contains("reasoning_effort")) o.reasoning_effort = j["reasoning_effort"];
  if (j.contains("model_identity")) o.model_identity = j["model_identity"];
  if (j.contains("conversation_start_date"))
    o.conversation_start_date = j["conversation_start_date"];
  return o;
}

std::optional<std::string> opt(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

TEST(Harmony, FixtureCoversTheAcceptance) {
  const json& f = fixture();
  ASSERT_GE(f["conversations"].size(), 10u);
  int system = 0, developer = 0, multi_turn = 0;
  for (const json& c : f["conversations"]) {
    int assistants = 0;
    for (const json& m : c["messages"]) {
      system += m["role"] == "system";
      developer += m["role"] == "developer";
      assistants += m["role"] == "assistant";
    }
    multi_turn += assistants > 0;
  }
  EXPECT_GT(system, 0);
  EXPECT_GT(developer, 0);
  EXPECT_GT(multi_turn, 3);
}

TEST(Harmony, RenderingsEqualOpenaiHarmony) {
  LOAD_O200K_OR_SKIP(m);
  for (const json& c : fixture()["conversations"]) {
    const auto msgs = messages_of(c);
    const HarmonyOptions o = options_of(c);
    ASSERT_TRUE(check_harmony_messages(o, msgs).ok()) << c["name"];
    const auto pieces = render_harmony(o, msgs, c["add_generation_prompt"]);
    EXPECT_EQ(harmony_text(pieces), c["text"].get<std::string>()) << c["name"];
    auto ids = encode_harmony(*m.tok, pieces);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_EQ(*ids, c["ids"].get<std::vector<std::int32_t>>()) << c["name"];
  }
}

// The vocabulary file carries gpt-oss's own chat template: it is recognised as harmony, and
// Tokenizer::encode_chat renders through harmony.h (default options).
TEST(Harmony, ModelChatTemplateRendersHarmony) {
  LOAD_O200K_OR_SKIP(m);
  ASSERT_TRUE(m.tok->chat_is_harmony());
  const auto info = detect_chat_template(m.tok->chat_template());
  ASSERT_TRUE(info);
  EXPECT_STREQ(chat_template_family_name(info->family), "harmony");
  int checked = 0;
  for (const json& c : fixture()["conversations"]) {
    if (!c["options"].empty()) continue;
    const auto msgs = messages_of(c);
    auto ids = m.tok->encode_chat(msgs, c["add_generation_prompt"]);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    EXPECT_EQ(*ids, c["ids"].get<std::vector<std::int32_t>>()) << c["name"];
    auto text = m.tok->apply_chat_template(msgs, c["add_generation_prompt"]);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, c["text"].get<std::string>()) << c["name"];
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(Harmony, RefusesToolMessagesAndBadEffort) {
  HarmonyOptions o;
  auto st = check_harmony_messages(o, {{"user", "hi"}, {"tool", "{}"}});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(st.error().message.find("messages[1].role"), std::string::npos);
  o.reasoning_effort = "extreme";
  EXPECT_FALSE(check_harmony_messages(o, {{"user", "hi"}}).ok());
}

// Special-token text typed in a message stays text (openai-harmony encodes content as
// ordinary text); the text form would have turned it into tokens.
TEST(Harmony, SpecialTextInContentStaysText) {
  LOAD_O200K_OR_SKIP(m);
  const std::vector<ChatMessage> msgs = {{"user", "<|end|><|start|>"}};
  auto ids = encode_harmony(*m.tok, render_harmony({}, msgs, true));
  ASSERT_TRUE(ids.ok());
  const std::int32_t end = m.tok->encode("<|end|>", false, true).at(0);
  EXPECT_EQ(std::count(ids->begin(), ids->end(), end), 2);  // system's and the user's <|end|>
}

TEST(Harmony, ParsesLikeStreamableParser) {
  LOAD_O200K_OR_SKIP(m);
  for (const json& p : fixture()["parses"]) {
    HarmonyParser parser(*m.tok);
    std::string text, reasoning;
    for (std::int32_t id : p["ids"].get<std::vector<std::int32_t>>()) {
      const HarmonyParser::Delta d = parser.push(id);
      text += d.text;
      reasoning += d.reasoning;
    }
    const std::string name = p["name"];
    const json& want = p["messages"];
    ASSERT_EQ(parser.messages().size(), want.size()) << name;
    std::string want_text, want_reasoning;
    for (std::size_t i = 0; i < want.size(); ++i) {
      const HarmonyMessage& got = parser.messages()[i];
      EXPECT_EQ(got.channel, opt(want[i]["channel"])) << name << " " << i;
      EXPECT_EQ(got.recipient, opt(want[i]["recipient"])) << name << " " << i;
      EXPECT_EQ(got.content_type, opt(want[i]["content_type"])) << name << " " << i;
      EXPECT_EQ(got.content, want[i]["content"].get<std::string>()) << name << " " << i;
      if (want[i]["channel"] == "final") want_text += want[i]["content"].get<std::string>();
      if (want[i]["channel"] == "analysis") want_reasoning += want[i]["content"].get<std::string>();
    }
    const std::string state = p["state"];
    EXPECT_EQ(parser.state(), state == "CONTENT"  ? HarmonyParser::State::kContent
                              : state == "HEADER" ? HarmonyParser::State::kHeader
                                                  : HarmonyParser::State::kExpectStart)
        << name;
    if (!p["partial"].is_null()) {
      const json& w = p["partial"];
      EXPECT_EQ(parser.current().channel, opt(w["channel"])) << name;
      EXPECT_EQ(parser.current().recipient, opt(w["recipient"])) << name;
      EXPECT_EQ(parser.current().content, w["content"].get<std::string>()) << name;
      if (w["channel"] == "final") want_text += w["content"].get<std::string>();
      if (w["channel"] == "analysis") want_reasoning += w["content"].get<std::string>();
    }
    EXPECT_EQ(text, want_text) << name;
    EXPECT_EQ(reasoning, want_reasoning) << name;
  }
}

// A character split over byte tokens is released whole, with its last byte; an incomplete
// one at the end of the generation becomes U+FFFD on flush.
TEST(Harmony, StreamsCompleteUtf8) {
  LOAD_O200K_OR_SKIP(m);
  HarmonyParser parser(*m.tok);
  for (std::int32_t id : m.tok->encode("<|channel|>final<|message|>", false, true)) {
    EXPECT_TRUE(parser.push(id).text.empty());
  }
  const std::string smile = "\xF0\x9F\x99\x82";
  std::vector<std::int32_t> bytes;  // the single-byte tokens of its four bytes
  for (char c : smile) {
    for (std::int32_t id = 0; id < m.tok->vocab_size(); ++id) {
      if (m.tok->token_to_piece(id, false) == std::string(1, c)) {
        bytes.push_back(id);
        break;
      }
    }
  }
  ASSERT_EQ(bytes.size(), 4u);
  EXPECT_EQ(parser.push(bytes[0]).text, "");
  EXPECT_EQ(parser.push(bytes[1]).text, "");
  EXPECT_EQ(parser.push(bytes[2]).text, "");
  EXPECT_EQ(parser.push(bytes[3]).text, smile);
  EXPECT_EQ(parser.push(bytes[0]).text, "");
  EXPECT_EQ(parser.flush().text, "\xEF\xBF\xBD");
}

// Hand-made stream: reasoning and answer go to their own fields as they are generated.
TEST(Harmony, SplitsReasoningFromAnswer) {
  LOAD_O200K_OR_SKIP(m);
  const std::string out =
      "<|channel|>analysis<|message|>User wants a greeting.<|end|><|start|>assistant"
      "<|channel|>commentary<|message|>(preamble)<|end|><|start|>assistant<|channel|>final"
      "<|message|>Hello!<|return|>";
  HarmonyParser parser(*m.tok);
  std::string text, reasoning;
  for (std::int32_t id : m.tok->encode(out, false, true)) {
    const auto d = parser.push(id);
    text += d.text;
    reasoning += d.reasoning;
  }
  EXPECT_EQ(text, "Hello!");
  EXPECT_EQ(reasoning, "User wants a greeting.");
  ASSERT_EQ(parser.messages().size(), 3u);
  EXPECT_EQ(parser.messages()[1].channel, "commentary");
  EXPECT_EQ(parser.messages()[2].role, "assistant");
}

// What a sequence of a harmony job releases, token by token (the engine's side of the wire's
// text / reasoning fields).
struct Released {
  std::string text, reasoning;
  sched::FinishReason finish = sched::FinishReason::kNone;
  std::size_t tokens = 0;
};

Released run_sequence(const Tokenizer& tok, const std::string& output,
                      sched::GenerationParams params) {
  auto prompt = tok.encode_chat({{"user", "What is 2+2?"}}, true);
  EXPECT_TRUE(prompt.ok());
  auto spec = sched::JobSpec::check(*prompt, std::move(params), {tok.vocab_size(), 4096});
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  sched::Sequence seq(tok, *spec);
  Released r;
  for (std::int32_t id : tok.encode(output, false, true)) {
    if (seq.finished()) break;
    sample::SampleResult s;
    s.token = id;
    auto out = seq.accept_sample(s);
    EXPECT_TRUE(out.ok());
    r.text += out->text;
    r.reasoning += out->reasoning;
    r.finish = out->finish;
    ++r.tokens;
  }
  return r;
}

const char* const kOutput =
    "<|channel|>analysis<|message|>The user asks 2+2. Answer 4.<|end|><|start|>assistant"
    "<|channel|>final<|message|>2 + 2 = 4.<|return|>";

TEST(HarmonySequence, FinalIsTextAnalysisIsReasoning) {
  LOAD_O200K_OR_SKIP(m);
  sched::GenerationParams p;
  p.harmony_channels = true;
  const Released r = run_sequence(*m.tok, kOutput, p);
  EXPECT_EQ(r.text, "2 + 2 = 4.");
  EXPECT_EQ(r.reasoning, "The user asks 2+2. Answer 4.");
  EXPECT_EQ(r.finish, sched::FinishReason::kStop);  // <|return|> ends the generation
  EXPECT_EQ(r.tokens, m.tok->encode(kOutput, false, true).size());

  // Without the flag the text is the raw stream (the structural tokens render as text, as in
  // llama.cpp); <|return|> ends it.
  const Released plain = run_sequence(*m.tok, kOutput, sched::GenerationParams{});
  EXPECT_EQ(plain.text,
            "<|channel|>analysis<|message|>The user asks 2+2. Answer 4.<|end|><|start|>assistant"
            "<|channel|>final<|message|>2 + 2 = 4.");
  EXPECT_EQ(plain.reasoning, "");
}

TEST(HarmonySequence, StopStringsMatchTheFinalChannelOnly) {
  LOAD_O200K_OR_SKIP(m);
  sched::GenerationParams p;
  p.harmony_channels = true;
  p.stop = {"2+2", "= 4"};  // "2+2" occurs only in the analysis channel
  const Released r = run_sequence(*m.tok, kOutput, p);
  EXPECT_EQ(r.reasoning, "The user asks 2+2. Answer 4.");
  EXPECT_EQ(r.text, "2 + 2 ");
  EXPECT_EQ(r.finish, sched::FinishReason::kStop);
}

TEST(HarmonySequence, LengthCutInsideTheAnalysis) {
  LOAD_O200K_OR_SKIP(m);
  sched::GenerationParams p;
  p.harmony_channels = true;
  p.max_tokens = 6;  // <|channel|> analysis <|message|> The user asks
  const Released r = run_sequence(*m.tok, kOutput, p);
  EXPECT_EQ(r.finish, sched::FinishReason::kLength);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.reasoning, "The user asks");
}

}  // namespace
}  // namespace zinfer::tok
