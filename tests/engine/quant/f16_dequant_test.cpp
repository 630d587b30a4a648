// The fp16 tiles' whole-sub-block dequantization (kernels/f16_dequant.cuh) against the CPU:
// every element of every sub-block equals quant::dequantize_row's value rounded to fp16, bit for
// bit — on random super-blocks (every scale and quant byte random, scales of either sign,
// subnormal and zero ones included) and on synthetic weight rows.
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

}  // namespace
}  // namespace zinfer::cuda::f16mma
