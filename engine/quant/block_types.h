// Byte layouts of the ggml quantized blocks (as stored in GGUF files), one struct per type.
// fp16 fields are kept as raw uint16_t bits; convert with engine/quant/fp16.h.
#pragma once

#include <cstdint>
#include <cstring>

namespace zinfer::quant {

inline constexpr int kQK = 32;           // elements per block of the legacy quants and MXFP4
inline constexpr int kQKK = 256;         // elements per super-block of the K-quants
inline constexpr int kKScaleBytes = 12;  // packed 6-bit scales/mins of Q4_K, Q5_K (and Q3_K)

struct BlockQ4_0 {
  std::uint16_t d;           // fp16 scale
  std::uint8_t qs[kQK / 2];  // nibbles: low = element j, high = element j + 16
};

struct BlockQ4_1 {
  std::uint16_t d;  // fp16 scale
  std::uint16_t m;  // fp16 minimum
  std::uint8_t qs[kQK / 2];
};

struct BlockQ5_0 {
  std::uint16_t d;
  std::uint8_t qh[4];  // bit j = 5th bit of element j (little-endian uint32)
  std::uint8_t qs[kQK / 2];
};

struct BlockQ5_1 {
  std::uint16_t d;
  std::uint16_t m;
  std::uint8_t qh[4];
  std::uint8_t qs[kQK / 2];
};

struct BlockQ8_0 {
  std::uint16_t d;
  std::int8_t qs[kQK];
};

// Activation format for Q4_1/Q5_1 dot products: s = d * sum(qs) lets the dot product fold
// the weight minimum in with one multiply per block.
struct BlockQ8_1 {
  std::uint16_t d;
  std::uint16_t s;
  std::int8_t qs[kQK];
};

struct BlockQ2_K {
  std::uint8_t scales[kQKK / 16];  // low nibble: scale, high nibble: min, per 16 elements
  std::uint8_t qs[kQKK / 4];       // 2-bit quants
  std::uint16_t d;                 // fp16 super-block scale of the scales
  std::uint16_t dmin;              // fp16 super-block scale of the mins
};

struct BlockQ3_K {
  std::uint8_t hmask[kQKK / 8];  // high bit of each quant
  std::uint8_t qs[kQKK / 4];     // low 2 bits
  std::uint8_t scales[12];       // 16 6-bit scales, offset by 32
  std::uint16_t d;
};

struct BlockQ4_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[kKScaleBytes];  // 8 6-bit scales and 8 6-bit mins
  std::uint8_t qs[kQKK / 2];
};

struct BlockQ5_K {
  std::uint16_t d;
  std::uint16_t dmin;
  std::uint8_t scales[kKScaleBytes];
  std::uint8_t qh[kQKK / 8];
  std::uint8_t qs[kQKK / 2];
};

struct BlockQ6_K {
  std::uint8_t ql[kQKK / 2];  // low 4 bits
  std::uint8_t qh[kQKK / 4];  // high 2 bits
  std::int8_t scales[kQKK / 16];
  std::uint16_t d;
};

// Activation format for every K-quant dot product.
struct BlockQ8_K {
  float d;
  std::int8_t qs[kQKK];
  std::int16_t bsums[kQKK / 16];  // sum of each 16 quants, for the min/offset terms
};

struct BlockMXFP4 {
  std::uint8_t e;            // E8M0 shared exponent
  std::uint8_t qs[kQK / 2];  // E2M1 codes: low = element j, high = element j + 16
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockMXFP4) == 17);

// E2M1 values doubled (the block scale below is halved to match), as in the OCP MX spec.
inline constexpr std::int8_t kMxfp4Values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                                 0, -1, -2, -3, -4, -6, -8, -12};

// 2^(e - 127) / 2 as a float, including the two subnormal cases.
inline float e8m0_to_f32_half(std::uint8_t e) {
  const std::uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<std::uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Unpacks the 8 scales and 8 mins (6 bits each) of Q4_K/Q5_K.
inline void unpack_k4_scales(const std::uint8_t* s, std::uint8_t* sc, std::uint8_t* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = static_cast<std::uint8_t>((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
    mn[j + 4] = static_cast<std::uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
}

// Unpacks the 16 signed scales of Q3_K (6-bit, stored with an offset of 32).
inline void unpack_q3k_scales(const std::uint8_t* s, std::int8_t* out) {
  for (int i = 0; i < 16; ++i) {
    const int lo = (i < 8 ? s[i] : s[i - 8] >> 4) & 0x0f;
    const int hi = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    out[i] = static_cast<std::int8_t>((lo | (hi << 4)) - 32);
  }
}

}  // namespace zinfer::quant
