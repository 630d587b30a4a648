// Deterministic random tensor data for synthetic models: a seeded xoshiro256** stream and
// generators that emit valid blocks of every weight type directly (random quant bits plus
// fp16 scales chosen so the dequantized values have a target standard deviation).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "engine/quant/ggml_type.h"

namespace zinfer::model {

// xoshiro256** seeded through splitmix64: fast and identical on every platform.
class SynthRng {
 public:
  explicit SynthRng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in [-1, 1).
  float symmetric() { return static_cast<float>(2.0 * uniform() - 1.0); }
  // Uniform integer in [0, n).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }
  void fill_bytes(std::uint8_t* out, std::size_t n);

 private:
  std::uint64_t s_[4];
};

// Seed of the stream for one row of one tensor: depends only on (seed, name, row), so
// data is the same whatever the chunking or thread count.
std::uint64_t synth_row_seed(std::uint64_t seed, std::string_view tensor_name, std::int64_t row);

// IEEE binary16 / bfloat16 bits of a float, rounding to nearest even.
std::uint16_t synth_f32_to_f16(float f);
float synth_f16_to_f32(std::uint16_t h);
std::uint16_t synth_f32_to_bf16(float f);

// How the values of a tensor are distributed.
enum class InitKind {
  kWeight,  // zero-mean, standard deviation `scale`
  kNorm,    // 1 + uniform noise of half-width `scale`
  kBias,    // zero-mean uniform, standard deviation `scale`
};

// Writes one row of n elements of `type` (n a multiple of its block size) to `out`
// (quant::row_size(type, n) bytes). Quantized types are only generated as kWeight.
void synth_fill_row(quant::GgmlType type, InitKind kind, float scale, std::int64_t n, SynthRng& rng,
                    std::uint8_t* out);

}  // namespace zinfer::model
