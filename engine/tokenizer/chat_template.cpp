// Chat template families (see chat_template.h). The formatters mirror the Jinja sources of
// the templates they stand for; tests compare them with jinja2 renderings of those sources.
#include "engine/tokenizer/chat_template.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

#include "engine/tokenizer/harmony.h"
#include "engine/tokenizer/unicode.h"

namespace zinfer::tok {
namespace {

// Jinja string literals follow Python's escapes; the ones chat templates use are enough.
std::string unescape_literal(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      default:
        out.push_back('\\');
        out.push_back(e);
    }
  }
  return out;
}

// Every quoted string literal inside the template's {{ }} and {% %} tags, unescaped, in
// order (quotes in the literal text between tags are not literals).
std::vector<std::string> string_literals(std::string_view src) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < src.size()) {
    const std::size_t open = std::min(src.find("{{", i), src.find("{%", i));
    if (open == std::string_view::npos) break;
    const std::string_view close = src[open + 1] == '{' ? "}}" : "%}";
    i = open + 2;
    while (i < src.size() && src.compare(i, close.size(), close) != 0) {
      const char q = src[i];
      if (q != '\'' && q != '"') {
        ++i;
        continue;
      }
      std::size_t j = i + 1;
      while (j < src.size() && src[j] != q) j += src[j] == '\\' ? 2 : 1;
      if (j >= src.size()) return out;
      out.push_back(unescape_literal(src.substr(i + 1, j - i - 1)));
      i = j + 1;
    }
    i += close.size();
  }
  return out;
}

// The system prompt of a literal '<|im_start|>system\n...<|im_end|>' (nullopt if none).
std::optional<std::string> chatml_default_system(std::string_view src) {
  constexpr std::string_view kHead = "<|im_start|>system\n";
  constexpr std::string_view kEnd = "<|im_end|>";
  for (const std::string& lit : string_literals(src)) {
    if (lit.rfind(kHead, 0) != 0) continue;
    const std::size_t end = lit.find(kEnd, kHead.size());
    if (end != std::string::npos) return lit.substr(kHead.size(), end - kHead.size());
  }
  return std::nullopt;
}

// Python's str.isspace(), which Jinja's trim filter uses: White_Space plus U+001C..U+001F.
bool python_space(std::uint32_t cp) {
  return codepoint_class(cp).whitespace || (cp >= 0x1C && cp <= 0x1F);
}

std::uint32_t decode_at(std::string_view s, std::size_t len) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  switch (len) {
    case 1:
      return b[0];
    case 2:
      return ((b[0] & 0x1Fu) << 6) | (b[1] & 0x3Fu);
    case 3:
      return ((b[0] & 0x0Fu) << 12) | ((b[1] & 0x3Fu) << 6) | (b[2] & 0x3Fu);
    default:
      return ((b[0] & 0x07u) << 18) | ((b[1] & 0x3Fu) << 12) | ((b[2] & 0x3Fu) << 6) |
             (b[3] & 0x3Fu);
  }
}

// Jinja's |trim (Python str.strip()) on UTF-8 text; invalid bytes stop the stripping.
std::string_view python_strip(std::string_view s) {
  std::size_t len = 0;
  while (!s.empty() && classify_utf8(s, &len) == Utf8Status::kComplete &&
         python_space(decode_at(s, len))) {
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;
    while (start > 0 && s.size() - start < 4 &&
           (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
      --start;
    const std::string_view last = s.substr(start);
    if (classify_utf8(last, &len) != Utf8Status::kComplete || len != last.size() ||
        !python_space(decode_at(last, len))) {
      break;
    }
    s.remove_suffix(last.size());
  }
  return s;
}

void chatml_turn(std::string& out, std::string_view role, std::string_view content) {
  out += "<|im_start|>";
  out += role;
  out += '\n';
  out += content;
  out += "<|im_end|>\n";
}

std::string render_chatml(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                          bool add_gen) {
  std::string out;
  if (!messages.empty() && messages[0].role != "system" && info.default_system) {
    chatml_turn(out, "system", *info.default_system);
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (!info.qwen_tool_turns) {
      chatml_turn(out, m.role, m.content);
      continue;
    }
    if (m.role == "user" || m.role == "system" || m.role == "assistant") {
      chatml_turn(out, m.role, m.content);
    } else if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n";
      out += m.content;
      out += "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
    }
  }
  if (add_gen) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_gen,
                          std::string_view bos_token) {
  std::string out;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += bos_token;
    out += "<|start_header_id|>";
    out += messages[i].role;
    out += "<|end_header_id|>\n\n";
    out += python_strip(messages[i].content);
    out += "<|eot_id|>";
  }
  if (add_gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// Gemma: <start_of_turn>role\ncontent<end_of_turn>\n with "assistant" called "model" and
// content trimmed; Gemma 3 prepends a leading system message to the first turn's content.
std::string render_gemma(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                         bool add_gen, std::string_view bos_token) {
  std::string out(bos_token);
  std::size_t first = 0;
  std::string prefix;
  if (!messages.empty() && messages[0].role == "system" && info.gemma_system_separator) {
    prefix = messages[0].content + *info.gemma_system_separator;  // not trimmed, as in Jinja
    first = 1;
  }
  for (std::size_t i = first; i < messages.size(); ++i) {
    out += "<start_of_turn>";
    out += messages[i].role == "assistant" ? std::string_view("model")
                                           : std::string_view(messages[i].role);
    out += '\n';
    if (i == first) out += prefix;
    out += python_strip(messages[i].content);
    out += "<end_of_turn>\n";
  }
  if (add_gen) out += "<start_of_turn>model\n";
  return out;
}

// Phi-3: <|role|>\ncontent<|end|>\n for system/user/assistant (others dropped), then the
// assistant prompt, or eos_token when there is no generation prompt.
std::string render_phi3(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                        bool add_gen, std::string_view eos_token) {
  std::string out;
  for (const ChatMessage& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") continue;
    if (m.role == "system" && info.phi3_skip_empty_system && m.content.empty()) continue;
    out += "<|";
    out += m.role;
    out += "|>\n";
    out += m.content;
    out += "<|end|>\n";
  }
  out += add_gen ? std::string_view("<|assistant|>\n") : eos_token;
  return out;
}

// The unescaped string literal that directly follows `marker` in the template (nullopt if
// the marker is absent or not followed by a literal).
std::optional<std::string> literal_after(std::string_view src, std::string_view marker) {
  std::size_t i = src.find(marker);
  if (i == std::string_view::npos) return std::nullopt;
  i += marker.size();
  while (i < src.size() && src[i] == ' ') ++i;
  if (i >= src.size() || (src[i] != '\'' && src[i] != '"')) return std::nullopt;
  const char q = src[i];
  std::size_t j = i + 1;
  while (j < src.size() && src[j] != q) j += src[j] == '\\' ? 2 : 1;
  if (j >= src.size()) return std::nullopt;
  return unescape_literal(src.substr(i + 1, j - i - 1));
}

bool has_literal(std::string_view src, std::string_view value) {
  const std::vector<std::string> lits = string_literals(src);
  return std::find(lits.begin(), lits.end(), value) != lits.end();
}

struct FamilyRow {
  ChatTemplateFamily family;
  const char* name;
  std::string_view marker;  // text only this family's templates contain
};

constexpr std::array<FamilyRow, 5> kFamilies = {{
    {ChatTemplateFamily::kHarmony, "harmony", "<|channel|>"},
    {ChatTemplateFamily::kChatMl, "chatml", "<|im_start|>"},
    {ChatTemplateFamily::kLlama3, "llama3", "<|start_header_id|>"},
    {ChatTemplateFamily::kGemma, "gemma", "<start_of_turn>"},
    {ChatTemplateFamily::kPhi3, "phi3", "<|user|>"},
}};

}  // namespace

const char* chat_template_family_name(ChatTemplateFamily family) {
  for (const FamilyRow& row : kFamilies) {
    if (row.family == family) return row.name;
  }
  return "?";
}

std::optional<ChatTemplateInfo> detect_chat_template(std::string_view template_text) {
  for (const FamilyRow& row : kFamilies) {
    if (template_text.find(row.marker) == std::string_view::npos) continue;
    ChatTemplateInfo info;
    info.family = row.family;
    switch (row.family) {
      case ChatTemplateFamily::kChatMl:
        info.default_system = chatml_default_system(template_text);
        info.qwen_tool_turns = template_text.find("<tool_response>") != std::string_view::npos;
        break;
      case ChatTemplateFamily::kLlama3:
        if (template_text.find("Cutting Knowledge Date") != std::string_view::npos) {
          // Llama 3.1+ adds a dated system preamble and tool prompts; like llama.cpp's
          // built-in llama3 template we render the plain 3.0 turn format.
          spdlog::warn(
              "chat template: Llama 3.1-style preamble is not reproduced; using the Llama 3 "
              "turn format");
        }
        break;
      case ChatTemplateFamily::kGemma:
        info.gemma_system_separator =
            literal_after(template_text, "first_user_prefix = messages[0]['content'] +");
        break;
      case ChatTemplateFamily::kPhi3:
        // Only the turn-per-role format ('<|user|>\n' as one literal); the first Phi-3 mini
        // template, which appends '<|assistant|>' after every user turn, is a different one.
        if (!has_literal(template_text, "<|user|>\n") ||
            !has_literal(template_text, "<|assistant|>\n")) {
          continue;
        }
        info.phi3_skip_empty_system =
            template_text.find("'system' and message['content']") != std::string_view::npos;
        break;
      case ChatTemplateFamily::kHarmony:
        // gpt-oss: the template's own turn markers, not just a mention of <|channel|>.
        if (template_text.find("<|start|>") == std::string_view::npos ||
            template_text.find("<|message|>") == std::string_view::npos) {
          continue;
        }
        break;
    }
    return info;
  }
  return std::nullopt;
}

Status check_chat_messages(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages) {
  if (info.family == ChatTemplateFamily::kHarmony) {
    return check_harmony_messages(HarmonyOptions{}, messages);
  }
  if (info.family != ChatTemplateFamily::kGemma) return ok_status();
  if (messages.empty()) {
    return make_error(ErrorCode::kInvalidParameter,
                      "messages: the Gemma chat template needs at least one message");
  }
  std::size_t first = 0;
  if (messages[0].role == "system") {
    if (!info.gemma_system_separator) {
      return make_error(ErrorCode::kInvalidParameter,
                        "messages[0].role: this Gemma chat template does not support a system "
                        "message");
    }
    first = 1;
  }
  for (std::size_t i = first; i < messages.size(); ++i) {
    if ((messages[i].role == "user") != ((i - first) % 2 == 0)) {
      return make_error(ErrorCode::kInvalidParameter,
                        "messages[" + std::to_string(i) +
                            "].role: conversation roles must alternate "
                            "user/assistant/user/assistant/...");
    }
  }
  return ok_status();
}

std::string render_chat(const ChatTemplateInfo& info, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt, std::string_view bos_token,
                        std::string_view eos_token) {
  switch (info.family) {
    case ChatTemplateFamily::kChatMl:
      return render_chatml(info, messages, add_generation_prompt);
    case ChatTemplateFamily::kLlama3:
      return render_llama3(messages, add_generation_prompt, bos_token);
    case ChatTemplateFamily::kGemma:
      return render_gemma(info, messages, add_generation_prompt, bos_token);
    case ChatTemplateFamily::kPhi3:
      return render_phi3(info, messages, add_generation_prompt, eos_token);
    case ChatTemplateFamily::kHarmony:
      return harmony_text(render_harmony(HarmonyOptions{}, messages, add_generation_prompt));
  }
  return {};
}

Result<std::string> format_chat(std::string_view template_text,
                                const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt, std::string_view bos_token,
                                std::string_view eos_token) {
  if (template_text.empty()) {
    return make_error(ErrorCode::kInvalidParameter,
                      "tokenizer.chat_template: the model has no chat template");
  }
  const auto info = detect_chat_template(template_text);
  if (!info) {
    return make_error(
        ErrorCode::kInvalidParameter,
        "tokenizer.chat_template: template family not recognised (known: ChatML, Llama 3, "
        "Gemma, Phi-3, harmony)");
  }
  ZINFER_RETURN_IF_ERROR(check_chat_messages(*info, messages));
  return render_chat(*info, messages, add_generation_prompt, bos_token, eos_token);
}

}  // namespace zinfer::tok
