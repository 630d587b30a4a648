// Reading tests/data/synthetic/<preset>_<type>.json (scripts/golden/synthetic_logits.py):
// the fixture's options, file hash, tensor table and metadata as gguf.GGUFReader saw them,
// and the float64 numpy reference logits stored as base64 float32.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace zinfer::testing {

inline const std::vector<std::string>& synthetic_presets_under_test() {
  static const std::vector<std::string> v = {"tiny-llama", "tiny-qwen2"};
  return v;
}

inline const std::vector<std::string>& synthetic_types_under_test() {
  static const std::vector<std::string> v = {"F32",  "F16",  "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                                             "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
  return v;
}

inline nlohmann::json load_synthetic_fixture(const std::string& preset, const std::string& type) {
  std::ifstream in(data_path("synthetic/" + preset + "_" + type + ".json"));
  if (!in) return nlohmann::json();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// FNV-1a 64 of a file's bytes as 16 lowercase hex digits (same as the fixture script).
inline std::string fnv1a64_file(const std::string& path) {
  const std::string bytes = read_file(path);
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

inline std::vector<std::uint8_t> base64_decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = val(c);
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

inline std::vector<float> fixture_logits(const nlohmann::json& fx) {
  auto bytes = base64_decode(fx.at("logits_f32_b64").get<std::string>());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

}  // namespace zinfer::testing
