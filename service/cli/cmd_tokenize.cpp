// `zinfer tokenize` and `zinfer detokenize`: a model's tokenizer on its own, as llama.cpp's
// llama-tokenize. Only the GGUF metadata is read (no weights are loaded), so vocabulary-only
// files work as well as full models.
//   tokenize:   ids (space-separated, one line), pieces (one token per line: id, a tab, the
//               piece quoted with C-style escapes) or one JSON object;
//   detokenize: the bytes of the ids' pieces, exactly, with no newline added.
// A file whose tokenizer cannot be built prints the typed error and exits 2.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "service/cli/commands.h"
#include "service/cli/json_writer.h"

namespace zinfer::cli {
namespace {

constexpr int kExitUsage = 2;

struct TokenizerArgs {
  std::string model;
  std::string tokenizer_pre;  // --tokenizer-pre
};

struct TokenizeArgs {
  TokenizerArgs tok;
  std::string text;
  std::string file;
  bool text_given = false;  // --text may be the empty string
  bool ids = false;
  bool pieces = false;
  bool json = false;
  bool add_special = false;
  bool parse_special = false;
};

struct DetokenizeArgs {
  TokenizerArgs tok;
  std::string ids;
  bool skip_special = false;
};

struct LoadedTokenizer {
  std::unique_ptr<gguf::GgufFile> file;  // the tokenizer reads its metadata
  std::unique_ptr<tok::Tokenizer> tok;
};

int print_error(const Error& e) {
  std::cerr << "error: " << error_code_name(e.code) << ": " << e.message << '\n';
  return kExitUsage;
}

Result<LoadedTokenizer> load_tokenizer(const TokenizerArgs& a) {
  // stdout carries the ids or the text: the engine's warnings go to stderr.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "zinfer", std::make_shared<spdlog::sinks::stderr_color_sink_st>()));
  LoadedTokenizer l;
  ZINFER_ASSIGN_OR_RETURN(l.file, gguf::GgufFile::open(a.model));
  tok::TokenizerOptions options;
  options.pre_override = a.tokenizer_pre;
  ZINFER_ASSIGN_OR_RETURN(l.tok, tok::Tokenizer::from_gguf(*l.file, options));
  return l;
}

// The piece as one printable line: valid UTF-8 above U+001F as is, '\\' and '\'' escaped,
// \n \r \t by name, every other byte as \xNN.
std::string quote_piece(const std::string& piece) {
  std::string out = "'";
  std::size_t i = 0;
  while (i < piece.size()) {
    const auto b = static_cast<unsigned char>(piece[i]);
    std::size_t len = 1;
    const bool valid =
        tok::classify_utf8(std::string_view(piece).substr(i), &len) == tok::Utf8Status::kComplete;
    if (b == '\\' || b == '\'') {
      out += '\\';
      out += static_cast<char>(b);
    } else if (b == '\n') {
      out += "\\n";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b == '\t') {
      out += "\\t";
    } else if (valid && b >= 0x20 && b != 0x7F) {
      out.append(piece, i, len);
      i += len;
      continue;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    ++i;
  }
  return out + "'";
}

int run_tokenize(const TokenizeArgs& a) {
  if (a.text_given == !a.file.empty()) {
    std::cerr << "error: give exactly one of --text or --file\n";
    return kExitUsage;
  }
  if (static_cast<int>(a.ids) + static_cast<int>(a.pieces) + static_cast<int>(a.json) > 1) {
    std::cerr << "error: give at most one of --ids, --pieces, --json\n";
    return kExitUsage;
  }
  std::string text = a.text;
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      std::cerr << "error: cannot read --file " << a.file << '\n';
      return kExitUsage;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  Result<LoadedTokenizer> l = load_tokenizer(a.tok);
  if (!l.ok()) return print_error(l.error());
  const tok::Tokenizer& t = *l->tok;
  const std::vector<std::int32_t> ids = t.encode(text, a.add_special, a.parse_special);
  if (a.json) {
    JsonWriter w(std::cout);
    w.begin_object();
    w.key("n_tokens").value(static_cast<std::int64_t>(ids.size()));
    w.key("ids").begin_array();
    for (std::int32_t id : ids) w.value(id);
    w.end_array();
    // Pieces with special tokens rendered; a piece that is part of a UTF-8 character
    // reads as U+FFFD here (JSON strings are text).
    w.key("pieces").begin_array();
    for (std::int32_t id : ids) w.value(t.token_to_piece(id, true));
    w.end_array();
    w.end_object();
    std::cout << '\n';
  } else if (a.pieces) {
    for (std::int32_t id : ids)
      std::cout << id << '\t' << quote_piece(t.token_to_piece(id, true)) << '\n';
  } else {
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i > 0 ? " " : "") << ids[i];
    std::cout << '\n';
  }
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

// Integers separated by anything that is not a digit or '-' ("1 2 3", "[1, 2, 3]").
Result<std::vector<std::int32_t>> parse_ids(const std::string& s) {
  std::vector<std::int32_t> ids;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '-' && (s[i] < '0' || s[i] > '9')) {
      ++i;
      continue;
    }
    std::size_t end = i + 1;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    const std::string num = s.substr(i, end - i);
    if (num == "-" || num.size() > 11) {
      return make_error(ErrorCode::kInvalidParameter, "--ids: '" + num + "' is not a token id");
    }
    const long long v = std::stoll(num);
    if (v < INT32_MIN || v > INT32_MAX) {
      return make_error(ErrorCode::kInvalidParameter, "--ids: '" + num + "' is out of range");
    }
    ids.push_back(static_cast<std::int32_t>(v));
    i = end;
  }
  return ids;
}

int run_detokenize(const DetokenizeArgs& a) {
  Result<std::vector<std::int32_t>> ids = parse_ids(a.ids);
  if (!ids.ok()) return print_error(ids.error());
  Result<LoadedTokenizer> l = load_tokenizer(a.tok);
  if (!l.ok()) return print_error(l.error());
  const tok::Tokenizer& t = *l->tok;
  for (std::int32_t id : *ids) {
    if (id < 0 || id >= t.vocab_size()) {
      return print_error(
          make_error(ErrorCode::kInvalidParameter, "--ids: token " + std::to_string(id) +
                                                       " is outside the vocab of " +
                                                       std::to_string(t.vocab_size())));
    }
  }
  std::cout << t.decode(*ids, !a.skip_special);
  std::cout.flush();
  return std::cout.good() ? 0 : 1;
}

void add_tokenizer_options(CLI::App* sub, TokenizerArgs& a) {
  sub->add_option("-m,--model", a.model, "GGUF file: a model or a vocabulary-only file")
      ->required();
  sub->add_option("--tokenizer-pre", a.tokenizer_pre,
                  "Use this pre-tokenizer instead of the file's tokenizer.ggml.pre (experts only)");
}

}  // namespace

Command register_tokenize(CLI::App& app) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand("tokenize", "Print the token ids or pieces of a text");
  add_tokenizer_options(sub, a->tok);
  CLI::Option* text = sub->add_option("-t,--text", a->text, "Text to tokenize");
  sub->add_option("-f,--file", a->file, "Read the text from this file (bytes as they are)");
  sub->add_flag("--ids", a->ids, "Print the ids, space-separated (the default)");
  sub->add_flag("--pieces", a->pieces, "Print one token per line: id, tab, quoted piece");
  sub->add_flag("--json", a->json, "Print {\"n_tokens\", \"ids\", \"pieces\"} as JSON");
  sub->add_flag("--add-special", a->add_special, "Add BOS/EOS as the model's flags say");
  sub->add_flag("--parse-special", a->parse_special,
                "Turn special-token text such as <|im_start|> into those tokens");
  return Command{sub, [a, text] {
                   a->text_given = text->count() > 0;
                   return run_tokenize(*a);
                 }};
}

Command register_detokenize(CLI::App& app) {
  auto a = std::make_shared<DetokenizeArgs>();
  CLI::App* sub = app.add_subcommand("detokenize", "Print the text of token ids");
  add_tokenizer_options(sub, a->tok);
  sub->add_option("--ids", a->ids, "Token ids, e.g. \"1 2 3\" or \"[1, 2, 3]\"")->required();
  sub->add_flag("--skip-special", a->skip_special, "Leave out control tokens such as BOS/EOS");
  return Command{sub, [a] { return run_detokenize(*a); }};
}

}  // namespace zinfer::cli
