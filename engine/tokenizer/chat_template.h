// Chat templates: the model's Jinja template (tokenizer.chat_template) is recognised by family
// and rendered natively, producing the exact text Hugging Face's Jinja rendering would
// (trim_blocks/lstrip_blocks, bos_token set). No Jinja interpreter: a table of families,
// each a detector plus a formatter; new families are new rows.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::tok {

enum class ChatTemplateFamily {
  kChatMl,   // <|im_start|>role\ncontent<|im_end|>\n — SmolLM2, Qwen2/2.5, ...
  kLlama3,   // <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> — Llama 3
  kGemma,    // <start_of_turn>user\ncontent<end_of_turn>\n, assistant → "model" — Gemma 1-3
  kPhi3,     // <|user|>\ncontent<|end|>\n — Phi-3 / Phi-3.5 mini
  kHarmony,  // <|start|>role<|message|>content<|end|> with channels — gpt-oss (harmony.h)
};

struct ChatTemplateInfo {
  ChatTemplateFamily family = ChatTemplateFamily::kChatMl;
  // ChatML: the system message the template inserts when the first message is not a system
  // message (SmolLM2: "You are a helpful AI assistant named SmolLM, ..."); read from the
  // template's own string literal.
  std::optional<std::string> default_system;
  // ChatML, Qwen-2.5 style (the template knows <tool_response>): "tool" messages are
  // wrapped into one user turn per run of consecutive tool messages, and roles other than
  // system/user/assistant/tool render nothing.
  bool qwen_tool_turns = false;
  // Gemma 3: a leading system message is folded into the first turn as its content followed
  // by this separator (read from the template; "\n\n" in Gemma 3's). nullopt: the template
  // rejects system messages (Gemma 1/2).
  std::optional<std::string> gemma_system_separator;
  // Phi-3.5: a system message with empty content renders nothing.
  bool phi3_skip_empty_system = false;
};

// The harmony family renders through harmony.h (token pieces, so that special-token text in
// content stays text); render_chat returns its text form.

const char* chat_template_family_name(ChatTemplateFamily family);

// Recognises a template's family; nullopt when no row of the table matches.
std::optional<ChatTemplateInfo> detect_chat_template(std::string_view template_text);

// The messages the template would refuse (its raise_exception calls): Gemma wants at least
// one message and roles alternating user/assistant after an optional system message.
// kInvalidParameter naming the offending message.
Status check_chat_messages(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages);

// Renders messages as the template would; messages must pass check_chat_messages. bos_token
// and eos_token are the texts of the template's variables (Llama 3 and Gemma start with
// bos_token; Phi-3 ends with eos_token when there is no generation prompt).
std::string render_chat(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_token,
                        std::string_view eos_token = {});

// detect_chat_template + check_chat_messages + render_chat; kInvalidParameter naming
// tokenizer.chat_template when the template is empty or of an unknown family.
Result<std::string> format_chat(std::string_view template_text,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, std::string_view bos_token,
                                std::string_view eos_token = {});

}  // namespace zinfer::tok
