// Scalar dequantization of every supported block format (see dequant.h).
// Each formula mirrors the operation order of ggml's dequantize_row_* so results are exact.
#include "engine/quant/dequant.h"

#include <array>
#include <cassert>
#include <cstring>

#include "engine/quant/block_types.h"
#include "engine/quant/fp16.h"

namespace zinfer::quant {
namespace {

// a*b rounded to float on its own. C++ lets the compiler contract a*b+c into an FMA (GCC does
// so by default under -mfma); the empty asm makes the product opaque so the reference's two
// roundings are kept.
inline float mul_rounded(float a, float b) {
  float p = a * b;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+x"(p));
#elif defined(__GNUC__)
  __asm__("" : "+m"(p));
#endif
  return p;
}

void dequant_f32(const void* src, float* y, std::int64_t nb) {
  std::memcpy(y, src, static_cast<std::size_t>(nb) * sizeof(float));
}

void dequant_f16(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const std::uint16_t*>(src);
  for (std::int64_t i = 0; i < nb; ++i) y[i] = fp16_to_f32(x[i]);
}

void dequant_bf16(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const std::uint16_t*>(src);
  for (std::int64_t i = 0; i < nb; ++i) y[i] = bf16_to_f32(x[i]);
}

void dequant_q4_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>((x[i].qs[j] & 0x0f) - 8);
      y[j + kQK / 2] = d * static_cast<float>((x[i].qs[j] >> 4) - 8);
    }
  }
}

void dequant_q4_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = mul_rounded(d, static_cast<float>(x[i].qs[j] & 0x0f)) + m;
      y[j + kQK / 2] = mul_rounded(d, static_cast<float>(x[i].qs[j] >> 4)) + m;
    }
  }
}

inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void dequant_q5_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const std::uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = d * static_cast<float>(((x[i].qs[j] & 0x0f) | h0) - 16);
      y[j + kQK / 2] = d * static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16);
    }
  }
}

void dequant_q5_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    const std::uint32_t qh = load_u32(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = mul_rounded(d, static_cast<float>((x[i].qs[j] & 0x0f) | h0)) + m;
      y[j + kQK / 2] = mul_rounded(d, static_cast<float>((x[i].qs[j] >> 4) | h1)) + m;
    }
  }
}

void dequant_q8_0(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequant_q8_1(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void dequant_q2_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ2_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    for (int e = 0; e < kQKK; ++e) {
      const int g = e / 32;  // group of 32: half g/4, bit pair g%4
      const int q = (x[i].qs[32 * (g / 4) + e % 32] >> (2 * (g % 4))) & 3;
      const std::uint8_t sc = x[i].scales[e / 16];
      const float dl = d * static_cast<float>(sc & 0x0f);
      const float ml = dmin * static_cast<float>(sc >> 4);
      y[e] = mul_rounded(dl, static_cast<float>(q)) - ml;
    }
  }
}

void dequant_q3_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ3_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    std::int8_t scales[16];
    unpack_q3k_scales(x[i].scales, scales);
    for (int e = 0; e < kQKK; ++e) {
      const int g = e / 32;
      const int l = e % 32;
      const int lo = (x[i].qs[32 * (g / 4) + l] >> (2 * (g % 4))) & 3;
      const int q = lo - (((x[i].hmask[l] >> g) & 1) ? 0 : 4);
      const float dl = d * static_cast<float>(scales[e / 16]);
      y[e] = dl * static_cast<float>(q);
    }
  }
}

void dequant_q4_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    std::uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    for (int s = 0; s < 8; ++s) {  // sub-block s: nibble s%2 of bytes 32*(s/2) ..
      const float d1 = d * static_cast<float>(sc[s]);
      const float m1 = dmin * static_cast<float>(mn[s]);
      const std::uint8_t* q = x[i].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        y[32 * s + l] = mul_rounded(d1, static_cast<float>((q[l] >> shift) & 0x0f)) - m1;
      }
    }
  }
}

void dequant_q5_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ5_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    std::uint8_t sc[8], mn[8];
    unpack_k4_scales(x[i].scales, sc, mn);
    for (int s = 0; s < 8; ++s) {
      const float d1 = d * static_cast<float>(sc[s]);
      const float m1 = dmin * static_cast<float>(mn[s]);
      const std::uint8_t* q = x[i].qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0x0f) | (((x[i].qh[l] >> s) & 1) << 4);
        y[32 * s + l] = mul_rounded(d1, static_cast<float>(v)) - m1;
      }
    }
  }
}

void dequant_q6_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    const float d = fp16_to_f32(x[i].d);
    for (int e = 0; e < kQKK; ++e) {
      const int half = e / 128;
      const int g = (e % 128) / 32;  // 0..3 within the half
      const int l = e % 32;
      const std::uint8_t* ql = x[i].ql + 64 * half + 32 * (g % 2);
      const std::uint8_t* qh = x[i].qh + 32 * half;
      const int lo = (ql[l] >> (4 * (g / 2))) & 0x0f;
      const int hi = (qh[l] >> (2 * g)) & 3;
      const float d1 = d * static_cast<float>(x[i].scales[e / 16]);
      y[e] = d1 * static_cast<float>((lo | (hi << 4)) - 32);
    }
  }
}

void dequant_q8_k(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockQ8_K*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQKK) {
    for (int j = 0; j < kQKK; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
  }
}

void dequant_mxfp4(const void* src, float* y, std::int64_t nb) {
  const auto* x = static_cast<const BlockMXFP4*>(src);
  for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = e8m0_to_f32_half(x[i].e);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(kMxfp4Values[x[i].qs[j] & 0x0f]);
      y[j + kQK / 2] = d * static_cast<float>(kMxfp4Values[x[i].qs[j] >> 4]);
    }
  }
}

using DequantFn = void (*)(const void*, float*, std::int64_t n_blocks);

// Indexed by the raw ggml type id.
constexpr std::array<DequantFn, 40> make_table() {
  std::array<DequantFn, 40> t{};
  t[static_cast<int>(GgmlType::kF32)] = dequant_f32;
  t[static_cast<int>(GgmlType::kF16)] = dequant_f16;
  t[static_cast<int>(GgmlType::kBF16)] = dequant_bf16;
  t[static_cast<int>(GgmlType::kQ4_0)] = dequant_q4_0;
  t[static_cast<int>(GgmlType::kQ4_1)] = dequant_q4_1;
  t[static_cast<int>(GgmlType::kQ5_0)] = dequant_q5_0;
  t[static_cast<int>(GgmlType::kQ5_1)] = dequant_q5_1;
  t[static_cast<int>(GgmlType::kQ8_0)] = dequant_q8_0;
  t[static_cast<int>(GgmlType::kQ8_1)] = dequant_q8_1;
  t[static_cast<int>(GgmlType::kQ2_K)] = dequant_q2_k;
  t[static_cast<int>(GgmlType::kQ3_K)] = dequant_q3_k;
  t[static_cast<int>(GgmlType::kQ4_K)] = dequant_q4_k;
  t[static_cast<int>(GgmlType::kQ5_K)] = dequant_q5_k;
  t[static_cast<int>(GgmlType::kQ6_K)] = dequant_q6_k;
  t[static_cast<int>(GgmlType::kQ8_K)] = dequant_q8_k;
  t[static_cast<int>(GgmlType::kMXFP4)] = dequant_mxfp4;
  return t;
}

constexpr std::array<DequantFn, 40> kDequant = make_table();

DequantFn lookup(GgmlType type) {
  const auto id = static_cast<std::uint32_t>(type);
  return id < kDequant.size() ? kDequant[id] : nullptr;
}

}  // namespace

bool can_dequantize(GgmlType type) { return lookup(type) != nullptr; }

void dequantize_row(GgmlType type, const void* src, float* dst, std::int64_t n) {
  const DequantFn fn = lookup(type);
  const std::int64_t bs = traits(type).block_size;
  assert(fn != nullptr && n % bs == 0);
  if (fn == nullptr) return;
  fn(src, dst, n / bs);
}

}  // namespace zinfer::quant
