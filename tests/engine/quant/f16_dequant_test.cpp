// The fp16 tiles' 32-element dequantization (kernels/f16_dequant.cuh: Q4_K sub-blocks, Q5_0 and
// Q8_0 blocks) against the CPU: every element equals quant::dequantize_row's value rounded to
// fp16, bit for bit — on random blocks (every scale and quant byte random, scales of either sign,
// subnormal and zero ones included; legacy blocks at 2-byte offsets) and on synthetic rows.
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

// Every sub-block of the super-blocks at w (n of them) against dequantize_row.
void check_q4k(const std::uint8_t* w, int n, const std::string& what) {
  SCOPED_TRACE(what);
  std::vector<float> ref(256);
  int bad = 0;
  for (int b = 0; b < n && bad < 5; ++b) {
    const std::uint8_t* blk = w + static_cast<std::size_t>(b) * sizeof(quant::BlockQ4_K);
    quant::dequantize_row(GgmlType::kQ4_K, blk, ref.data(), 256);
    for (int s = 0; s < 8; ++s) {
      std::uint32_t h[16];
      q4k_sub32_f16(blk, s, h);
      for (int i = 0; i < 32 && bad < 5; ++i) {
        const float cpu = ref[static_cast<std::size_t>(32 * s) + static_cast<std::size_t>(i)];
        const std::uint16_t got = static_cast<std::uint16_t>(h[i / 2] >> (16 * (i % 2)));
        const std::uint16_t want = quant::f32_to_fp16(cpu);
        if (got != want) {
          ADD_FAILURE() << "block " << b << " sub-block " << s << " element " << i << ": fp16 bits "
                        << got << ", CPU " << want << " (" << cpu << ")";
          ++bad;
        }
      }
    }
  }
}

TEST(F16Dequant, Q4KSubBlocksAreTheCpuValuesRoundedToFp16) {
  constexpr int kBlocks = 2000;
  std::vector<std::uint8_t> w(kBlocks * sizeof(quant::BlockQ4_K));
  std::mt19937 rng(7);
  for (auto& byte : w) byte = static_cast<std::uint8_t>(rng());
  // Scales d and dmin: normal values of either sign, plus zero and subnormal ones.
  const std::uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x8200, 0x3c00, 0x7bff};
  for (int b = 0; b < kBlocks; ++b) {
    auto* blk = reinterpret_cast<quant::BlockQ4_K*>(w.data() + b * sizeof(quant::BlockQ4_K));
    std::uniform_real_distribution<float> mag(-0.05f, 0.05f);
    blk->d = b % 10 == 0 ? special[(b / 10) % 7] : quant::f32_to_fp16(mag(rng));
    blk->dmin = b % 10 == 5 ? special[(b / 10) % 7] : quant::f32_to_fp16(mag(rng));
  }
  check_q4k(w.data(), kBlocks, "random super-blocks");

  constexpr std::int64_t kK = 3584, kRows = 16;
  q8mma::Aligned synth(quant::row_size(GgmlType::kQ4_K, kK) * kRows);
  q8mma::fill_weights<GgmlType::kQ4_K>(synth.p, kK, kRows, 11);
  check_q4k(synth.p, static_cast<int>(kK / 256 * kRows), "synthetic weight rows");
}

// Legacy blocks (Q5_0, Q8_0) at 2-byte offsets that are not 4-byte aligned and that are: random
// bytes, scales of either sign, zero and subnormal among them.
template <GgmlType T>
void check_legacy() {
  SCOPED_TRACE(std::string(quant::type_name(T)));
  constexpr std::size_t kBytes =
      T == GgmlType::kQ5_0 ? sizeof(quant::BlockQ5_0) : sizeof(quant::BlockQ8_0);
  constexpr int kBlocks = 3000;
  std::vector<std::uint8_t> w(kBlocks * kBytes + 4);
  std::mt19937 rng(static_cast<std::uint32_t>(T) + 3);
  for (auto& byte : w) byte = static_cast<std::uint8_t>(rng());
  const std::uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x03ff, 0x8200, 0x3c00, 0xfbff};
  std::uniform_real_distribution<float> mag(-0.05f, 0.05f);
  std::vector<float> ref(32);
  int bad = 0;
  for (int b = 0; b < kBlocks && bad < 5; ++b) {
    std::uint8_t* blk =
        w.data() + 2 + static_cast<std::size_t>(b) * kBytes;  // offset 2 mod 4 first
    const std::uint16_t d = b % 9 == 0 ? special[(b / 9) % 7] : quant::f32_to_fp16(mag(rng));
    std::memcpy(blk, &d, 2);
    quant::dequantize_row(T, blk, ref.data(), 32);
    std::uint32_t h[16];
    sub32_f16<T>(blk, 0, h);
    for (int i = 0; i < 32 && bad < 5; ++i) {
      const std::uint16_t got = static_cast<std::uint16_t>(h[i / 2] >> (16 * (i % 2)));
      const std::uint16_t want = quant::f32_to_fp16(ref[static_cast<std::size_t>(i)]);
      if (got != want) {
        ADD_FAILURE() << "block " << b << " element " << i << ": fp16 bits " << got << ", CPU "
                      << want << " (" << ref[static_cast<std::size_t>(i)] << ")";
        ++bad;
      }
    }
  }
}

TEST(F16Dequant, LegacyBlocksAreTheCpuValuesRoundedToFp16) {
  check_legacy<GgmlType::kQ5_0>();
  check_legacy<GgmlType::kQ8_0>();
}

}  // namespace
}  // namespace zinfer::cuda::f16mma
