// libFuzzer target for the pre-tokenizers: arbitrary bytes (decoded as the BPE tokenizer
// decodes them) through every table row. Beyond "no crash, no runaway backtracking", every
// split must cover the text with non-empty words in order, as the BPE merge loop assumes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// One PreTokenizer per row id, built once.
const std::vector<zinfer::tok::PreTokenizer>& all_pre_tokenizers() {
  static const std::vector<zinfer::tok::PreTokenizer> all = [] {
    std::vector<zinfer::tok::PreTokenizer> out;
    const std::string names = zinfer::tok::PreTokenizer::supported_names();
    std::size_t begin = 0;
    while (begin < names.size()) {
      std::size_t end = names.find(", ", begin);
      if (end == std::string::npos) end = names.size();
      auto p = zinfer::tok::PreTokenizer::from_name(names.substr(begin, end - begin));
      check(p.ok());
      if (p->rules().id == p->name()) out.push_back(*p);  // rows only, not their aliases
      begin = end + 2;
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::uint32_t> cps = zinfer::tok::decode_utf8_lenient(text);
  std::vector<std::size_t> ends;
  for (const zinfer::tok::PreTokenizer& p : all_pre_tokenizers()) {
    ends.clear();
    p.split(cps, ends);
    std::size_t prev = 0;
    for (std::size_t e : ends) {
      check(e > prev);
      prev = e;
    }
    check(prev == cps.size());
  }
  return 0;
}
