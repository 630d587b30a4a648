// Kernel table and public entry points of vec_dot.h, plus the exact vec_dot_f32 path.
#include "engine/quant/vec_dot.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <limits>
#include <string>

#include "engine/quant/dequant.h"
#include "engine/quant/vec_dot_kernels.h"

#if defined(ZINFER_QUANT_AVX2)
#include "engine/quant/simd_avx2.h"
#endif

namespace zinfer::quant {
namespace {

using detail::VecDotFn;

struct Kernels {
  VecDotFn scalar = nullptr;
  VecDotFn simd = nullptr;  // AVX2 when built with it, else the scalar kernel
};

constexpr Kernels make(VecDotFn scalar, [[maybe_unused]] VecDotFn avx2) {
#if defined(ZINFER_QUANT_AVX2)
  return {scalar, avx2};
#else
  return {scalar, scalar};
#endif
}

#if defined(ZINFER_QUANT_AVX2)
#define ZINFER_AVX2_KERNEL(name) detail::name##_avx2
#else
#define ZINFER_AVX2_KERNEL(name) nullptr
#endif
#define ZINFER_KERNELS(name) make(detail::name##_scalar, ZINFER_AVX2_KERNEL(name))

// Indexed by the raw ggml type id of the weight.
constexpr std::array<Kernels, 40> make_table() {
  std::array<Kernels, 40> t{};
  t[static_cast<int>(GgmlType::kF32)] = ZINFER_KERNELS(dot_f32);
  t[static_cast<int>(GgmlType::kF16)] = ZINFER_KERNELS(dot_f16);
  t[static_cast<int>(GgmlType::kBF16)] = ZINFER_KERNELS(dot_bf16);
  t[static_cast<int>(GgmlType::kQ4_0)] = ZINFER_KERNELS(dot_q4_0);
  t[static_cast<int>(GgmlType::kQ4_1)] = ZINFER_KERNELS(dot_q4_1);
  t[static_cast<int>(GgmlType::kQ5_0)] = ZINFER_KERNELS(dot_q5_0);
  t[static_cast<int>(GgmlType::kQ5_1)] = ZINFER_KERNELS(dot_q5_1);
  t[static_cast<int>(GgmlType::kQ8_0)] = ZINFER_KERNELS(dot_q8_0);
  t[static_cast<int>(GgmlType::kQ2_K)] = ZINFER_KERNELS(dot_q2_k);
  t[static_cast<int>(GgmlType::kQ3_K)] = ZINFER_KERNELS(dot_q3_k);
  t[static_cast<int>(GgmlType::kQ4_K)] = ZINFER_KERNELS(dot_q4_k);
  t[static_cast<int>(GgmlType::kQ5_K)] = ZINFER_KERNELS(dot_q5_k);
  t[static_cast<int>(GgmlType::kQ6_K)] = ZINFER_KERNELS(dot_q6_k);
  t[static_cast<int>(GgmlType::kMXFP4)] = ZINFER_KERNELS(dot_mxfp4);
  return t;
}

#undef ZINFER_KERNELS
#undef ZINFER_AVX2_KERNEL

constexpr std::array<Kernels, 40> kKernels = make_table();

const Kernels* lookup(GgmlType type) {
  const auto id = static_cast<std::uint32_t>(type);
  if (id >= kKernels.size() || kKernels[id].scalar == nullptr) return nullptr;
  return &kKernels[id];
}

float invalid_result() { return std::numeric_limits<float>::quiet_NaN(); }

// Elements dequantized at a time by vec_dot_f32: a multiple of every block size.
constexpr std::int64_t kChunk = 256;

// Shared by both builds: the accumulation is 8 float lanes (element 8c + l into lane l) with
// FMA, reduced like Lanes8::hsum, then the tail (< 8 elements, only for F32/F16/BF16) in order.
template <bool kAvx2>
float dot_f32_chunked(GgmlType type, std::int64_t n, const void* w_row, const float* x) {
  assert(can_dequantize(type) && n % traits(type).block_size == 0);
  alignas(32) float tmp[kChunk];
  const auto* src = static_cast<const std::uint8_t*>(w_row);
#if defined(ZINFER_QUANT_AVX2)
  __m256 acc = _mm256_setzero_ps();
#endif
  detail::Lanes8 lanes;
  float tail = 0.0f;
  bool have_tail = false;
  for (std::int64_t i = 0; i < n; i += kChunk) {
    const std::int64_t len = std::min(kChunk, n - i);
    dequantize_row(type, src + row_size(type, i), tmp, len);
    const std::int64_t full = len - len % 8;
    if constexpr (kAvx2) {
#if defined(ZINFER_QUANT_AVX2)
      for (std::int64_t j = 0; j < full; j += 8) {
        acc = _mm256_fmadd_ps(_mm256_load_ps(tmp + j), _mm256_loadu_ps(x + i + j), acc);
      }
#endif
    } else {
      for (std::int64_t j = 0; j < full; j += 8) {
        for (int l = 0; l < 8; ++l) lanes.v[l] = std::fma(tmp[j + l], x[i + j + l], lanes.v[l]);
      }
    }
    // Only the last chunk can have a tail (every earlier chunk is a full kChunk).
    for (std::int64_t j = full; j < len; ++j) {
      tail = std::fma(tmp[j], x[i + j], tail);
      have_tail = true;
    }
  }
  float sum = 0.0f;
  if constexpr (kAvx2) {
#if defined(ZINFER_QUANT_AVX2)
    sum = detail::avx2_hsum8(acc);
#endif
  } else {
    sum = lanes.hsum();
  }
  return have_tail ? sum + tail : sum;
}

#if defined(ZINFER_QUANT_AVX2)
// dot_f32_chunked<true> of four rows at once (w, w + stride, ...): each chunk dequantized for
// the four rows, then four independent accumulators, each in its own row's order — each
// result is the one-row path's bits. Types with whole blocks only (no F32/F16/BF16 tails).
void dot_f32_chunked4(GgmlType type, std::int64_t n, const std::uint8_t* w, std::size_t stride,
                      const float* x, float* out) {
  assert(can_dequantize(type) && n % traits(type).block_size == 0 && n % 8 == 0);
  alignas(32) float tmp[4][kChunk];
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (std::int64_t i = 0; i < n; i += kChunk) {
    const std::int64_t len = std::min(kChunk, n - i);
    for (int r = 0; r < 4; ++r) {
      dequantize_row(type, w + static_cast<std::size_t>(r) * stride + row_size(type, i), tmp[r],
                     len);
    }
    for (std::int64_t j = 0; j < len; j += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i + j);
      for (int r = 0; r < 4; ++r) acc[r] = _mm256_fmadd_ps(_mm256_load_ps(tmp[r] + j), xv, acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = detail::avx2_hsum8(acc[r]);
}

// dot_f32_chunked<true>(kF32, n, w, x_r) for four activation rows x_r at once: the same FMA
// sequence a row (8-lane accumulator over the whole multiples of 8, then the tail in order).
void dot_f32_f32_x4(std::int64_t n, const float* w, const float* const (&x)[4], float (&out)[4]) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  const std::int64_t full = n - n % 8;
  for (std::int64_t j = 0; j < full; j += 8) {
    const __m256 wv = _mm256_loadu_ps(w + j);
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[r] + j), acc[r]);
  }
  float tail[4] = {};
  for (std::int64_t j = full; j < n; ++j) {
    for (int r = 0; r < 4; ++r) tail[r] = std::fma(w[j], x[r][j], tail[r]);
  }
  for (int r = 0; r < 4; ++r) {
    const float sum = detail::avx2_hsum8(acc[r]);
    out[r] = full < n ? sum + tail[r] : sum;
  }
}
#endif

}  // namespace

void vec_dot_f32_xrows(std::int64_t n, const float* w, const float* x, std::size_t x_stride,
                       std::int64_t n_x, float* out, std::size_t out_stride) {
  std::int64_t r = 0;
#if defined(ZINFER_QUANT_AVX2)
  for (; r + 4 <= n_x; r += 4) {
    const float* xs[4];
    float o[4];
    for (int i = 0; i < 4; ++i) xs[i] = x + static_cast<std::size_t>(r + i) * x_stride;
    dot_f32_f32_x4(n, w, xs, o);
    for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(r + i) * out_stride] = o[i];
  }
#endif
  for (; r < n_x; ++r) {
    out[static_cast<std::size_t>(r) * out_stride] =
        vec_dot_f32(GgmlType::kF32, n, w, x + static_cast<std::size_t>(r) * x_stride);
  }
}

void vec_dot_f32_rows(GgmlType weight_type, std::int64_t n, const void* w, std::size_t w_row_stride,
                      std::int64_t n_rows, const float* x, float* out) {
  const auto* base = static_cast<const std::uint8_t*>(w);
  std::int64_t r = 0;
#if defined(ZINFER_QUANT_AVX2)
  if (can_dequantize(weight_type) &&
      detail::dot_f32_rows_avx2(weight_type, n, w, w_row_stride, n_rows, x, out)) {
    return;
  }
  // Whole blocks of at least 8 (the K-quants, the other legacy formats, MXFP4): four rows at
  // a time; F32/F16/BF16 rows may end in a tail and take the one-row path.
  if (can_dequantize(weight_type) && traits(weight_type).block_size % 8 == 0) {
    for (; r + 4 <= n_rows; r += 4) {
      dot_f32_chunked4(weight_type, n, base + static_cast<std::size_t>(r) * w_row_stride,
                       w_row_stride, x, out + r);
    }
  }
#endif
  for (; r < n_rows; ++r)
    out[r] = vec_dot_f32(weight_type, n, base + static_cast<std::size_t>(r) * w_row_stride, x);
}

bool is_vec_dot_supported(GgmlType weight_type) { return lookup(weight_type) != nullptr; }

Status check_vec_dot(GgmlType weight_type, std::int64_t n) {
  if (!is_vec_dot_supported(weight_type)) {
    const auto t = type_traits(static_cast<std::uint32_t>(weight_type));
    return make_error(
        ErrorCode::kModelLoadFailed,
        "weight type " +
            (t ? std::string(t->name) : std::to_string(static_cast<std::uint32_t>(weight_type))) +
            " has no CPU dot product");
  }
  const std::int64_t bs = traits(weight_type).block_size;
  if (n <= 0 || n % bs != 0) {
    return make_error(
        ErrorCode::kModelLoadFailed,
        "row length n=" + std::to_string(n) + " of a " + std::string(type_name(weight_type)) +
            " tensor is not a positive multiple of its block size " + std::to_string(bs));
  }
  return ok_status();
}

float vec_dot(GgmlType weight_type, std::int64_t n, const void* w_row, const void* act_row) {
  const Kernels* k = lookup(weight_type);
  assert(k != nullptr && n % traits(weight_type).block_size == 0);
  return k != nullptr ? k->simd(n, w_row, act_row) : invalid_result();
}

float vec_dot_scalar(GgmlType weight_type, std::int64_t n, const void* w_row, const void* act_row) {
  const Kernels* k = lookup(weight_type);
  assert(k != nullptr && n % traits(weight_type).block_size == 0);
  return k != nullptr ? k->scalar(n, w_row, act_row) : invalid_result();
}

void vec_dot_rows(GgmlType weight_type, std::int64_t n, const void* w, std::size_t w_row_stride,
                  std::int64_t n_rows, const void* act_row, float* out) {
  const Kernels* k = lookup(weight_type);
  assert(k != nullptr && n % traits(weight_type).block_size == 0);
  const auto* base = static_cast<const std::uint8_t*>(w);
  for (std::int64_t r = 0; r < n_rows; ++r) {
    out[r] = k != nullptr ? k->simd(n, base + static_cast<std::size_t>(r) * w_row_stride, act_row)
                          : invalid_result();
  }
}

float vec_dot_f32(GgmlType weight_type, std::int64_t n, const void* w_row, const float* x) {
  if (!can_dequantize(weight_type)) return invalid_result();
#if defined(ZINFER_QUANT_AVX2)
  // Register-dequantizing kernels, bit-identical to the chunked path (see vec_dot_float_avx2.cpp).
  float out = 0.0f;
  if (detail::dot_f32_rows_avx2(weight_type, n, w_row, 0, 1, x, &out)) return out;
  return dot_f32_chunked<true>(weight_type, n, w_row, x);
#else
  return dot_f32_chunked<false>(weight_type, n, w_row, x);
#endif
}

float vec_dot_f32_scalar(GgmlType weight_type, std::int64_t n, const void* w_row, const float* x) {
  if (!can_dequantize(weight_type)) return invalid_result();
  return dot_f32_chunked<false>(weight_type, n, w_row, x);
}

bool vec_dot_uses_avx2() {
#if defined(ZINFER_QUANT_AVX2)
  return true;
#else
  return false;
#endif
}

}  // namespace zinfer::quant
