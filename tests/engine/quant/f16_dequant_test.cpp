// The fp16 tiles' 32-element dequantization (kernels/f16_dequant.cuh: Q4_K and Q6_K sub-blocks,
// Q5_0 and Q8_0 blocks) against the CPU: every element equals quant::dequantize_row's value
// rounded to fp16, bit for bit — on random blocks (every scale and quant byte random, scales of
// either sign, subnormal and zero ones included; blocks at 2-byte offsets where the type's size
// puts them there) and on synthetic rows.
#include "kernels/f16_dequant.cuh"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/block_types.h"
#include "engine/quant/dequant.h"
#include "engine/quant/fp16.h"
#include "engine/quant/ggml_type.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::f16mma {
namespace {

using quant::GgmlType;

constexpr std::uint16_t kSpecialScales[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x8200, 0x3c00, 0x7bff};

// Every 32-element unit of the n blocks of type T at w (kBytes apart) against dequantize_row.
template <GgmlType T>
void check_blocks(const std::uint8_t* w, int n, const std::string& what) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + ", " + what);
  const int elems = static_cast<int>(quant::traits(T).block_size);
  const std::size_t bytes = quant::row_size(T, elems);
  std::vector<float> ref(static_cast<std::size_t>(elems));
  int bad = 0;
  for (int b = 0; b < n && bad < 5; ++b) {
    const std::uint8_t* blk = w + static_cast<std::size_t>(b) * bytes;
    quant::dequantize_row(T, blk, ref.data(), elems);
    for (int s = 0; s < elems / 32; ++s) {
      std::uint32_t h[16];
      sub32_f16<T>(blk, s, h);
      for (int i = 0; i < 32 && bad < 5; ++i) {
        const float cpu = ref[static_cast<std::size_t>(32 * s) + static_cast<std::size_t>(i)];
        const std::uint16_t got = static_cast<std::uint16_t>(h[i / 2] >> (16 * (i % 2)));
        const std::uint16_t want = quant::f32_to_fp16(cpu);
        if (got != want) {
          ADD_FAILURE() << "block " << b << " unit " << s << " element " << i << ": fp16 bits "
                        << got << ", CPU " << want << " (" << cpu << ")";
          ++bad;
        }
      }
    }
  }
}

// kBlocks random blocks of T from byte 2 on (a 2-byte offset for the first; the rest follow at
// the type's size), each fp16 scale field (at the given offsets in the block) random in ±range
// or, every ninth block, one of kSpecialScales.
template <GgmlType T>
void check_random(int blocks, std::initializer_list<int> scale_offsets, float range) {
  const std::size_t bytes = quant::row_size(T, quant::traits(T).block_size);
  std::vector<std::uint8_t> w(static_cast<std::size_t>(blocks) * bytes + 4);
  std::mt19937 rng(static_cast<std::uint32_t>(T) + 7);
  for (auto& byte : w) byte = static_cast<std::uint8_t>(rng());
  std::uniform_real_distribution<float> mag(-range, range);
  for (int b = 0; b < blocks; ++b) {
    std::uint8_t* blk = w.data() + 2 + static_cast<std::size_t>(b) * bytes;
    for (const int off : scale_offsets) {
      const std::uint16_t d =
          b % 9 == off % 9 ? kSpecialScales[(b / 9) % 7] : quant::f32_to_fp16(mag(rng));
      std::memcpy(blk + off, &d, 2);
    }
  }
  check_blocks<T>(w.data() + 2, blocks, "random blocks");
}

TEST(F16Dequant, KQuantSubBlocksAreTheCpuValuesRoundedToFp16) {
  check_random<GgmlType::kQ4_K>(2000, {0, 2}, 0.05f);  // d and dmin
  check_random<GgmlType::kQ6_K>(1500, {208}, 0.01f);
  constexpr std::int64_t kK = 3584, kRows = 16;
  q8mma::Aligned synth(quant::row_size(GgmlType::kQ4_K, kK) * kRows);
  q8mma::fill_weights<GgmlType::kQ4_K>(synth.p, kK, kRows, 11);
  check_blocks<GgmlType::kQ4_K>(synth.p, static_cast<int>(kK / 256 * kRows), "synthetic rows");
}

TEST(F16Dequant, LegacyBlocksAreTheCpuValuesRoundedToFp16) {
  check_random<GgmlType::kQ5_0>(3000, {0}, 0.05f);
  check_random<GgmlType::kQ8_0>(3000, {0}, 0.05f);
}

}  // namespace
}  // namespace zinfer::cuda::f16mma
