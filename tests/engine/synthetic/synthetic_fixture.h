// Reading tests/data/synthetic/<preset>_<type>.json (scripts/golden/synthetic_logits.py):
// the fixture's options, file hash, tensor table and metadata as gguf.GGUFReader saw them,
// and the float64 numpy reference logits (of the stored positions) as base64 float32.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/synthetic/synthetic_model.h"
#include "tests/test_util.h"

namespace zinfer::testing {

// One fixture: tiny presets in every type, plus real shapes cut to a few layers.
struct SyntheticCase {
  std::string preset;
  std::string type;
  std::int32_t layers = 0;  // 0: the preset's
  bool mix = false;         // llama.cpp-style output/embedding types
  std::string name() const {
    return preset + "_" + type + (layers > 0 ? "_L" + std::to_string(layers) : "") +
           (mix ? "_mix" : "");
  }
};

inline std::vector<SyntheticCase> synthetic_cases() {
  std::vector<SyntheticCase> v;
  for (const char* p : {"tiny-llama", "tiny-qwen2", "tiny-gemma3", "tiny-phi3", "tiny-gpt2"}) {
    for (const char* t : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
                          "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) {
      v.push_back({p, t});
    }
  }
  v.push_back({"smollm2-135m", "Q4_K", 2, true});
  return v;
}

// gtest-safe parameter name.
inline std::string synthetic_case_id(const SyntheticCase& c) {
  std::string s = c.name();
  for (auto& ch : s) {
    if (ch == '-' || ch == '.') ch = '_';
  }
  return s;
}

inline model::SyntheticOptions synthetic_options(const SyntheticCase& c, std::uint64_t seed) {
  model::SyntheticOptions o;
  o.preset = c.preset;
  o.type = *quant::type_from_name(c.type);
  o.seed = seed;
  o.n_layers = c.layers;
  o.embed_output =
      c.mix ? model::EmbedOutputTypes::kLlamaCppMix : model::EmbedOutputTypes::kRequested;
  return o;
}

inline nlohmann::json load_synthetic_fixture(const SyntheticCase& c) {
  std::ifstream in(data_path("synthetic/" + c.name() + ".json"));
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
