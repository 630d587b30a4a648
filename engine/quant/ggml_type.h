// Tensor element types as numbered in GGUF/ggml, with their block layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace zinfer::quant {

// Values are the on-disk ggml_type ids; do not renumber.
enum class GgmlType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
  kMXFP4 = 39,
};

struct TypeTraits {
  GgmlType type;
  std::string_view name;    // "Q4_K"
  std::int64_t block_size;  // elements per block
  std::size_t type_size;    // bytes per block
  bool weight_type;         // usable as a model weight on the CPU backend
  GgmlType vec_dot_type;    // activation format used for dot products with this type
};

// The float types and llama.cpp's legacy and K-quant weight formats (Q4_0 … Q6_K): the
// weight types that the synthetic writer quantizes and the CUDA kernels read. The CPU
// backend reads more (MXFP4: TypeTraits::weight_type); Q8_1 and Q8_K are activation formats.
constexpr bool is_core_weight_type(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return true;
    default:
      return false;
  }
}

// The weight formats with integer dot products against quantized activations on the GPU
// (--q8-act, --q16-act): the legacy formats and Q4_K, Q5_K, Q6_K. The CPU's emulation of
// --q16-act rounds the activations of exactly these matmuls.
constexpr bool has_q8_dot(GgmlType t) {
  return is_core_weight_type(t) && t != GgmlType::kF32 && t != GgmlType::kF16 &&
         t != GgmlType::kBF16 && t != GgmlType::kQ2_K && t != GgmlType::kQ3_K;
}

// Traits of a raw ggml type id read from a file; nullopt for ids we do not know.
std::optional<TypeTraits> type_traits(std::uint32_t raw_type);
const TypeTraits& traits(GgmlType type);
std::string_view type_name(GgmlType type);
// Parses "Q4_K", "f16", ... (case-insensitive); nullopt when unknown.
std::optional<GgmlType> type_from_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size.
inline std::size_t row_size(GgmlType type, std::int64_t n) {
  const TypeTraits& t = traits(type);
  return static_cast<std::size_t>(n / t.block_size) * t.type_size;
}

}  // namespace zinfer::quant
