// The tensor-core tiles of the integer matmuls (kernels/q8_mma.cuh) checked on the CPU:
//   - every lane's weight words, scaled by their block header, are the weights
//     quant::dequantize_row gives (so each fragment holds the right quants at the right k);
//   - a warp's mma emulated from the PTX fragment layout (A rows g / g+8, B column g, C rows
//     g / g+8 and columns 2t / 2t+1) gives every sub-block's integer dot product of the rows the
//     fragments came from;
//   - the reference order (mma_reference, which the GPU test holds the kernels to bit for bit)
//     is within float rounding of quant::vec_dot (Q8 activations) and within the Q16 quants'
//     rounding of the exact f32 dot (Q16).
// Runs without a GPU; tests/kernels/q8_mma_test runs the kernels themselves.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/dequant.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/vec_dot.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::q8mma {
namespace {

template <GgmlType T>
Aligned weight_rows(std::int64_t k, int rows, std::uint64_t seed) {
  Aligned w(quant::row_size(T, k) * static_cast<std::size_t>(rows));
  fill_weights<T>(w.p, k, rows, seed);
  return w;
}

// Byte i of w as a signed 8-bit value.
int byte_at(std::uint32_t w, int i) {
  const int v = static_cast<int>(byte_of(w, i));
  return v >= 128 ? v - 256 : v;
}

// Calls f(std::integral_constant<GgmlType, T>{}, i) for the eight weight types with tiles,
// i = 0, 1, ... (a seed offset).
template <typename F>
void each_type(F f) {
  int i = 0;
  for (GgmlType t : {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                     GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K}) {
    dispatch_mma_type(t, [&](auto tc) { f(tc, i); });
    ++i;
  }
}

// The weight of element i of sub-block s from its int8 quant and the block header.
template <GgmlType T>
float weight_of(const std::uint8_t* row, std::int64_t b, int s, int q) {
  using Tr = MmaTraits<T>;
  const auto h = Tr::head(row, b);
  if constexpr (family<T>() == Family::kLegacy) {
    return Tr::kMin ? h.d * static_cast<float>(q) + h.m : h.d * static_cast<float>(q);
  } else if constexpr (family<T>() == Family::kK4) {
    return h.d * static_cast<float>(k4_scale(h, s)) * static_cast<float>(q) -
           h.dmin * static_cast<float>(k4_min(h, s));
  } else {
    return h.d * static_cast<float>(q6_scale(h, s)) * static_cast<float>(q);
  }
}

template <GgmlType T>
void check_words(std::uint64_t seed) {
  using Tr = MmaTraits<T>;
  SCOPED_TRACE(std::string(quant::type_name(T)));
  ASSERT_EQ(static_cast<std::size_t>(Tr::kBlockBytes), quant::row_size(T, Tr::kBlockElems));
  ASSERT_EQ(Tr::kSubK * Tr::kSubs, Tr::kBlockElems);
  const std::int64_t k = 1024;
  const Aligned w = weight_rows<T>(k, 3, seed);
  const std::size_t rs = quant::row_size(T, k);
  std::vector<float> want(static_cast<std::size_t>(k));
  int mismatches = 0;
  for (int r = 0; r < 3; ++r) {
    const std::uint8_t* row = w.p + rs * r;
    quant::dequantize_row(T, row, want.data(), k);
    std::vector<int> seen(static_cast<std::size_t>(k), 0);
    for (std::int64_t b = 0; b < k / Tr::kBlockElems; ++b) {
      for (int s = 0; s < Tr::kSubs; ++s) {
        for (int t = 0; t < 4; ++t) {
          std::uint32_t lo = 0, hi = 0;
          Tr::words(row, b, s, t, lo, hi);
          for (int half = 0; half < (Tr::kSubK == 32 ? 2 : 1); ++half) {
            for (int i = 0; i < 4; ++i) {
              const std::int64_t e = Tr::kBlockElems * b + Tr::kSubK * s + 16 * half + 4 * t + i;
              const int q = byte_at(half == 0 ? lo : hi, i);
              const float got = weight_of<T>(row, b, s, q);
              const float ref = want[static_cast<std::size_t>(e)];
              ++seen[static_cast<std::size_t>(e)];
              if (std::fabs(got - ref) > 1e-6f * (std::fabs(ref) + 1e-3f) && ++mismatches < 5) {
                ADD_FAILURE() << "row " << r << " element " << e << ": " << got << " vs " << ref;
              }
            }
          }
        }
      }
    }
    for (std::int64_t e = 0; e < k; ++e) ASSERT_EQ(seen[static_cast<std::size_t>(e)], 1) << e;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Q8MmaHost, WeightWordsAreTheDequantizedWeights) {
  each_type([](auto tc, int i) { check_words<decltype(tc)::value>(1 + i); });
}

// One warp's mma.sync from its lanes' fragments, as the PTX ISA defines the layouts.
struct WarpFrags {
  std::uint32_t a[32][4] = {};
  std::uint32_t b[32][2] = {};
};
void emulate_mma(const WarpFrags& f, bool k32, int c[32][4]) {
  const int kk = k32 ? 32 : 16;
  int A[16][32] = {};
  int B[32][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      A[g][4 * t + i] = byte_at(f.a[lane][0], i);
      A[g + 8][4 * t + i] = byte_at(f.a[lane][1], i);
      B[4 * t + i][g] = byte_at(f.b[lane][0], i);
      if (k32) {
        A[g][16 + 4 * t + i] = byte_at(f.a[lane][2], i);
        A[g + 8][16 + 4 * t + i] = byte_at(f.a[lane][3], i);
        B[16 + 4 * t + i][g] = byte_at(f.b[lane][1], i);
      }
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) {
      const int r = g + 8 * (i >> 1), n = 2 * t + (i & 1);
      int sum = 0;
      for (int kx = 0; kx < kk; ++kx) sum += A[r][kx] * B[kx][n];
      c[lane][i] = sum;
    }
  }
}

template <GgmlType T>
void check_mma(std::uint64_t seed) {
  using Tr = MmaTraits<T>;
  SCOPED_TRACE(std::string(quant::type_name(T)));
  const std::int64_t k = 512;
  const std::size_t rs = quant::row_size(T, k);
  const Aligned w = weight_rows<T>(k, 16, seed);
  // Eight activation rows of int8 quants (the Q8 quants, or one plane of Q16).
  std::vector<std::int8_t> act(static_cast<std::size_t>(8 * k));
  model::SynthRng rng(seed + 100);
  for (auto& v : act) v = static_cast<std::int8_t>(std::lround(rng.symmetric() * 127.0f));
  for (std::int64_t b = 0; b < k / Tr::kBlockElems; ++b) {
    for (int s = 0; s < Tr::kSubs; ++s) {
      const std::int64_t e = Tr::kBlockElems * b + Tr::kSubK * s;
      WarpFrags f;
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        Tr::words(w.p + rs * g, b, s, t, f.a[lane][0], f.a[lane][2]);
        Tr::words(w.p + rs * (g + 8), b, s, t, f.a[lane][1], f.a[lane][3]);
        act_words(act.data() + k * g, e, t, Tr::kSubK == 32, f.b[lane][0], f.b[lane][1]);
      }
      int c[32][4];
      emulate_mma(f, Tr::kSubK == 32, c);
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        for (int i = 0; i < 4; ++i) {
          const int r = g + 8 * (i >> 1), n = 2 * t + (i & 1);
          const int want = sub_isum<T>(w.p + rs * r, b, s, act.data() + k * n + e);
          ASSERT_EQ(c[lane][i], want) << "block " << b << " sub " << s << " lane " << lane;
        }
      }
      // Two rows as the hi and lo planes of Q16 activations: one pass over the weight words.
      for (int r = 0; r < 16; ++r) {
        const std::int8_t* hi = act.data() + e;
        const std::int8_t* lo = act.data() + k + e;
        ASSERT_EQ(sub_isum16<T>(w.p + rs * r, b, s, hi, lo),
                  256 * sub_isum<T>(w.p + rs * r, b, s, hi) + sub_isum<T>(w.p + rs * r, b, s, lo));
      }
    }
  }
}

TEST(Q8MmaHost, EmulatedWarpMmaGivesEverySubBlocksIntegerDot) {
  each_type([](auto tc, int i) { check_mma<decltype(tc)::value>(11 + i); });
}

// The reference order against the CPU's dot products.
template <GgmlType T>
void check_reference(std::int64_t k, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " k=" + std::to_string(k));
  const std::size_t rs = quant::row_size(T, k);
  constexpr int kRows = 4;
  const Aligned w = weight_rows<T>(k, kRows, seed);
  const GgmlType at = quant::traits(T).vec_dot_type;
  const q8::Q8ActLayout l8 = q8::q8_act_layout(at, k);
  const q8::Q8ActLayout l16 = q8::q16_act_layout(k);
  Aligned a8(l8.row_bytes), a16(l16.row_bytes);
  std::vector<std::uint8_t> blocks(quant::act_row_size(at, k));
  std::vector<float> x(static_cast<std::size_t>(k)), wf(static_cast<std::size_t>(k));
  model::SynthRng rng(seed + 7);
  for (int trial = 0; trial < 3; ++trial) {
    for (auto& v : x) v = rng.symmetric() * (trial == 2 ? 30.0f : 1.5f);
    quant::quantize_act_row(at, x.data(), blocks.data(), k);
    q8::pack_act_row(l8, blocks.data(), a8.p);
    q8::quantize_q16_row(l16, x.data(), a16.p);
    const q8::Act16Row q16 = q8::act16_row(a16.p, l16, 0);
    for (int r = 0; r < kRows; ++r) {
      const std::uint8_t* row = w.p + rs * r;
      quant::dequantize_row(T, row, wf.data(), k);
      double mag = 0.0, bound = 0.0;
      for (std::int64_t i = 0; i < k; ++i) {
        const double wi = wf[static_cast<std::size_t>(i)];
        mag += std::fabs(wi * x[static_cast<std::size_t>(i)]);
        bound += std::fabs(wi) * 0.5 * q16.d[i / 32];
      }
      const float want8 = quant::vec_dot(T, k, row, blocks.data());
      EXPECT_NEAR(mma_reference<T>(row, a8.p, l8), want8, 1e-5 * mag + 1e-6) << "row " << r;
      const float exact = quant::vec_dot_f32(T, k, row, x.data());
      EXPECT_NEAR(mma_reference<T>(row, a16.p, l16), exact, bound * 1.01 + 2e-6 * mag + 1e-6)
          << "q16 row " << r;
    }
  }
}

TEST(Q8MmaHost, ReferenceOrderIsWithinRoundingOfTheCpuDots) {
  for (std::int64_t k : {256, 1024, 4864}) {
    each_type([k](auto tc, int i) { check_reference<decltype(tc)::value>(k, 21 + i); });
  }
}

// The vec kernel's 16-byte-load unit terms (k4_act16, k4_words16, k4_unit_term16) against
// unit_term: the same bits for every unit, at ordinary and large activations.
template <GgmlType T>
void check_wide_k4_terms(std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)));
  const std::int64_t k = 1024;
  const std::size_t rs = quant::row_size(T, k);
  constexpr int kRows = 6;
  const Aligned w = weight_rows<T>(k, kRows, seed);
  const q8::Q8ActLayout l = q8::q16_act_layout(k);
  Aligned a(l.row_bytes);
  std::vector<float> x(static_cast<std::size_t>(k));
  model::SynthRng rng(seed + 3);
  for (float scale : {1.0f, 40.0f}) {
    for (auto& v : x) v = rng.symmetric() * scale;
    q8::quantize_q16_row(l, x.data(), a.p);
    for (int r = 0; r < kRows; ++r) {
      const std::uint8_t* row = w.p + rs * r;
      for (std::int64_t b = 0; b < k / 256; ++b) {
        for (int g = 0; g < 8; ++g) {
          std::uint32_t wv[8];
          k4_words16<T>(row, b, g, wv);
          const float got =
              k4_unit_term16(MmaTraits<T>::head(row, b), g, wv, k4_act16(a.p, l, b, g));
          const float want = unit_term<T, true>(row, b, g, a.p, l);
          ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want))
              << "row " << r << " block " << b << " unit " << g;
          // The vec-block kernel's way: the four units' scales of its half-block decoded at once.
          const K4Head h = MmaTraits<T>::head(row, b);
          std::uint32_t sc4 = 0, mn4 = 0;
          q8::k4_scale_min4(h.s0, h.s1, h.s2, g / 4, sc4, mn4);
          const int sh = 8 * (g % 4);
          const float got4 =
              k4_unit_term16_sm(h, static_cast<int>((sc4 >> sh) & 0xffu),
                                static_cast<int>((mn4 >> sh) & 0xffu), wv, k4_act16(a.p, l, b, g));
          ASSERT_EQ(std::bit_cast<std::uint32_t>(got4), std::bit_cast<std::uint32_t>(want))
              << "row " << r << " block " << b << " unit " << g << " (four scales at once)";
        }
      }
    }
  }
}

TEST(Q8MmaHost, WideK4UnitTermsAreUnitTermsBitForBit) {
  check_wide_k4_terms<GgmlType::kQ4_K>(71);
  check_wide_k4_terms<GgmlType::kQ5_K>(72);
}

// The vec-block kernel's Q6_K terms (a lane a half super-block: q6_half's aligned loads and
// funnel shifts, q6_unit_term16) against unit_term, bit for bit, with the rows at both 2-byte
// offsets a 210-byte block can start at, at ordinary and large activations.
TEST(Q8MmaHost, Q6HalfBlockUnitTermsAreUnitTermsBitForBit) {
  constexpr GgmlType kT = GgmlType::kQ6_K;
  const std::int64_t k = 1024;
  const std::size_t rs = quant::row_size(kT, k);
  constexpr int kRows = 5;
  Aligned w(rs * kRows + 8);
  const q8::Q8ActLayout l = q8::q16_act_layout(k);
  Aligned a(l.row_bytes);
  std::vector<float> x(static_cast<std::size_t>(k));
  model::SynthRng rng(91);
  for (const std::size_t shift : {std::size_t{0}, std::size_t{2}}) {
    fill_weights<kT>(w.p + shift, k, kRows, 90 + shift);
    for (float scale : {1.0f, 40.0f}) {
      for (auto& v : x) v = rng.symmetric() * scale;
      q8::quantize_q16_row(l, x.data(), a.p);
      for (int r = 0; r < kRows; ++r) {
        const std::uint8_t* row = w.p + shift + rs * r;
        for (std::int64_t b = 0; b < k / 256; ++b) {
          for (int h = 0; h < 2; ++h) {
            const Q6Half half = q6_half(row, b, h);
            for (int gi = 0; gi < 4; ++gi) {
              const int g = 4 * h + gi;
              const K4Act16 act = k4_act16(a.p, l, b, g);
              const float got = q6_unit_term16(half, gi, act.hw, act.lw, act.d);
              const float want = unit_term<kT, true>(row, b, g, a.p, l);
              ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want))
                  << "shift " << shift << " row " << r << " block " << b << " unit " << g;
            }
          }
        }
      }
    }
  }
}

// q8::k4_scale_min4 (a half super-block's four scales and minimums at once) against
// k4_scale_min group by group, over random scale bytes (every bit pattern of each byte's
// fields turns up).
TEST(Q8MmaHost, FourScalesAtOnceAreK4ScaleMin) {
  model::SynthRng rng(81);
  for (int it = 0; it < 20000; ++it) {
    const auto word = [&] {
      std::uint32_t v = 0;
      for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(rng.next() & 0xffu) << (8 * i);
      return v;
    };
    const std::uint32_t s0 = word(), s1 = word(), s2 = word();
    for (int half = 0; half < 2; ++half) {
      std::uint32_t sc4 = 0, mn4 = 0;
      q8::k4_scale_min4(s0, s1, s2, half, sc4, mn4);
      for (int i = 0; i < 4; ++i) {
        int sc = 0, mn = 0;
        q8::k4_scale_min(s0, s1, s2, 4 * half + i, sc, mn);
        ASSERT_EQ(static_cast<int>((sc4 >> (8 * i)) & 0xffu), sc)
            << it << " group " << 4 * half + i;
        ASSERT_EQ(static_cast<int>((mn4 >> (8 * i)) & 0xffu), mn)
            << it << " group " << 4 * half + i;
      }
    }
  }
}

TEST(Q8MmaHost, PartsCoverEveryBlockOnceAndDependOnKAlone) {
  for (int block : {32, 256}) {
    for (std::int64_t nb = 1; nb < 700; ++nb) {
      const int parts = mma_parts(nb, block);
      ASSERT_GE(parts, 1);
      ASSERT_LE(parts, kMaxParts);
      ASSERT_EQ(part_begin(nb, parts, 0), 0);
      ASSERT_EQ(part_begin(nb, parts, parts), nb);
      for (int p = 0; p < parts; ++p) {
        ASSERT_LT(part_begin(nb, parts, p), part_begin(nb, parts, p + 1)) << nb << " " << p;
      }
    }
  }
  EXPECT_EQ(mma_parts(28, 32), 7);   // K = 896, 32-element blocks: 7 parts of 4
  EXPECT_EQ(mma_parts(14, 256), 8);  // K = 3584, super-blocks
}

}  // namespace
}  // namespace zinfer::cuda::q8mma
