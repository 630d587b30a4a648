// Chat templates: the model's Jinja template (tokenizer.chat_template) is recognised by family
// and rendered natively, producing the exact text Hugging Face's Jinja rendering would
// (trim_blocks/lstrip_blocks, bos_token set). No Jinja interpreter: a table of families,
// each a detector plus a formatter; add Gemma, Phi-3, ... as new rows.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::tok {

enum class ChatTemplateFamily {
  kChatMl,  // <|im_start|>role\ncontent<|im_end|>\n — SmolLM2, Qwen2/2.5, ...
  kLlama3,  // <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> — Llama 3
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
};

const char* chat_template_family_name(ChatTemplateFamily family);

// Recognises a template's family; nullopt when no row of the table matches.
std::optional<ChatTemplateInfo> detect_chat_template(std::string_view template_text);

// Renders messages as the template would. bos_token is the text of the template's
// bos_token variable (Llama 3 starts the first turn with it).
std::string render_chat(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_token);

// detect_chat_template + render_chat; kInvalidParameter naming tokenizer.chat_template when
// the template is empty or of an unknown family.
Result<std::string> format_chat(std::string_view template_text,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, std::string_view bos_token);

}  // namespace zinfer::tok
