// MXFP4 (OCP microscaling FP4, gpt-oss's expert format) dequantized on the device and in the
// CPU tests: a 17-byte block holds an E8M0 exponent and 32 E2M1 codes (low nibble of byte j:
// element j, high nibble: element j + 16). Values are quant::dequantize_row's bit for bit —
// the CPU takes d = 2^(e-127)/2 and the doubled E2M1 magnitudes {0,1,2,3,4,6,8,12} as integers,
// so every value is one exact product d · q (tests/engine/quant/mxfp4_block_host_test.cpp).
#pragma once

#include <cstdint>

#include "engine/quant/block_types.h"
#include "kernels/host_device.h"

namespace zinfer::cuda {

inline constexpr int kMxfp4BlockBytes = 1 + quant::kQK / 2;  // sizeof(quant::BlockMXFP4)

// 2^(e - 127) / 2 (quant::e8m0_to_f32_half), including its two subnormal results.
ZINFER_HD float mxfp4_scale(std::uint8_t e) {
  return f32_from_bits(e < 2 ? (0x00200000u << e) : (static_cast<std::uint32_t>(e - 1) << 23));
}

// quant::kMxfp4Values[code] (a host table; here its nibbles packed in one constant).
ZINFER_HD int mxfp4_value(unsigned code) {
  const int mag = static_cast<int>((0xC8643210u >> (4 * (code & 7u))) & 0xfu);
  return (code & 8u) != 0 ? -mag : mag;
}

// Elements [8g, 8g + 8) of a row of MXFP4 blocks: group g & 3 of block g >> 2 is the low
// nibbles (g & 3 < 2) or high nibbles of bytes 8·(g & 1) .. 8·(g & 1) + 7 of its codes.
ZINFER_HD void mxfp4_group8(const std::uint8_t* row, std::int64_t g, float (&v)[8]) {
  const std::uint8_t* b = row + (g >> 2) * kMxfp4BlockBytes;
  const int sub = static_cast<int>(g & 3);
  const float d = mxfp4_scale(b[0]);
  const std::uint8_t* q = b + 1 + 8 * (sub & 1);
  const int shift = 4 * (sub >> 1);
  ZINFER_UNROLL
  for (int i = 0; i < 8; ++i) {
    v[i] = mul_rn(d, static_cast<float>(mxfp4_value((q[i] >> shift) & 0x0fu)));
  }
}

}  // namespace zinfer::cuda
