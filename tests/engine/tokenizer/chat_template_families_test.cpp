// Gemma and Phi-3 chat templates against jinja2 renderings (sandboxed, trim_blocks,
// lstrip_blocks, as Hugging Face renders) of the published template texts committed in
// tests/data/tokenizer/ (gemma3_chat_template.jinja: google/gemma-3-270m-it;
// phi3_mini_chat_template.jinja: microsoft/Phi-3-mini-4k-instruct), stored in
// gemma3_vectors.json by scripts/golden/spm_tokenizer_vectors.py. Conversations the Jinja
// template rejects (raise_exception, no messages) must be kInvalidParameter errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tokenizer/chat_template.h"
#include "tests/engine/tokenizer/golden_fixture.h"
#include "tests/test_util.h"

namespace zinfer::tok {
namespace {

using golden::messages_of;

nlohmann::json load_golden() {
  const std::string text = testing::read_file(testing::data_path("tokenizer/gemma3_vectors.json"));
  EXPECT_FALSE(text.empty()) << "missing tests/data/tokenizer/gemma3_vectors.json";
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
}

// Renders every case with `tmpl`; returns the number of successful renders.
int check_cases(const nlohmann::json& cases, const std::string& tmpl, const char* bos,
                const char* eos) {
  int rendered = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    const bool add_gen = c["add_generation_prompt"].get<bool>();
    auto out = format_chat(tmpl, messages_of(c["messages"]), add_gen, bos, eos);
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << name << " gen=" << add_gen << ": jinja2 raised "
                             << c["error"].get<std::string>();
      if (!out.ok()) {
        EXPECT_EQ(out.error().code, ErrorCode::kInvalidParameter);
        EXPECT_NE(out.error().message.find("messages"), std::string::npos) << out.error().message;
      }
      continue;
    }
    EXPECT_TRUE(out.ok()) << name << ": " << out.error().message;
    if (!out.ok()) continue;
    EXPECT_EQ(*out, c["rendered"].get<std::string>()) << name << " gen=" << add_gen;
    ++rendered;
  }
  return rendered;
}

TEST(ChatTemplateFamilies, Gemma3MatchesJinja) {
  const auto golden = load_golden();
  ASSERT_TRUE(golden.contains("gemma3_chat"));
  const std::string tmpl =
      testing::read_file(testing::data_path("tokenizer/gemma3_chat_template.jinja"));
  ASSERT_FALSE(tmpl.empty());
  const auto info = detect_chat_template(tmpl);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->family, ChatTemplateFamily::kGemma);
  EXPECT_EQ(info->gemma_system_separator, std::optional<std::string>("\n\n"));
  EXPECT_GE(check_cases(golden["gemma3_chat"], tmpl, "<bos>", "<eos>"), 12);
}

TEST(ChatTemplateFamilies, Phi3MiniMatchesJinja) {
  const auto golden = load_golden();
  ASSERT_TRUE(golden.contains("phi3_chat"));
  const std::string tmpl =
      testing::read_file(testing::data_path("tokenizer/phi3_mini_chat_template.jinja"));
  ASSERT_FALSE(tmpl.empty());
  const auto info = detect_chat_template(tmpl);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->family, ChatTemplateFamily::kPhi3);
  EXPECT_FALSE(info->phi3_skip_empty_system);
  EXPECT_GE(check_cases(golden["phi3_chat"], tmpl, "<s>", "<|endoftext|>"), 20);
}

TEST(ChatTemplateFamilies, VariantsReadFromTheTemplate) {
  const std::vector<ChatMessage> with_system = {{"system", ""}, {"user", " hi "}};
  // Phi-3.5 drops an empty system message ("... == 'system' and message['content']").
  const std::string phi35 =
      "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
      "{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == 'user' "
      "%}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% elif message['role'] == "
      "'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}{% endif %}{% "
      "endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% "
      "endif %}";
  auto a = format_chat(phi35, with_system, true, "<s>", "<|endoftext|>");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*a, "<|user|>\n hi <|end|>\n<|assistant|>\n");
  // The first Phi-3 template ('<|user|>' + '\n' ... + '<|assistant|>' after each user turn)
  // renders differently; it is not claimed as Phi-3.
  EXPECT_FALSE(detect_chat_template("{{ bos_token }}{% for message in messages %}{{'<|user|>' + "
                                    "'\\n' + message['content'] + '<|end|>' + '\\n' + "
                                    "'<|assistant|>' + '\\n'}}{% endfor %}")
                   .has_value());
  // Gemma 2 rejects system messages; its turns render as Gemma 3's.
  const std::string gemma2 =
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
      "supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != "
      "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
      "user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') "
      "%}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ "
      "'<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
      "endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
  auto b = format_chat(gemma2, with_system, true, "<bos>");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("messages[0].role"), std::string::npos);
  auto c = format_chat(gemma2, {{"user", " hi "}, {"assistant", "yo"}}, true, "<bos>");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c,
            "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nyo<end_of_turn>\n"
            "<start_of_turn>model\n");
}

}  // namespace
}  // namespace zinfer::tok
