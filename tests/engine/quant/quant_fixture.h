// Reader for the golden-vector files written by scripts/golden/quant_vectors.py
// (tests/data/quant/*.zqv: named u8/f32/f64 arrays), plus small helpers shared by the quant tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/quant/ggml_type.h"
#include "tests/test_util.h"

namespace zinfer::testing {

// Every weight type the CPU backend reads; each has a fixture tests/data/quant/<name>.zqv.
inline constexpr quant::GgmlType kWeightTypes[] = {
    quant::GgmlType::kF32,  quant::GgmlType::kF16,  quant::GgmlType::kBF16, quant::GgmlType::kQ4_0,
    quant::GgmlType::kQ4_1, quant::GgmlType::kQ5_0, quant::GgmlType::kQ5_1, quant::GgmlType::kQ8_0,
    quant::GgmlType::kQ2_K, quant::GgmlType::kQ3_K, quant::GgmlType::kQ4_K, quant::GgmlType::kQ5_K,
    quant::GgmlType::kQ6_K, quant::GgmlType::kMXFP4};

// Test names of a suite parameterized by weight type: the type's name ("Q4_K").
inline std::string type_param_name(const ::testing::TestParamInfo<quant::GgmlType>& info) {
  return std::string(quant::type_name(info.param));
}

struct QuantFixture {
  std::map<std::string, std::string> arrays;  // name -> raw little-endian bytes
  std::string error;                          // empty when loaded

  bool has(const std::string& name) const { return arrays.count(name) != 0; }

  std::vector<std::uint8_t> bytes(const std::string& name) const {
    const std::string& s = arrays.at(name);
    return std::vector<std::uint8_t>(s.begin(), s.end());
  }

  template <typename T>
  std::vector<T> values(const std::string& name) const {
    const std::string& s = arrays.at(name);
    std::vector<T> out(s.size() / sizeof(T));
    std::memcpy(out.data(), s.data(), out.size() * sizeof(T));
    return out;
  }
};

inline QuantFixture load_quant_fixture(const std::string& file) {
  QuantFixture f;
  const std::string data = read_file(data_path("quant/" + file));
  std::size_t pos = 0;
  auto take = [&](void* dst, std::size_t n) {
    if (pos + n > data.size()) return false;
    std::memcpy(dst, data.data() + pos, n);
    pos += n;
    return true;
  };
  char magic[4];
  std::uint32_t count = 0;
  if (!take(magic, 4) || std::memcmp(magic, "ZQV1", 4) != 0 || !take(&count, 4)) {
    f.error = "missing or bad fixture " + file + " (run scripts/golden/quant_vectors.py)";
    return f;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t name_len = 0, dtype = 0;
    std::uint64_t len = 0;
    std::string name;
    if (!take(&name_len, 4) || name_len > 256) break;
    name.resize(name_len);
    if (!take(name.data(), name_len) || !take(&dtype, 4) || !take(&len, 8) ||
        pos + len > data.size())
      break;
    f.arrays[name] = data.substr(pos, len);
    pos += len;
  }
  if (f.arrays.size() != count) f.error = "truncated fixture " + file;
  return f;
}

}  // namespace zinfer::testing
