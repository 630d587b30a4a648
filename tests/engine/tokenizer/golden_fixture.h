// Helpers shared by the tokenizer golden tests (fixtures written by scripts/golden/
// tokenizer_vectors.py and spm_tokenizer_vectors.py): hex decoding, chat messages from JSON,
// thread CPU time for timing budgets, the FNV-1a hash over every token's piece that the
// scripts compute from llama.cpp, and the checks both fixture formats share (special ids and
// flags, encodings in the three special-token modes).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

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
