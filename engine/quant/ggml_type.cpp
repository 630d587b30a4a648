// Block layouts of ggml tensor types (sizes from ggml's block_* structs).
#include "engine/quant/ggml_type.h"

#include <array>
#include <cctype>
#include <string>

namespace zinfer::quant {
namespace {

constexpr std::int64_t kQK = 32;    // block size of the legacy quants
constexpr std::int64_t kQKK = 256;  // super-block size of the K-quants

constexpr std::array<TypeTraits, 16> kTraits = {{
    {GgmlType::kF32, "F32", 1, 4, true, GgmlType::kF32},
    {GgmlType::kF16, "F16", 1, 2, true, GgmlType::kF16},
    {GgmlType::kQ4_0, "Q4_0", kQK, 2 + 16, true, GgmlType::kQ8_0},
    {GgmlType::kQ4_1, "Q4_1", kQK, 2 + 2 + 16, true, GgmlType::kQ8_1},
    {GgmlType::kQ5_0, "Q5_0", kQK, 2 + 4 + 16, true, GgmlType::kQ8_0},
    {GgmlType::kQ5_1, "Q5_1", kQK, 2 + 2 + 4 + 16, true, GgmlType::kQ8_1},
    {GgmlType::kQ8_0, "Q8_0", kQK, 2 + 32, true, GgmlType::kQ8_0},
    {GgmlType::kQ8_1, "Q8_1", kQK, 2 + 2 + 32, false, GgmlType::kQ8_1},
    {GgmlType::kQ2_K, "Q2_K", kQKK, 16 + 64 + 2 + 2, true, GgmlType::kQ8_K},
    {GgmlType::kQ3_K, "Q3_K", kQKK, 32 + 64 + 12 + 2, true, GgmlType::kQ8_K},
    {GgmlType::kQ4_K, "Q4_K", kQKK, 2 + 2 + 12 + 128, true, GgmlType::kQ8_K},
    {GgmlType::kQ5_K, "Q5_K", kQKK, 2 + 2 + 12 + 32 + 128, true, GgmlType::kQ8_K},
    {GgmlType::kQ6_K, "Q6_K", kQKK, 128 + 64 + 16 + 2, true, GgmlType::kQ8_K},
    {GgmlType::kQ8_K, "Q8_K", kQKK, 4 + 256 + 32, false, GgmlType::kQ8_K},
    {GgmlType::kBF16, "BF16", 1, 2, true, GgmlType::kBF16},
    {GgmlType::kMXFP4, "MXFP4", kQK, 1 + 16, true, GgmlType::kQ8_0},
}};

}  // namespace

std::optional<TypeTraits> type_traits(std::uint32_t raw_type) {
  for (const auto& t : kTraits) {
    if (static_cast<std::uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const TypeTraits& traits(GgmlType type) {
  for (const auto& t : kTraits) {
    if (t.type == type) return t;
  }
  return kTraits[0];  // unreachable for valid enum values
}

std::string_view type_name(GgmlType type) { return traits(type).name; }

std::optional<GgmlType> type_from_name(std::string_view name) {
  std::string upper(name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& t : kTraits) {
    if (t.name == upper) return t.type;
  }
  return std::nullopt;
}

}  // namespace zinfer::quant
