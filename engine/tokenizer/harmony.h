// The harmony chat format of gpt-oss (OpenAI's `openai-harmony` library is the reference):
// rendering a conversation into tokens, and reading the channels of what the model writes.
//
//   <|start|>system<|message|>You are ChatGPT, ...\nKnowledge cutoff: 2024-06\n\n
//     Reasoning: medium\n\n# Valid channels: analysis, commentary, final. ...<|end|>
//   <|start|>developer<|message|># Instructions\n\n{system prompt}<|end|>
//   <|start|>user<|message|>{content}<|end|>
//   <|start|>assistant<|channel|>final<|message|>{content}<|end|>
//   <|start|>assistant                                  (generation prompt)
//
// The model answers with messages of its own: usually
//   <|channel|>analysis<|message|>{reasoning}<|end|><|start|>assistant<|channel|>final
//   <|message|>{answer}<|return|>
// HarmonyParser splits that stream into messages; the final channel is the answer, the
// analysis channel the reasoning a client may show separately.
//
// How {role, content} messages map onto harmony (gpt-oss's chat template does the same):
// messages[0], when "system" or "developer", becomes the developer message's instructions
// (none when its content is empty); later "system"/"developer" messages render nothing;
// "user" is a user message; "assistant" an assistant message on the final channel. Other
// roles (tools) are refused. Content is always plain text: "<|end|>" typed by a user stays
// text, as openai-harmony encodes it. Differences from the HF Jinja template, where
// openai-harmony is followed: no "Current date:" line unless a date is set, no "\n\n" after
// the developer instructions, and without a generation prompt a closing assistant message
// ends with <|end|> (render_conversation) where the template writes its training form
// <|return|> (jinja2 on the fixture's conversations: these are the only differences). Checked
// token for token against openai-harmony 0.0.8 on the real vocabulary
// (tests/engine/tokenizer/harmony_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace zinfer::tok {

// SystemContent's fields (openai-harmony's defaults).
struct HarmonyOptions {
  std::string model_identity = "You are ChatGPT, a large language model trained by OpenAI.";
  std::string knowledge_cutoff = "2024-06";
  std::string conversation_start_date;      // "" → no "Current date:" line
  std::string reasoning_effort = "medium";  // "low" | "medium" | "high"
};

// One piece of a rendering: a special token (text is its name, e.g. "<|start|>") or plain
// text that is encoded without special-token parsing.
struct HarmonyPiece {
  bool special = false;
  std::string text;
};

// kInvalidParameter naming the message whose role harmony cannot render without tools, or
// a reasoning effort other than low/medium/high.
Status check_harmony_messages(const HarmonyOptions& options,
                              const std::vector<ChatMessage>& messages);

// The conversation as pieces; messages must pass check_harmony_messages. With
// add_generation_prompt the rendering ends with "<|start|>assistant" (openai-harmony's
// render_conversation_for_completion), else after the last message's <|end|>
// (render_conversation).
std::vector<HarmonyPiece> render_harmony(const HarmonyOptions& options,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt);

// The pieces as one text (special tokens as their names): for display, and what
// Tokenizer::apply_chat_template returns for a harmony model.
std::string harmony_text(const std::vector<HarmonyPiece>& pieces);

// Token ids of the pieces: special pieces by the vocabulary's token of that text, text
// pieces by tok.encode_ordinary(text) (no special token matched). kInvalidParameter
// when the vocabulary lacks a special token.
Result<std::vector<std::int32_t>> encode_harmony(const Tokenizer& tok,
                                                 const std::vector<HarmonyPiece>& pieces);

// A message read back from the model's output.
struct HarmonyMessage {
  std::string role;                         // "assistant" for the first; else from the header
  std::optional<std::string> channel;       // "analysis", "commentary", "final", ...
  std::optional<std::string> recipient;     // "functions.x" of " to=functions.x"
  std::optional<std::string> content_type;  // "json", "<|constrain|>json"
  std::string content;                      // complete UTF-8
};

// Reads generated tokens as openai-harmony's StreamableParser(encoding, Role.ASSISTANT)
// does: the prompt ended with "<|start|>assistant", so the first message's header comes
// first. Each push returns the text newly released, split by destination:
//   text      — content of "final" messages (and of messages that name no channel and no
//               recipient): the answer;
//   reasoning — content of "analysis" messages.
// Other messages (commentary preambles, tool calls) go to neither; messages() has them all.
// Text is released as complete UTF-8 (a character split across tokens waits for its last
// byte). Tokens outside any message (after <|end|> and before <|start|>) are dropped.
class HarmonyParser {
 public:
  struct Delta {
    std::string text;
    std::string reasoning;
  };
  enum class State { kExpectStart, kHeader, kContent };

  explicit HarmonyParser(const Tokenizer& tok);

  Delta push(std::int32_t id);
  // End of the generation: releases held-back bytes (an incomplete character becomes
  // U+FFFD). The unfinished message stays the current() one.
  Delta flush();

  const std::vector<HarmonyMessage>& messages() const { return messages_; }  // completed ones
  State state() const { return state_; }
  // The message being read (header or content so far); meaningful in kHeader/kContent.
  const HarmonyMessage& current() const { return current_; }

  // The special ids the parser acts on (-1 when the vocabulary lacks one).
  struct Ids {
    std::int32_t start = -1, end = -1, message = -1, channel = -1, ret = -1, call = -1,
                 constrain = -1;
  };
  const Ids& ids() const { return ids_; }

 private:
  enum class Route { kText, kReasoning, kNone };
  void begin_content(Delta& d);
  void end_message(Delta& d);
  void emit(Delta& d, const std::string& s) const;

  const Tokenizer& tok_;
  Ids ids_;
  State state_ = State::kHeader;
  std::string header_;  // header text so far (special tokens as their names)
  HarmonyMessage current_;
  Route route_ = Route::kNone;
  IncrementalDetokenizer content_;
  std::vector<HarmonyMessage> messages_;
};

}  // namespace zinfer::tok
