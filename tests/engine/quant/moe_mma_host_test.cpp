// The experts' tensor-core kernel body (kernels/moe_mma.cuh) run on the CPU: every thread of
// every block emulated (cuda_block_emulator.h: fibers, barriers, the warp's mma from the PTX
// fragment layout), on MXFP4 experts with Q16 activations. Every slot's output is held bit for
// bit to q8mma::mma_reference of its expert's weight row and its activation row, plus the
// bias, then (gate/up) the expert activation — and stored exactly once. Routings with an
// expert of more than one tile, experts no slot picks, rows per expert that leave a partial
// block of 16, and K of 1, 7 and 8 parts. Also: MXFP4's fragment words are the dequantized
// weights, and its reference order is within rounding of the CPU's dots. Runs without a GPU;
// tests/kernels/moe_test runs the kernel itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/dequant.h"
#include "engine/quant/ggml_type.h"
#include "engine/quant/vec_dot.h"
#include "kernels/moe_math.cuh"
#include "kernels/moe_mma.cuh"
#include "kernels/moe_vec.cuh"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::moemma {
namespace {

using q8mma::Aligned;
using q8mma::MmaTraits;
constexpr GgmlType kT = GgmlType::kMXFP4;

struct HostCtx {
  testing::BlockEmulator* e;
  int tid;
  std::int64_t bx;
  q8mma::Outputs* out;
  int thread() const { return tid; }
  std::int64_t block_x() const { return bx; }
  std::uint8_t* smem() const { return e->smem(); }
  void sync() const { e->sync(); }
  void mma_k32(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) const {
    e->mma(tid, true, c, a, b0, b1);
  }
  void store(std::int64_t slot, std::int64_t j, float v) const { out->store(slot, j, v, v); }
};

// The grouping launch_moe_group makes: slots grouped by expert (ascending within one), tiles of
// at most kMoeTileRows slots of one expert, tiles past the last marked -1.
struct HostRouting {
  std::vector<std::int32_t> slots, tile_expert, tile_begin, tile_count;
  std::int64_t max_tiles = 0;
  HostRouting(const std::vector<int>& expert_of_slot, int n_expert) {
    const auto n_slots = static_cast<std::int64_t>(expert_of_slot.size());
    max_tiles = moe_max_tiles(n_slots, n_expert);
    tile_expert.assign(static_cast<std::size_t>(max_tiles), -1);
    tile_begin.assign(tile_expert.size(), 0);
    tile_count.assign(tile_expert.size(), 0);
    std::size_t tile = 0;
    for (int e = 0; e < n_expert; ++e) {
      const auto first = static_cast<std::int32_t>(slots.size());
      for (std::int64_t s = 0; s < n_slots; ++s) {
        if (expert_of_slot[static_cast<std::size_t>(s)] == e)
          slots.push_back(static_cast<std::int32_t>(s));
      }
      const auto count = static_cast<std::int32_t>(slots.size()) - first;
      for (std::int32_t c = 0; c < count; c += kMoeTileRows) {
        tile_expert.at(tile) = e;
        tile_begin.at(tile) = first + c;
        tile_count.at(tile) = std::min(kMoeTileRows, count - c);
        ++tile;
      }
    }
  }
};

// Runs one block of the vec kernel's body (moe_vec.cuh), its passes a template argument.
template <bool kGateUp, int kRows>
void run_vec_block(const MoeMmaArgs& p, std::int64_t bx, q8mma::Outputs& out) {
  testing::BlockEmulator e(moevec::kMoeVecThreads, moevec::kMoeVecSmemBytes);
  e.run([&](int tid) {
    HostCtx c{&e, tid, bx, &out};
    switch (moevec::moe_vec_passes(p.layout.k)) {
      case 1:
        moevec::moe_vec_body<kGateUp, 1, kRows>(p, c);
        break;
      case 2:
        moevec::moe_vec_body<kGateUp, 2, kRows>(p, c);
        break;
      case 3:
        moevec::moe_vec_body<kGateUp, 3, kRows>(p, c);
        break;
      default:
        moevec::moe_vec_body<kGateUp, 4, kRows>(p, c);
        break;
    }
  });
}

template <bool kGateUp, int kRows>
void run_vec(const MoeMmaArgs& p, std::int64_t rows_per_expert, std::int64_t max_tiles,
             q8mma::Outputs& out) {
  const std::int64_t blocks = moevec::moe_vec_row_blocks(rows_per_expert, kRows) * max_tiles;
  for (std::int64_t bx = 0; bx < blocks; ++bx) run_vec_block<kGateUp, kRows>(p, bx, out);
}

// vec: the few-token kernel's body (moe_vec.cuh) instead of the tensor-core one — the same
// reference, the same bits.
template <bool kGateUp>
void check_stage(std::int64_t k, std::int64_t rows_per_expert, int n_expert, int top_k,
                 std::int64_t tokens, bool with_bias, std::uint64_t seed, int vec_rows = 0) {
  const bool vec = vec_rows > 0;
  SCOPED_TRACE(std::string(vec ? "vec rows " + std::to_string(vec_rows) + " " : "mma ") +
               (kGateUp ? "gate/up" : "down") + " k=" + std::to_string(k) +
               " rows/expert=" + std::to_string(rows_per_expert) +
               " experts=" + std::to_string(n_expert) + " tokens=" + std::to_string(tokens));
  const std::size_t rs = quant::row_size(kT, k);
  const std::int64_t ne1 = rows_per_expert * n_expert;
  Aligned w0(rs * static_cast<std::size_t>(ne1)), w1(w0.size);
  q8mma::fill_weights<kT>(w0.p, k, ne1, seed);
  q8mma::fill_weights<kT>(w1.p, k, ne1, seed + 1);
  std::vector<float> b0(static_cast<std::size_t>(ne1)), b1(b0.size());
  for (std::size_t i = 0; i < b0.size(); ++i) {
    b0[i] = 0.01f * static_cast<float>(static_cast<int>(i % 17) - 8);
    b1[i] = 0.02f * static_cast<float>(static_cast<int>(i % 13) - 6);
  }
  // Routing: most slots to expert 1 (more than one tile), none to the last expert.
  const std::int64_t n_slots = tokens * top_k;
  std::vector<int> expert_of(static_cast<std::size_t>(n_slots));
  for (std::int64_t s = 0; s < n_slots; ++s) {
    const std::int64_t r = s / top_k, j = s % top_k;
    expert_of[static_cast<std::size_t>(s)] =
        j == 0 ? 1 : static_cast<int>((r * 7 + j * 3) % (n_expert - 1));
  }
  const HostRouting route(expert_of, n_expert);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const std::int64_t act_rows = kGateUp ? tokens : n_slots;
  const Aligned act = q8mma::act_rows<kT>(layout, act_rows, seed + 2);

  MoeMmaArgs p;
  p.act = act.p;
  p.layout = layout;
  p.in_div = kGateUp ? top_k : 1;
  p.w[0] = w0.p;
  p.w[1] = w1.p;
  p.bias[0] = with_bias ? b0.data() : nullptr;
  p.bias[1] = with_bias ? b1.data() : nullptr;
  p.row_bytes = rs;
  p.rows_per_expert = rows_per_expert;
  p.parts = q8mma::mma_parts(k / 32, 32);
  p.slots = route.slots.data();
  p.tile_expert = route.tile_expert.data();
  p.tile_begin = route.tile_begin.data();
  p.tile_count = route.tile_count.data();
  p.max_tiles = route.max_tiles;

  q8mma::Outputs out(n_slots, rows_per_expert);
  if (vec_rows == 1) {
    run_vec<kGateUp, 1>(p, rows_per_expert, route.max_tiles, out);
  } else if (vec_rows == 2) {
    run_vec<kGateUp, 2>(p, rows_per_expert, route.max_tiles, out);
  } else if (vec_rows == 4) {
    if constexpr (!kGateUp) run_vec<kGateUp, 4>(p, rows_per_expert, route.max_tiles, out);
  } else {
    const std::int64_t blocks = moe_mma_row_blocks(rows_per_expert) * route.max_tiles;
    for (std::int64_t bx = 0; bx < blocks; ++bx) {
      testing::BlockEmulator e(kMoeMmaThreads, kMoeMmaSmemBytes);
      e.run([&](int tid) {
        HostCtx c{&e, tid, bx, &out};
        moe_mma_body<kT, kGateUp>(p, c);
      });
    }
  }

  int bad = 0;
  Aligned row(rs);  // an aligned copy of the weight row, as the other host checks read it
  for (std::int64_t s = 0; s < n_slots; ++s) {
    const int e = expert_of[static_cast<std::size_t>(s)];
    const std::uint8_t* arow = act.p + layout.row_bytes * static_cast<std::size_t>(s / p.in_div);
    for (std::int64_t j = 0; j < rows_per_expert; ++j) {
      const std::int64_t wr = e * rows_per_expert + j;
      std::memcpy(row.p, w0.p + rs * static_cast<std::size_t>(wr), rs);
      float v0 = q8mma::mma_reference<kT>(row.p, arow, layout);
      if (with_bias) v0 = q8::fadd(v0, b0[static_cast<std::size_t>(wr)]);
      float want = v0;
      if constexpr (kGateUp) {
        std::memcpy(row.p, w1.p + rs * static_cast<std::size_t>(wr), rs);
        float v1 = q8mma::mma_reference<kT>(row.p, arow, layout);
        if (with_bias) v1 = q8::fadd(v1, b1[static_cast<std::size_t>(wr)]);
        want = moe_expert_act(MoeAct::kSwigluOai, v0, v1, p.alpha, p.limit);
      }
      const std::size_t i = static_cast<std::size_t>(s * rows_per_expert + j);
      const bool ok = out.stores[i] == 1 && std::memcmp(&out.v0[i], &want, 4) == 0;
      if (!ok && ++bad <= 3) {
        ADD_FAILURE() << "slot " << s << " (expert " << e << ") row " << j << ": stores "
                      << out.stores[i] << ", " << out.v0[i] << " vs " << want;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST(MoeMmaHost, GateUpEqualsTheReferenceOrderBitForBit) {
  check_stage<true>(96, 40, 4, 2, 11, true, 1);   // one part; 17 slots of expert 1: 3 tiles
  check_stage<true>(896, 24, 5, 3, 4, false, 2);  // 7 parts, no bias
  check_stage<true>(2880, 16, 3, 2, 3, true, 3);  // gpt-oss's K: 8 parts
}

TEST(MoeMmaHost, DownEqualsTheReferenceOrderBitForBit) {
  check_stage<false>(96, 40, 4, 2, 11, true, 4);
  check_stage<false>(2880, 20, 3, 4, 2, true, 5);
}

// The few-token kernel: one token (a slot a tile, gpt-oss's decode), then tiles of several
// slots (an expert of more than one tile), rows per expert past the last block of 8, K of 1,
// 7 and 8 parts and of one to four passes of 32 blocks.
TEST(MoeVecHost, GateUpEqualsTheReferenceOrderBitForBit) {
  for (const int rows : {1, 2}) {
    check_stage<true>(2880, 16, 6, 4, 1, true, 11, rows);  // gpt-oss's K: 3 passes, 8 parts
    check_stage<true>(96, 40, 4, 2, 11, true, 12, rows);   // one part, 3 tiles of expert 1
    check_stage<true>(896, 20, 5, 3, 4, false, 13, rows);  // 7 parts, no bias
    check_stage<true>(4096, 8, 3, 2, 2, true, 14, rows);   // 4 passes
  }
}

TEST(MoeVecHost, DownEqualsTheReferenceOrderBitForBit) {
  for (const int rows : {1, 2, 4}) {
    check_stage<false>(2880, 20, 6, 4, 1, true, 15, rows);
    check_stage<false>(96, 40, 4, 2, 11, true, 16, rows);
    check_stage<false>(1024, 12, 3, 2, 3, false, 17, rows);  // 1 pass exactly
  }
}

// MoeMmaTraits<MXFP4>::values (the vec kernel's loads) against the dequantized weights, at
// every alignment of a block's first byte.
TEST(MoeVecHost, Mxfp4BlockValuesAreTheDequantizedWeights) {
  const std::int64_t k = 64;
  const std::size_t rs = quant::row_size(kT, k);
  Aligned w(rs * 4 + 8);
  std::vector<float> want(static_cast<std::size_t>(k));
  for (std::size_t shift = 0; shift < 4; ++shift) {
    q8mma::fill_weights<kT>(w.p + shift, k, 4, 20 + shift);
    for (int r = 0; r < 4; ++r) {
      const std::uint8_t* row = w.p + shift + rs * static_cast<std::size_t>(r);
      quant::dequantize_row(kT, row, want.data(), k);
      for (std::int64_t b = 0; b < k / 32; ++b) {
        float d = 0.0f;
        std::uint32_t v[8];
        MmaTraits<kT>::values(row, b, d, v);
        EXPECT_EQ(d, MmaTraits<kT>::head(row, b).d);
        for (int i = 0; i < 32; ++i) {
          const auto q = static_cast<std::int8_t>(q8::byte_of(v[i / 4], i % 4));
          ASSERT_EQ(d * static_cast<float>(q), want[static_cast<std::size_t>(32 * b + i)])
              << "shift " << shift << " row " << r << " element " << 32 * b + i;
        }
      }
    }
  }
}

// MXFP4's fragment words against the dequantized weights, and its reference order against the
// CPU's dots (Q16 activations: within their rounding of the exact f32 dot).
TEST(MoeMmaHost, Mxfp4WordsAndReferenceMatchTheCpu) {
  const std::int64_t k = 2880;
  const std::size_t rs = quant::row_size(kT, k);
  Aligned w(rs * 3);
  q8mma::fill_weights<kT>(w.p, k, 3, 9);
  std::vector<float> want(static_cast<std::size_t>(k));
  const q8::Q8ActLayout l16 = q8::q16_act_layout(k);
  std::vector<float> x(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i)
    x[static_cast<std::size_t>(i)] = std::sin(0.37f * static_cast<float>(i)) * 1.5f;
  Aligned a16(l16.row_bytes);
  q8::quantize_q16_row(l16, x.data(), a16.p);
  const q8::Act16Row q16 = q8::act16_row(a16.p, l16, 0);
  for (int r = 0; r < 3; ++r) {
    const std::uint8_t* row = w.p + rs * static_cast<std::size_t>(r);
    quant::dequantize_row(kT, row, want.data(), k);
    for (std::int64_t b = 0; b < k / 32; ++b) {
      const float d = MmaTraits<kT>::head(row, b).d;
      for (int t = 0; t < 4; ++t) {
        std::uint32_t lo = 0, hi = 0;
        MmaTraits<kT>::words(row, b, 0, t, lo, hi);
        for (int i = 0; i < 4; ++i) {
          const auto ql = static_cast<std::int8_t>(q8::byte_of(lo, i));
          const auto qh = static_cast<std::int8_t>(q8::byte_of(hi, i));
          ASSERT_EQ(d * static_cast<float>(ql), want[static_cast<std::size_t>(32 * b + 4 * t + i)]);
          ASSERT_EQ(d * static_cast<float>(qh),
                    want[static_cast<std::size_t>(32 * b + 16 + 4 * t + i)]);
        }
      }
    }
    double mag = 0.0, bound = 0.0;
    for (std::int64_t i = 0; i < k; ++i) {
      const double wi = want[static_cast<std::size_t>(i)];
      mag += std::fabs(wi * x[static_cast<std::size_t>(i)]);
      bound += std::fabs(wi) * 0.5 * q16.d[i / 32];
    }
    const float exact = quant::vec_dot_f32(kT, k, row, x.data());
    EXPECT_NEAR(q8mma::mma_reference<kT>(row, a16.p, l16), exact, bound * 1.01 + 2e-6 * mag + 1e-6)
        << "row " << r;
  }
}

// The tensor-core operands: every four codes, packed one per byte, become their four int8
// values (the device's byte-permute steps, run here through their host forms).
TEST(MoeMmaHost, Mxfp4PackedValuesOfEveryFourCodes) {
  for (std::uint32_t c = 0; c < (1u << 16); ++c) {
    const std::uint32_t codes =
        (c & 0xfu) | ((c & 0xf0u) << 4) | ((c & 0xf00u) << 8) | ((c & 0xf000u) << 12);
    const std::uint32_t got = q8mma::mxfp4_values4(codes);
    for (int i = 0; i < 4; ++i) {
      const auto v = static_cast<std::int8_t>((got >> (8 * i)) & 0xffu);
      ASSERT_EQ(v, mxfp4_value((codes >> (8 * i)) & 0xfu)) << std::hex << codes << " byte " << i;
    }
  }
}

}  // namespace
}  // namespace zinfer::cuda::moemma
