// Random valid blocks for every weight type. Quant bits are uniform random; each block's
// fp16 (MXFP4: power-of-two E8M0) scale is the target std divided by the RMS of its integer code
// distribution (times a 0.75–1.25 jitter), so dequantized weights have std ≈ target whatever the
// type. Types with a min (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K) get mins that centre each (sub-)block on
// ~0, like a real quantizer does for zero-mean weights.
#include "engine/synthetic/synthetic_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace zinfer::model {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// RMS of the integer codes each format multiplies by its scale (uniform random bits).
constexpr float kRms4Centered = 4.637f;       // q-8,  q in [0,16): sqrt(21.25 + 0.25)
constexpr float kStd4 = 4.610f;               // q in [0,16) around its mean 7.5
constexpr float kRms5Centered = 9.247f;       // q-16, q in [0,32)
constexpr float kStd5 = 9.233f;               // q in [0,32) around its mean 15.5
constexpr float kRms6Centered = 18.48f;       // q-32, q in [0,64)
constexpr float kRms8 = 73.61f;               // q in [-127,127]
constexpr float kStd2 = 1.118f;               // q in [0,4) around 1.5
constexpr float kRms3 = 2.345f;               // q in [-4,4)
constexpr float kRmsScale4 = 8.803f;          // 4-bit scale in [0,16)
constexpr float kRmsScale6 = 36.52f;          // 6-bit scale in [0,64)
constexpr float kRmsScale6Centered = 18.48f;  // 6-bit scale minus 32
constexpr float kRmsE2m1x2 = 5.852f;          // doubled E2M1 codes: sqrt(274 / 8)

float jitter(SynthRng& r) { return 0.75f + 0.5f * static_cast<float>(r.uniform()); }
float random_sign(SynthRng& r) { return (r.next() >> 63) != 0 ? -1.0f : 1.0f; }
float round_f16(float v) { return synth_f16_to_f32(synth_f32_to_f16(v)); }

void put_f16(std::uint8_t* p, float v) {
  std::uint16_t h = synth_f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Sub-block min codes that cancel the mean of q*scale: m ≈ scale (with dmin = mean_q * d),
// jittered so min and scale bits are not identical.
std::uint8_t matching_min(std::uint32_t sc, std::uint32_t max_code, SynthRng& r) {
  int m = static_cast<int>(sc) + static_cast<int>(r.below(5)) - 2;
  return static_cast<std::uint8_t>(std::clamp(m, 0, static_cast<int>(max_code)));
}

// 12-byte packing of eight 6-bit scales and mins used by Q4_K and Q5_K.
void pack_scales_k4(const std::uint8_t sc[8], const std::uint8_t m[8], std::uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<std::uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<std::uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<std::uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

void fill_q4_0(float sd, SynthRng& r, std::uint8_t* b) {
  put_f16(b, random_sign(r) * sd * jitter(r) / kRms4Centered);
  r.fill_bytes(b + 2, 16);
}

void fill_q4_1(float sd, SynthRng& r, std::uint8_t* b) {
  float d = round_f16(sd * jitter(r) / kStd4);
  put_f16(b, d);
  put_f16(b + 2, -7.5f * d);
  r.fill_bytes(b + 4, 16);
}

void fill_q5_0(float sd, SynthRng& r, std::uint8_t* b) {
  put_f16(b, random_sign(r) * sd * jitter(r) / kRms5Centered);
  r.fill_bytes(b + 2, 4 + 16);
}

void fill_q5_1(float sd, SynthRng& r, std::uint8_t* b) {
  float d = round_f16(sd * jitter(r) / kStd5);
  put_f16(b, d);
  put_f16(b + 2, -15.5f * d);
  r.fill_bytes(b + 4, 4 + 16);
}

void fill_q8_0(float sd, SynthRng& r, std::uint8_t* b) {
  put_f16(b, random_sign(r) * sd * jitter(r) / kRms8);
  for (int i = 0; i < 32; ++i) {
    b[2 + i] =
        static_cast<std::uint8_t>(static_cast<std::int8_t>(static_cast<int>(r.below(255)) - 127));
  }
}

// block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
void fill_q2_k(float sd, SynthRng& r, std::uint8_t* b) {
  for (int i = 0; i < 16; ++i) {
    std::uint32_t sc = r.below(16);
    b[i] = static_cast<std::uint8_t>(sc | (matching_min(sc, 15, r) << 4));
  }
  r.fill_bytes(b + 16, 64);
  float d = round_f16(sd * jitter(r) / (kRmsScale4 * kStd2));
  put_f16(b + 80, d);
  put_f16(b + 82, 1.5f * d);
}

// block_q3_K: hmask[32], qs[64], scales[12] (sixteen 6-bit, offset 32), d.
void fill_q3_k(float sd, SynthRng& r, std::uint8_t* b) {
  r.fill_bytes(b, 32 + 64 + 12);
  put_f16(b + 108, random_sign(r) * sd * jitter(r) / (kRms3 * kRmsScale6Centered));
}

// block_q4_K / block_q5_K: d, dmin, scales[12], (qh[32]), qs[128].
void fill_q45_k(bool five_bit, float sd, SynthRng& r, std::uint8_t* b) {
  std::uint8_t sc[8];
  std::uint8_t m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<std::uint8_t>(r.below(64));
    m[j] = matching_min(sc[j], 63, r);
  }
  float d = round_f16(sd * jitter(r) / (kRmsScale6 * (five_bit ? kStd5 : kStd4)));
  put_f16(b, d);
  put_f16(b + 2, (five_bit ? 15.5f : 7.5f) * d);
  pack_scales_k4(sc, m, b + 4);
  r.fill_bytes(b + 16, five_bit ? 32 + 128 : 128);
}

// block_q6_K: ql[128], qh[64], scales[16] (int8), d.
void fill_q6_k(float sd, SynthRng& r, std::uint8_t* b) {
  r.fill_bytes(b, 128 + 64);
  for (int i = 0; i < 16; ++i) {
    b[192 + i] =
        static_cast<std::uint8_t>(static_cast<std::int8_t>(static_cast<int>(r.below(255)) - 127));
  }
  put_f16(b + 208, random_sign(r) * sd * jitter(r) / (kRms6Centered * kRms8));
}

// block_mxfp4: one E8M0 exponent, 32 random E2M1 codes. The scale is a power of two, so the
// jittered target std is rounded to the nearest one (std within ~1.4x of the target).
void fill_mxfp4(float sd, SynthRng& r, std::uint8_t* b) {
  const float target = sd * jitter(r) / kRmsE2m1x2;  // 2^(e - 128), see e8m0_to_f32_half
  const int e = static_cast<int>(std::lround(std::log2(target))) + 128;
  b[0] = static_cast<std::uint8_t>(std::clamp(e, 2, 254));
  r.fill_bytes(b + 1, 16);
}

float float_value(InitKind kind, float scale, SynthRng& r) {
  switch (kind) {
    case InitKind::kNorm:
      return 1.0f + scale * r.symmetric();
    case InitKind::kWeight:
    case InitKind::kBias:
      return scale * 1.7320508f * r.symmetric();  // uniform with std = scale
  }
  return 0.0f;
}

}  // namespace

SynthRng::SynthRng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t SynthRng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void SynthRng::fill_bytes(std::uint8_t* out, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = next();
    std::memcpy(out + i, &v, 8);  // little-endian hosts only, like the rest of the engine
  }
  if (i < n) {
    std::uint64_t v = next();
    std::memcpy(out + i, &v, n - i);
  }
}

std::uint64_t synth_row_seed(std::uint64_t seed, std::string_view tensor_name, std::int64_t row) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name
  for (char c : tensor_name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  std::uint64_t x = seed ^ h;
  std::uint64_t a = splitmix64(x);
  x = a ^ static_cast<std::uint64_t>(row);
  return splitmix64(x);
}

std::uint16_t synth_f32_to_f16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u)
    return static_cast<std::uint16_t>(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (ax < 0x38800000u) {  // below 2^-14: subnormal half, exact scaling then ties-to-even
    float af;
    std::memcpy(&af, &ax, 4);
    return static_cast<std::uint16_t>(sign |
                                      static_cast<std::uint32_t>(std::nearbyint(af * 16777216.0f)));
  }
  std::uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3ffu);
  const std::uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0)) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float synth_f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  const std::uint32_t m = h & 0x3ffu;
  float out;
  if (e == 0) {
    out = std::ldexp(static_cast<float>(m), -24);
    return sign != 0 ? -out : out;
  }
  std::uint32_t x =
      e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
  std::memcpy(&out, &x, 4);
  return out;
}

std::uint16_t synth_f32_to_bf16(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
  return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

void synth_fill_row(quant::GgmlType type, InitKind kind, float scale, std::int64_t n, SynthRng& rng,
                    std::uint8_t* out) {
  using quant::GgmlType;
  const auto& tr = quant::traits(type);
  const std::int64_t n_blocks = n / tr.block_size;
  std::uint8_t* b = out;
  switch (type) {
    case GgmlType::kF32:
      for (std::int64_t i = 0; i < n; ++i) {
        float v = float_value(kind, scale, rng);
        std::memcpy(out + 4 * i, &v, 4);
      }
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (std::int64_t i = 0; i < n; ++i) {
        float v = float_value(kind, scale, rng);
        std::uint16_t h = type == GgmlType::kF16 ? synth_f32_to_f16(v) : synth_f32_to_bf16(v);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    default:
      break;
  }
  for (std::int64_t i = 0; i < n_blocks; ++i, b += tr.type_size) {
    switch (type) {
      case GgmlType::kQ4_0:
        fill_q4_0(scale, rng, b);
        break;
      case GgmlType::kQ4_1:
        fill_q4_1(scale, rng, b);
        break;
      case GgmlType::kQ5_0:
        fill_q5_0(scale, rng, b);
        break;
      case GgmlType::kQ5_1:
        fill_q5_1(scale, rng, b);
        break;
      case GgmlType::kQ8_0:
        fill_q8_0(scale, rng, b);
        break;
      case GgmlType::kQ2_K:
        fill_q2_k(scale, rng, b);
        break;
      case GgmlType::kQ3_K:
        fill_q3_k(scale, rng, b);
        break;
      case GgmlType::kQ4_K:
        fill_q45_k(false, scale, rng, b);
        break;
      case GgmlType::kQ5_K:
        fill_q45_k(true, scale, rng, b);
        break;
      case GgmlType::kQ6_K:
        fill_q6_k(scale, rng, b);
        break;
      case GgmlType::kMXFP4:
        fill_mxfp4(scale, rng, b);
        break;
      default:
        std::memset(b, 0, tr.type_size);
        break;  // callers only pass weight types
    }
  }
}

}  // namespace zinfer::model
