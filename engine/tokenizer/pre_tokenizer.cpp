// The pre-tokenizer table (see pre_tokenizer.h). Regexes are copied from the families'
// tokenizer.json files as llama.cpp quotes them in src/llama-vocab.cpp ("original regex
// from tokenizer.json" where llama.cpp rewrites one for std::regex); names and flags follow
// llama_vocab::load.
#include "engine/tokenizer/pre_tokenizer.h"

#include <array>
#include <map>
#include <mutex>

namespace zinfer::tok {
namespace {

using std::string_view_literals::operator""sv;

// GPT-2's pattern, also the last step of several others.
constexpr std::string_view kGpt2Regex =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";

constexpr std::array kGpt2 = {kGpt2Regex};
// llama.cpp's choice for a BPE file that names no pre-tokenizer.
constexpr std::array kDefault = {R"re([\p{P}\$\+<=>\^~\|]+)re"sv, kGpt2Regex, R"re(\p{N}+)re"sv,
                                 R"re([0-9][0-9][0-9])re"sv};
// StarCoder, SmolLM, Refact, Command-R, ...: every digit alone, then GPT-2.
constexpr std::array kDigitsGpt2 = {R"re(\p{N})re"sv, kGpt2Regex};
constexpr std::array kLlama3 = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv};
constexpr std::array kQwen2 = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv};
// Qwen3.5: combining marks stay with their letters.
constexpr std::array kQwen35 = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv};
// DeepSeek's letter, punctuation and CJK ranges are written as \x{..} escapes: several of
// those code points (U+1F7D, U+2126, U+212A, ...) change under Unicode normalization, which
// editors and tools apply to literal text.
constexpr std::array kDeepseekLlm = {
    R"re([\r\n])re"sv,
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re"sv,
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re"sv,
    R"re(\s+$)re"sv,
    R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re"sv,
    R"re(\p{N}+)re"sv,
};
constexpr std::array kDeepseekCoder = {
    R"re([\r\n])re"sv,    R"re(\s?\p{L}+)re"sv,
    R"re(\s?\p{P}+)re"sv, R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re"sv,
    R"re(\p{N})re"sv,
};
constexpr std::array kDeepseekV3 = {
    R"re(\p{N}{1,3})re"sv,
    R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re"sv,
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv,
};
constexpr std::array kFalcon = {R"re([\p{P}\$\+<=>\^~\|`]+)re"sv, kGpt2Regex,
                                R"re([0-9][0-9][0-9])re"sv};
// o200k (GPT-4o, gpt-oss) and Llama 4: case-aware words with their contractions.
constexpr std::array kGpt4o = {
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv};
// Mistral tekken: o200k's words without contractions, single digits.
constexpr std::array kTekken = {
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"sv};
// Gemma 4: SentencePiece-style BPE over the whole line; only newlines split.
constexpr std::array kGemma4 = {R"re([^\n]+|[\n]+)re"sv};

// clang-format off
constexpr std::array<PreTokenizerRules, 16> kRules = {{
    // id               regexes        ignore add_bos byte   escape newline force bos  eos
    {"default",         kDefault,      false, false,  true,  false, false,  false,  11,  11},
    {"gpt-2",           kGpt2,         false, false,  true,  false, false,  false,  11,  11},
    {"starcoder",       kDigitsGpt2,   false, false,  true,  false, false,  false,  11,  11},
    {"llama3",          kLlama3,       true,  true,   true,  false, false,  false,  11,  11},
    {"dbrx",            kLlama3,       false, false,  true,  false, false,  false,  11,  11},
    {"chatglm-bpe",     kLlama3,       false, false,  true,  false, false,  false,  -1,  11},
    {"glm4",            kLlama3,       true,  false,  true,  false, false,  false,  -1,  11},
    {"qwen2",           kQwen2,        false, false,  true,  false, false,  false,  11,  11},
    {"qwen35",          kQwen35,       false, false,  true,  false, false,  false,  11,  11},
    {"deepseek-llm",    kDeepseekLlm,  false, false,  true,  false, false,  false,  11,  11},
    {"deepseek-coder",  kDeepseekCoder,false, false,  true,  false, false,  false,  11,  11},
    {"deepseek-v3",     kDeepseekV3,   false, false,  true,  false, false,  false,  11,  11},
    {"falcon",          kFalcon,       false, false,  true,  false, false,  false,  11,  11},
    {"gpt-4o",          kGpt4o,        false, false,  true,  false, false,  false,  11,  11},
    {"tekken",          kTekken,       true,  true,   true,  false, false,  false,  11,  11},
    {"gemma4",          kGemma4,       false, true,   false, true,  true,  true,    -1,  -1},
}};
// clang-format on

// Other tokenizer.ggml.pre values and the row they select (llama.cpp's aliases).
struct Alias {
  std::string_view name;
  std::string_view id;
};
// clang-format off
constexpr std::array<Alias, 44> kAliases = {{
    {"phi-2", "gpt-2"}, {"jina-es", "gpt-2"}, {"jina-de", "gpt-2"}, {"gigachat", "gpt-2"},
    {"jina-v2-es", "gpt-2"}, {"jina-v2-de", "gpt-2"}, {"a.x-4.0", "gpt-2"}, {"mellum", "gpt-2"},
    {"mpt", "gpt-2"}, {"olmo", "gpt-2"}, {"jais", "gpt-2"}, {"trillion", "gpt-2"},
    {"exaone4", "gpt-2"}, {"granite-docling", "gpt-2"}, {"modern-bert", "gpt-2"},
    {"refact", "starcoder"}, {"command-r", "starcoder"}, {"smollm", "starcoder"},
    {"codeshell", "starcoder"}, {"exaone", "starcoder"}, {"minerva-7b", "starcoder"},
    {"mellum2", "starcoder"},
    {"llama-v3", "llama3"}, {"llama-bpe", "llama3"}, {"falcon3", "llama3"}, {"falcon-h1", "llama3"},
    {"pixtral", "llama3"}, {"midm-2.0", "llama3"}, {"lfm2", "llama3"}, {"jina-v5-nano", "llama3"},
    {"smaug-bpe", "dbrx"},
    {"glm5", "glm4"},
    {"deepseek-r1-qwen", "qwen2"}, {"megrez", "qwen2"}, {"stablelm2", "qwen2"},
    {"hunyuan", "qwen2"}, {"kormo", "qwen2"}, {"f2llmv2", "qwen2"}, {"solar-open", "qwen2"},
    {"grok-2", "qwen2"},
    {"llama4", "gpt-4o"}, {"kanana2", "gpt-4o"}, {"talkie", "gpt-4o"}, {"minimax-m2", "gpt-4o"},
}};
// clang-format on

const PreTokenizerRules* find_rules(std::string_view id) {
  for (const PreTokenizerRules& r : kRules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

// Compiled once per row, shared by every tokenizer that uses it.
Result<std::shared_ptr<const std::vector<SplitRegex>>> compiled(const PreTokenizerRules& rules) {
  static std::mutex mu;
  static std::map<const PreTokenizerRules*, std::shared_ptr<const std::vector<SplitRegex>>> cache;
  const std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(&rules);
  if (it != cache.end()) return it->second;
  auto regexes = std::make_shared<std::vector<SplitRegex>>();
  for (std::string_view pattern : rules.regexes) {
    ZINFER_ASSIGN_OR_RETURN(SplitRegex re, SplitRegex::compile(pattern));
    regexes->push_back(std::move(re));
  }
  cache.emplace(&rules, regexes);
  return std::shared_ptr<const std::vector<SplitRegex>>(std::move(regexes));
}

}  // namespace

std::string PreTokenizer::supported_names() {
  std::string out;
  auto add = [&](std::string_view n) {
    if (!out.empty()) out += ", ";
    out += n;
  };
  for (const PreTokenizerRules& r : kRules) add(r.id);
  for (const Alias& a : kAliases) add(a.name);
  return out;
}

Result<PreTokenizer> PreTokenizer::from_name(std::string_view name) {
  const PreTokenizerRules* rules = find_rules(name);
  for (const Alias& a : kAliases) {
    if (rules == nullptr && a.name == name) rules = find_rules(a.id);
  }
  if (rules == nullptr) {
    return make_error(ErrorCode::kModelLoadFailed,
                      "tokenizer.ggml.pre '" + std::string(name) +
                          "' is not a supported pre-tokenizer (override with --tokenizer-pre; "
                          "supported: " +
                          supported_names() + ")");
  }
  PreTokenizer p;
  p.rules_ = rules;
  p.name_ = name;
  ZINFER_ASSIGN_OR_RETURN(p.regexes_, compiled(*rules));
  return p;
}

void PreTokenizer::split(std::span<const std::uint32_t> cps,
                         std::vector<std::size_t>& word_ends) const {
  if (cps.empty()) return;
  const CodepointText text(cps);
  std::vector<std::size_t> pieces{cps.size()};
  std::vector<std::size_t> next;
  for (const SplitRegex& re : *regexes_) {
    next.clear();
    std::size_t begin = 0;
    for (std::size_t end : pieces) {
      re.split(text, begin, end, next);
      begin = end;
    }
    pieces.swap(next);
  }
  word_ends.insert(word_ends.end(), pieces.begin(), pieces.end());
}

}  // namespace zinfer::tok
