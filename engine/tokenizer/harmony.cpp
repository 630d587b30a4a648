// The harmony chat format (see harmony.h). Rendering follows openai-harmony's
// render_conversation_for_completion for system/developer/user/assistant messages without
// tools; parsing follows its StreamableParser (header parsing: parse_header_from_tokens).
#include "engine/tokenizer/harmony.h"

#include <algorithm>
#include <array>

namespace zinfer::tok {
namespace {

constexpr std::string_view kStart = "<|start|>";
constexpr std::string_view kEnd = "<|end|>";
constexpr std::string_view kMessage = "<|message|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kReturn = "<|return|>";
constexpr std::string_view kCall = "<|call|>";
constexpr std::string_view kConstrain = "<|constrain|>";

void special(std::vector<HarmonyPiece>& out, std::string_view name) {
  out.push_back(HarmonyPiece{true, std::string(name)});
}

void text(std::vector<HarmonyPiece>& out, std::string_view t) {
  if (t.empty()) return;
  if (!out.empty() && !out.back().special) {
    out.back().text += t;
  } else {
    out.push_back(HarmonyPiece{false, std::string(t)});
  }
}

// <|start|>{role}[<|channel|>{channel}]<|message|>{content}<|end|>
void message(std::vector<HarmonyPiece>& out, std::string_view role, std::string_view channel,
             std::string_view content) {
  special(out, kStart);
  text(out, role);
  if (!channel.empty()) {
    special(out, kChannel);
    text(out, channel);
  }
  special(out, kMessage);
  text(out, content);
  special(out, kEnd);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) parts.emplace_back(s.substr(b, i - b));
  }
  return parts;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t i = 0;
  while ((i = s.find(from, i)) != std::string::npos) {
    s.replace(i, from.size(), to);
    i += to.size();
  }
}

// openai-harmony's parse_header_from_tokens on the header text (special tokens as names).
// `role`: the known role of the message (the first one), or empty to read it from the
// header's first word.
HarmonyMessage parse_header(std::string header, const std::string& role) {
  HarmonyMessage m;
  if (const std::size_t idx = header.find(kChannel); idx != std::string::npos) {
    const std::size_t v = idx + kChannel.size();
    std::size_t e = v;
    while (e < header.size() && !is_space(header[e]) && header[e] != '<') ++e;
    if (e > v) m.channel = header.substr(v, e - v);
    header = header.substr(0, idx) + header.substr(e);
  }
  header = std::string(trim(header));
  if (header.find(kConstrain) != std::string::npos) {
    replace_all(header, kConstrain, " <|constrain|>");
    header = std::string(trim(header));
  }
  std::vector<std::string> parts = split_ws(header);
  m.role = role;
  if (m.role.empty() && !parts.empty()) m.role = parts.front();
  if (!parts.empty() && parts.front() == m.role) parts.erase(parts.begin());
  auto strip_to = [](const std::string& p) { return p.rfind("to=", 0) == 0 ? p.substr(3) : p; };
  if (!parts.empty()) {
    const std::size_t n = parts.size();
    std::string last = parts.back();
    parts.pop_back();
    if (last.rfind("to=", 0) == 0 || n == 1) {
      m.recipient = strip_to(last);
    } else {
      m.content_type = last;
      m.recipient = strip_to(parts.back());
    }
  }
  return m;
}

}  // namespace

Status check_harmony_messages(const HarmonyOptions& options,
                              const std::vector<ChatMessage>& messages) {
  static constexpr std::array<std::string_view, 3> kEfforts = {"low", "medium", "high"};
  if (std::find(kEfforts.begin(), kEfforts.end(), options.reasoning_effort) == kEfforts.end()) {
    return make_error(
        ErrorCode::kInvalidParameter,
        "reasoning_effort: must be low, medium or high, got '" + options.reasoning_effort + "'");
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "developer" && r != "user" && r != "assistant") {
      return make_error(ErrorCode::kInvalidParameter,
                        "messages[" + std::to_string(i) + "].role: '" + r +
                            "' is not supported by the harmony format without tools (system, "
                            "developer, user, assistant)");
    }
  }
  return ok_status();
}

std::vector<HarmonyPiece> render_harmony(const HarmonyOptions& options,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) {
  std::vector<HarmonyPiece> out;
  std::string sys = options.model_identity;
  sys += "\nKnowledge cutoff: " + options.knowledge_cutoff + "\n";
  if (!options.conversation_start_date.empty()) {
    sys += "Current date: " + options.conversation_start_date + "\n";
  }
  sys += "\nReasoning: " + options.reasoning_effort + "\n\n";
  sys +=
      "# Valid channels: analysis, commentary, final. Channel must be included for every "
      "message.";
  message(out, "system", "", sys);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "system" || m.role == "developer") {
      if (i == 0 && !m.content.empty())
        message(out, "developer", "", "# Instructions\n\n" + m.content);
    } else if (m.role == "user") {
      message(out, "user", "", m.content);
    } else if (m.role == "assistant") {
      message(out, "assistant", "final", m.content);
    }
  }
  if (add_generation_prompt) {
    special(out, kStart);
    text(out, "assistant");
  }
  return out;
}

std::string harmony_text(const std::vector<HarmonyPiece>& pieces) {
  std::string out;
  for (const HarmonyPiece& p : pieces) out += p.text;
  return out;
}

Result<std::vector<std::int32_t>> encode_harmony(const Tokenizer& tok,
                                                 const std::vector<HarmonyPiece>& pieces) {
  std::vector<std::int32_t> ids;
  for (const HarmonyPiece& p : pieces) {
    if (!p.special) {
      const std::vector<std::int32_t> t = tok.encode_ordinary(p.text);
      ids.insert(ids.end(), t.begin(), t.end());
      continue;
    }
    const std::vector<std::int32_t> t = tok.encode(p.text, false, true);
    if (t.size() != 1 || tok.token_text(t[0]) != p.text) {
      return make_error(ErrorCode::kInvalidParameter,
                        "harmony chat format: the vocabulary has no token " + p.text);
    }
    ids.push_back(t[0]);
  }
  return ids;
}

HarmonyParser::HarmonyParser(const Tokenizer& tok) : tok_(tok), content_(tok, true) {
  auto find = [&](std::string_view name) -> std::int32_t {
    const std::vector<std::int32_t> t = tok.encode(name, false, true);
    return t.size() == 1 && tok.token_text(t[0]) == name ? t[0] : -1;
  };
  ids_.start = find(kStart);
  ids_.end = find(kEnd);
  ids_.message = find(kMessage);
  ids_.channel = find(kChannel);
  ids_.ret = find(kReturn);
  ids_.call = find(kCall);
  ids_.constrain = find(kConstrain);
  current_.role = "assistant";
}

void HarmonyParser::emit(Delta& d, const std::string& s) const {
  if (s.empty()) return;
  if (route_ == Route::kText) d.text += s;
  if (route_ == Route::kReasoning) d.reasoning += s;
}

void HarmonyParser::begin_content(Delta& d) {
  (void)d;
  current_ = parse_header(header_, current_.role);
  header_.clear();
  if (current_.channel == "analysis") {
    route_ = Route::kReasoning;
  } else if (current_.channel == "final" || (!current_.channel && !current_.recipient)) {
    route_ = Route::kText;
  } else {
    route_ = Route::kNone;
  }
  state_ = State::kContent;
}

void HarmonyParser::end_message(Delta& d) {
  std::string tail = content_.flush();
  current_.content += tail;
  emit(d, tail);
  messages_.push_back(std::move(current_));
  current_ = HarmonyMessage{};
  route_ = Route::kNone;
  state_ = State::kExpectStart;
}

HarmonyParser::Delta HarmonyParser::push(std::int32_t id) {
  Delta d;
  switch (state_) {
    case State::kExpectStart:
      if (id == ids_.start) {
        state_ = State::kHeader;
        current_ = HarmonyMessage{};
      }
      break;
    case State::kHeader:
      if (id == ids_.message) {
        begin_content(d);
      } else {
        header_ += tok_.token_to_piece(id, true);
      }
      break;
    case State::kContent:
      if (id == ids_.end || id == ids_.ret || id == ids_.call) {
        end_message(d);
      } else {
        std::string s = content_.push(id);
        current_.content += s;
        emit(d, s);
      }
      break;
  }
  return d;
}

HarmonyParser::Delta HarmonyParser::flush() {
  Delta d;
  if (state_ == State::kContent) {
    std::string tail = content_.flush();
    current_.content += tail;
    emit(d, tail);
  }
  return d;
}

}  // namespace zinfer::tok
