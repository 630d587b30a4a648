// Chat templates: family detection and the Llama 3 formatter against jinja2 renderings of
// Meta-Llama-3-8B-Instruct's template (stored in the SmolLM2 fixture by
// scripts/golden/tokenizer_vectors.py; the real-model templates are checked in
// tokenizer_golden_test.cpp), and the errors for missing or unknown templates.
#include "engine/tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

std::vector<ChatMessage> messages_of(const nlohmann::json& j) {
  std::vector<ChatMessage> out;
  for (const auto& m : j)
    out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  return out;
}

TEST(ChatTemplate, Llama3MatchesJinja) {
  const std::string text = testing::read_file(testing::data_path("tokenizer/smollm2_vectors.json"));
  ASSERT_FALSE(text.empty());
  const auto golden = nlohmann::json::parse(text);
  const std::string tmpl = golden["llama3_template"];
  const auto info = detect_chat_template(tmpl);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->family, ChatTemplateFamily::kLlama3);
  ASSERT_GE(golden["llama3_chat"].size(), 6u);
  for (const auto& c : golden["llama3_chat"]) {
    auto out = format_chat(tmpl, messages_of(c["messages"]), c["add_generation_prompt"].get<bool>(),
                           "<|begin_of_text|>");
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(*out, c["rendered"].get<std::string>()) << c["name"];
  }
}

TEST(ChatTemplate, ChatMlDefaultSystemPromptIsReadFromTheTemplate) {
  // Literal with a real newline (as stored in SmolLM2's GGUF) and with a \n escape (Qwen).
  const std::string raw_newline =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\nBe kind.<|im_end|>\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% "
      "endfor %}";
  const std::string escaped =
      "{{- '<|im_start|>system\\nYou are \\'Q\\'.<|im_end|>\\n' }}<|im_start|>";
  const auto a = detect_chat_template(raw_newline);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->family, ChatTemplateFamily::kChatMl);
  EXPECT_EQ(a->default_system, std::optional<std::string>("Be kind."));
  EXPECT_FALSE(a->qwen_tool_turns);
  const auto b = detect_chat_template(escaped);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->default_system, std::optional<std::string>("You are 'Q'."));

  const std::vector<ChatMessage> msgs = {{"user", "hi"}};
  EXPECT_EQ(render_chat(*a, msgs, true, ""),
            "<|im_start|>system\nBe "
            "kind.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  // No default system when the conversation brings its own, or is empty.
  const std::vector<ChatMessage> with_system = {{"system", "S"}, {"user", "hi"}};
  EXPECT_EQ(render_chat(*a, with_system, false, ""),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_EQ(render_chat(*a, {}, true, ""), "<|im_start|>assistant\n");
  // A plain ChatML template without a default system prompt.
  const auto plain = detect_chat_template("{{ '<|im_start|>' + message['role'] }}");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->default_system.has_value());
  EXPECT_EQ(render_chat(*plain, msgs, false, ""), "<|im_start|>user\nhi<|im_end|>\n");
}

TEST(ChatTemplate, MissingOrUnknownTemplateIsAnError) {
  const std::vector<ChatMessage> msgs = {{"user", "hi"}};
  auto none = format_chat("", msgs, true, "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(none.error().message.find("tokenizer.chat_template"), std::string::npos);
  auto unknown = format_chat("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}",
                             msgs, true, "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(unknown.error().message.find("tokenizer.chat_template"), std::string::npos);
}

}  // namespace
}  // namespace zinfer::tok
