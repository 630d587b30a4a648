// Helpers shared by the tokenizer golden tests (fixtures written by scripts/golden/
// tokenizer_vectors.py, spm_tokenizer_vectors.py and bpe_family_vectors.py): hex decoding,
// chat messages from JSON, thread CPU time for timing budgets, loading a tokenizer once, the FNV-1a
// hash over every token's piece that the scripts compute from llama.cpp, the checks both
// fixture formats share (special ids and flags, pieces, encodings in the three special-token
// modes), and the UTF-8 pieces of a pre-tokenizer split.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace zinfer::tok::golden {

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

inline std::vector<ChatMessage> messages_of(const nlohmann::json& j) {
  std::vector<ChatMessage> out;
  for (const nlohmann::json& m : j)
    out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  return out;
}

// Thread CPU time: budgets must not depend on how busy the (shared) machine is.
inline double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// A GGUF file and the tokenizer built from it (tok is null if either failed, with a test
// failure recorded); build_ms is the thread CPU time the build took.
struct LoadedTokenizer {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<Tokenizer> tok;
  double build_ms = 0;
};

// Loads each path once per test process: the GGUF parse dominates test time.
inline LoadedTokenizer& load_tokenizer_once(const std::string& path) {
  static std::map<std::string, LoadedTokenizer> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  LoadedTokenizer l;
  auto file = gguf::GgufFile::open(path);
  EXPECT_TRUE(file.ok()) << file.error().message;
  if (file.ok()) {
    l.file = std::move(file.value());
    const double t0 = cpu_ms();
    auto tok = Tokenizer::from_gguf(*l.file);
    l.build_ms = cpu_ms() - t0;
    EXPECT_TRUE(tok.ok()) << tok.error().message;
    if (tok.ok()) l.tok = std::move(tok.value());
  }
  return cache.emplace(path, std::move(l)).first->second;
}

// FNV-1a 64 over token_to_piece(id) + '\0' for every id, as the golden scripts hash
// llama.cpp's pieces; returned as 16 lowercase hex digits.
inline std::string pieces_fnv1a64(const Tokenizer& t, bool render_special) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  auto mix = [&](unsigned char b) { h = (h ^ b) * 0x100000001B3ull; };
  for (std::int32_t id = 0; id < t.vocab_size(); ++id) {
    for (char c : t.token_to_piece(id, render_special)) mix(static_cast<unsigned char>(c));
    mix(0);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 15];
  return out;
}

// Every token's piece, rendered with and without special tokens, hashes as in the fixture.
inline void expect_pieces(const Tokenizer& t, const nlohmann::json& golden) {
  EXPECT_EQ(pieces_fnv1a64(t, true), golden["pieces_fnv1a64_special"].get<std::string>());
  EXPECT_EQ(pieces_fnv1a64(t, false), golden["pieces_fnv1a64_plain"].get<std::string>());
}

// The pieces a split of `cps` makes, as UTF-8: ends holds each piece's end, ascending, and
// must reach the end of cps.
inline std::vector<std::string> pieces_at(const std::vector<std::uint32_t>& cps,
                                          const std::vector<std::size_t>& ends) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    std::string piece;
    for (std::size_t i = begin; i < end; ++i) append_utf8(piece, cps[i]);
    out.push_back(piece);
    begin = end;
  }
  EXPECT_EQ(begin, cps.size()) << "the pieces do not cover the text";
  return out;
}

// The fixture's n_vocab, BOS/EOS ids, add-BOS/EOS flags and end-of-generation set.
inline void expect_special_ids(const Tokenizer& t, const nlohmann::json& golden) {
  EXPECT_EQ(t.vocab_size(), golden["n_vocab"].get<int>());
  EXPECT_EQ(t.bos_id(), golden["bos"].get<int>());
  EXPECT_EQ(t.eos_id(), golden["eos"].get<int>());
  EXPECT_EQ(t.add_bos(), golden["add_bos"].get<bool>());
  EXPECT_EQ(t.add_eos(), golden["add_eos"].get<bool>());
  EXPECT_EQ(t.eog_ids(), golden["eog"].get<std::vector<std::int32_t>>());
  for (std::int32_t id : t.eog_ids()) EXPECT_TRUE(t.is_eog(id));
  EXPECT_FALSE(t.is_eog(-1));
  EXPECT_FALSE(t.is_eog(t.vocab_size()));
}

// Every vector's ids: plain, with special-token parsing, and with BOS/EOS added too.
inline void expect_encodings(const Tokenizer& t, const nlohmann::json& golden) {
  ASSERT_GE(golden["vectors"].size(), 60u);
  for (const nlohmann::json& v : golden["vectors"]) {
    const std::string name = v["name"];
    const std::string input = from_hex(v["bytes_hex"]);
    EXPECT_EQ(t.encode(input, false, false), v["ids"].get<std::vector<std::int32_t>>()) << name;
    EXPECT_EQ(t.encode(input, false, true), v["ids_parse_special"].get<std::vector<std::int32_t>>())
        << name;
    EXPECT_EQ(t.encode(input, true, true), v["ids_add_special"].get<std::vector<std::int32_t>>())
        << name;
  }
}

}  // namespace zinfer::tok::golden
