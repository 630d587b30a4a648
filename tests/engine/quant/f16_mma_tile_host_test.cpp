// The fp16 tiles' kernel body (kernels/f16_mma_tile.cuh) run on the CPU: every thread of every
// block emulated (cuda_block_emulator.h: fibers, barriers, deferred cp.async copies, ldmatrix
// and the warp's mma from the PTX fragment layouts — the emulated mma sums its 16 products in
// double and rounds once, so outputs are held to a double-precision reference within fp32
// summation error rather than bit for bit; the device kernel's own test is
// tests/kernels/f16_mma_test). What this catches without a GPU: the staging (skewed rows, a
// partial last stage, partial tiles), the dequantization into halves, the fragment and
// ldmatrix addressing, the parts' fold and the epilogue. And, since every output is computed
// by the same sequence of emulated steps whatever its tile, the tile shapes (16, 64 and 128
// columns; 64 and 96 weight rows; the lean single-buffered, swizzled stage) give the same bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/dequant.h"
#include "engine/quant/f16_round.h"
#include "engine/quant/ggml_type.h"
#include "kernels/f16_mma_small.cuh"
#include "kernels/f16_mma_tile.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::f16mma {
namespace {

using q8mma::Aligned;

struct HostCtx {
  testing::BlockEmulator* e;
  int tid;
  std::int64_t bx, by;
  int thread() const { return tid; }
  std::int64_t block_x() const { return bx; }
  std::int64_t block_y() const { return by; }
  std::uint8_t* smem() const { return e->smem(); }
  void sync() const { e->sync(); }
  void cp16(void* dst, const void* src) const { e->cp16(tid, dst, src); }
  void commit() const { e->commit(tid); }
  void wait_prior() const { e->wait_groups(tid, 1); }
  void wait_all() const { e->wait_groups(tid, 0); }
  void ldmatrix_x4(std::uint32_t (&r)[4], const void* p) const { e->ldmatrix_x4(tid, r, p); }
  void mma_f16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
               std::uint32_t b1) const {
    e->mma_f16(tid, d, a, b0, b1, &quant::fp16_to_f32);
  }
  template <GgmlType T>
  void group8(const std::uint8_t* row, int g, float (&v)[8]) const {
    constexpr int kElems = q8mma::MmaTraits<T>::kBlockElems;
    float block[kElems];
    const int b = 8 * g / kElems;
    quant::dequantize_row(T, row + static_cast<std::size_t>(b) * q8mma::MmaTraits<T>::kBlockBytes,
                          block, kElems);
    std::memcpy(v, block + (8 * g) % kElems, sizeof(v));
  }
};

// Weights, fp16 activation rows (the CPU's rounding) and their scales.
struct Problem {
  Aligned w;
  std::vector<std::uint16_t> act;
  std::vector<float> scale, x;
  std::int64_t k, ne1, rows, stride;
  Problem(std::size_t w_bytes, std::int64_t k_, std::int64_t ne1_, std::int64_t rows_)
      : w(w_bytes), k(k_), ne1(ne1_), rows(rows_), stride((k_ + 7) / 8 * 8) {}
};

template <GgmlType T>
Problem make_problem(std::int64_t k, std::int64_t ne1, std::int64_t rows, std::uint64_t seed) {
  Problem pr(quant::row_size(T, k) * static_cast<std::size_t>(ne1), k, ne1, rows);
  q8mma::fill_weights<T>(pr.w.p, k, ne1, seed);
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::normal_distribution<float> dist(0.0f, 1.5f);
  pr.x.resize(static_cast<std::size_t>(rows * k));
  for (float& v : pr.x) v = dist(rng);
  if (rows > 2) pr.x[static_cast<std::size_t>(2 * k + 1)] = 1.0e5f;  // row 2: a scale of 4
  pr.act.assign(static_cast<std::size_t>(rows * pr.stride), 0);
  pr.scale.resize(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = pr.x.data() + r * k;
    const float s = quant::f16_row_scale(xr, k);
    pr.scale[static_cast<std::size_t>(r)] = s;
    for (std::int64_t i = 0; i < k; ++i)
      pr.act[static_cast<std::size_t>(r * pr.stride + i)] = quant::f32_to_fp16(xr[i] / s);
  }
  return pr;
}

// Emulates the grid of one tile shape over p (its matrices' outputs poisoned with NaN first).
template <GgmlType T, int NT, int CW, int RW = kRowWarps, bool kLean = false>
void emulate(F16MmaParams p) {
  using S = F16Shape<T, NT, CW, RW, kLean>;
  const std::int64_t tiles = stack_tiles(p, S::kRows);
  for (std::int64_t by = 0; by < tiles; ++by) {
    for (std::int64_t bx = 0; bx < (p.rows + S::kCols - 1) / S::kCols; ++bx) {
      testing::BlockEmulator e(S::kThreads, S::kSmemBytes);
      e.run([&](int tid) {
        HostCtx c{&e, tid, bx, by};
        f16_tile_body<T, NT, CW, RW, kLean>(p, c);
      });
    }
  }
}

// Emulates the small-batch kernel's grid (f16_mma_small.cuh) over p.
template <GgmlType T, int NT>
void emulate_small(F16MmaParams p) {
  using S = F16SmallShape<NT>;
  const std::int64_t tiles = stack_tiles(p, kSmallRows);
  for (std::int64_t by = 0; by < tiles; ++by) {
    testing::BlockEmulator e(S::kThreads, S::kSmemBytes);
    e.run([&](int tid) {
      HostCtx c{&e, tid, 0, by};
      f16_small_body<T, NT>(p, c);
    });
  }
}

template <GgmlType T>
F16MmaParams params(const Problem& pr) {
  F16MmaParams p{};
  p.act = pr.act.data();
  p.scale = pr.scale.data();
  p.rows = pr.rows;
  p.stride = pr.stride;
  p.n_mats = 1;
  p.row_bytes = quant::row_size(T, pr.k);
  p.nb = pr.k / q8mma::MmaTraits<T>::kBlockElems;
  p.parts = q8mma::mma_parts(p.nb, q8mma::MmaTraits<T>::kBlockElems);
  p.accumulate = false;
  return p;
}

// out [rows][ne1] from the emulated grid of one tile shape (poisoned with NaN first).
template <GgmlType T, int NT, int CW, int RW = kRowWarps, bool kLean = false>
std::vector<float> run_grid(const Problem& pr, const float* bias) {
  std::vector<float> out(static_cast<std::size_t>(pr.rows * pr.ne1), std::nanf(""));
  F16MmaParams p = params<T>(pr);
  p.mat[0] = {pr.w.p, pr.ne1, out.data(), pr.ne1, bias};
  emulate<T, NT, CW, RW, kLean>(p);
  return out;
}

template <GgmlType T>
void check_type(std::int64_t k, std::int64_t ne1, std::int64_t rows, std::uint64_t seed) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " k=" + std::to_string(k) +
               " ne1=" + std::to_string(ne1) + " rows=" + std::to_string(rows));
  const Problem pr = make_problem<T>(k, ne1, rows, seed);
  std::vector<float> bias(static_cast<std::size_t>(ne1));
  for (std::int64_t j = 0; j < ne1; ++j)
    bias[static_cast<std::size_t>(j)] = 0.01f * static_cast<float>(j);
  const std::vector<float> narrow = run_grid<T, 2, 1>(pr, bias.data());
  const std::vector<float> mid = run_grid<T, 4, 2>(pr, bias.data());
  const std::vector<float> tall = run_grid<T, 8, 2, 6>(pr, bias.data());  // 96 rows × 128
  const std::vector<float> lean = run_grid<T, 8, 2, kRowWarps, true>(pr, bias.data());
  const std::size_t rs = quant::row_size(T, k);
  std::vector<float> wf(static_cast<std::size_t>(k));
  int bad = 0;
  for (std::int64_t j = 0; j < ne1 && bad < 3; ++j) {
    quant::dequantize_row(T, pr.w.p + rs * static_cast<std::size_t>(j), wf.data(), k);
    quant::f16_round_row(wf.data(), wf.data(), k);
    for (std::int64_t n = 0; n < rows && bad < 3; ++n) {
      double sum = 0.0, mag = 0.0;
      for (std::int64_t i = 0; i < k; ++i) {
        const double v = static_cast<double>(wf[static_cast<std::size_t>(i)]) *
                         quant::fp16_to_f32(pr.act[static_cast<std::size_t>(n * pr.stride + i)]);
        sum += v;
        mag += std::fabs(v);
      }
      const double s = pr.scale[static_cast<std::size_t>(n)];
      const double want = sum * s + bias[static_cast<std::size_t>(j)];
      const std::size_t at = static_cast<std::size_t>(n * ne1 + j);
      const double tol = (static_cast<double>(k) / 16.0 + 8.0) * 0x1p-22 * mag * s + 1e-6;
      if (!(std::fabs(narrow[at] - want) <= tol)) {
        ADD_FAILURE() << "row " << n << " output " << j << ": " << narrow[at] << " vs " << want;
        ++bad;
      }
      if (std::memcmp(&narrow[at], &mid[at], 4) != 0 ||
          std::memcmp(&narrow[at], &tall[at], 4) != 0 ||
          std::memcmp(&narrow[at], &lean[at], 4) != 0) {
        ADD_FAILURE() << "row " << n << " output " << j << ": 16 columns " << narrow[at]
                      << ", 64 columns " << mid[at] << ", 96 x 128 " << tall[at] << ", lean "
                      << lean[at];
        ++bad;
      }
    }
  }
}

TEST(F16MmaTileHost, LegacyTypesPartialStagePartsAndSkew) {
  check_type<GgmlType::kQ4_0>(896, 70, 19, 1);  // 18-byte blocks: rows off alignment
  check_type<GgmlType::kQ8_0>(96, 65, 3, 2);
  check_type<GgmlType::kQ5_1>(256, 64, 17, 3);
  check_type<GgmlType::kQ5_0>(896, 70, 20, 6);  // 22-byte blocks, a partial last stage
}

TEST(F16MmaTileHost, KQuants) {
  check_type<GgmlType::kQ4_K>(512, 80, 18, 4);
  check_type<GgmlType::kQ6_K>(768, 66, 5, 5);  // 210-byte blocks: rows off alignment
}

// Q, K and V as one stack (row counts off the tile size, so a tile of each matrix is partial):
// every output the bits of its own launch, in the 64- and the 96-row tiles.
TEST(F16MmaTileHost, StackEqualsItsMatricesAlone) {
  constexpr GgmlType kT = GgmlType::kQ4_K;
  const std::int64_t k = 512, rows = 21, ne1[3] = {100, 40, 40};
  const std::size_t rs = quant::row_size(kT, k);
  Problem pr = make_problem<kT>(k, ne1[0] + ne1[1] + ne1[2], rows, 9);
  std::vector<float> bias(static_cast<std::size_t>(pr.ne1));
  for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.02f * static_cast<float>(j % 17);
  std::vector<float> alone[3], stacked[3], tall[3];
  F16MmaParams p = params<kT>(pr);
  p.n_mats = 3;
  std::int64_t row0 = 0;
  for (int m = 0; m < 3; ++m) {
    const std::size_t n = static_cast<std::size_t>(rows * ne1[m]);
    alone[m].assign(n, std::nanf(""));
    stacked[m].assign(n, std::nanf(""));
    tall[m].assign(n, std::nanf(""));
    F16MmaParams one = params<kT>(pr);
    one.mat[0] = {pr.w.p + rs * static_cast<std::size_t>(row0), ne1[m], alone[m].data(), ne1[m],
                  bias.data() + row0};
    emulate<kT, 2, 1>(one);
    p.mat[m] = {one.mat[0].w, ne1[m], stacked[m].data(), ne1[m], one.mat[0].bias};
    row0 += ne1[m];
  }
  emulate<kT, 2, 1>(p);
  for (int m = 0; m < 3; ++m) p.mat[m].out = tall[m].data();
  emulate<kT, 8, 2, 6>(p);
  std::vector<float> lean[3];
  for (int m = 0; m < 3; ++m) {
    lean[m].assign(alone[m].size(), std::nanf(""));
    p.mat[m].out = lean[m].data();
  }
  emulate<kT, 4, 2, kRowWarps, true>(p);
  for (int m = 0; m < 3; ++m) {
    SCOPED_TRACE("matrix " + std::to_string(m));
    EXPECT_FALSE(std::isnan(alone[m][0]));
    EXPECT_EQ(0, std::memcmp(alone[m].data(), stacked[m].data(), alone[m].size() * 4));
    EXPECT_EQ(0, std::memcmp(alone[m].data(), tall[m].data(), alone[m].size() * 4));
    EXPECT_EQ(0, std::memcmp(alone[m].data(), lean[m].data(), alone[m].size() * 4));
  }
}

// The tiles split over K (a block a part, its sum to scratch, then f16_combine_body adding the
// parts in order with the epilogue): the bits of the whole tiles, for a Q/K/V stack (bias,
// accumulation) in the 64-row and lean stages, and for a legacy type whose parts end inside a
// stage (Q5_0, K = 896: seven parts of four blocks, stages of eight).
template <GgmlType T, int NT, int CW, int RW = kRowWarps, bool kLean = false>
void emulate_split(F16MmaParams p, std::vector<float>& ws) {
  using S = F16Shape<T, NT, CW, RW, kLean>;
  set_ws_layout(p);
  ws.assign(static_cast<std::size_t>(p.parts * p.ws_part), std::nanf(""));
  p.part_ws = ws.data();
  const std::int64_t tiles = stack_tiles(p, S::kRows);
  for (int z = 0; z < p.parts; ++z) {
    for (std::int64_t by = 0; by < tiles; ++by) {
      for (std::int64_t bx = 0; bx < (p.rows + S::kCols - 1) / S::kCols; ++bx) {
        testing::BlockEmulator e(S::kThreads, S::kSmemBytes);
        e.run([&](int tid) {
          HostCtx c{&e, tid, bx, by};
          f16_tile_body<T, NT, CW, RW, kLean>(p, c, z);
        });
      }
    }
  }
  for (std::int64_t i = 0; i < p.ws_part; ++i) f16_combine_body(p, i);
}

template <GgmlType T>
void check_split(std::int64_t k, const std::int64_t (&ne1)[3], std::int64_t rows) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " k=" + std::to_string(k));
  const std::size_t rs = quant::row_size(T, k);
  const Problem pr = make_problem<T>(k, ne1[0] + ne1[1] + ne1[2], rows, 120);
  std::vector<float> bias(static_cast<std::size_t>(pr.ne1));
  for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.05f * static_cast<float>(j % 11);
  F16MmaParams p = params<T>(pr);
  ASSERT_GE(p.parts, 2);
  p.accumulate = true;
  p.n_mats = 3;
  std::vector<float> init[3], whole[3], split[3], lean[3];
  std::int64_t row0 = 0;
  for (int m = 0; m < 3; ++m) {
    init[m].resize(static_cast<std::size_t>(rows * ne1[m]));
    for (std::size_t i = 0; i < init[m].size(); ++i) init[m][i] = 0.25f * static_cast<float>(i % 9);
    whole[m] = split[m] = lean[m] = init[m];
    p.mat[m] = {pr.w.p + rs * static_cast<std::size_t>(row0), ne1[m], whole[m].data(), ne1[m],
                bias.data() + row0};
    row0 += ne1[m];
  }
  emulate<T, 4, 2>(p);
  std::vector<float> ws;
  for (int m = 0; m < 3; ++m) p.mat[m].out = split[m].data();
  emulate_split<T, 4, 2>(p, ws);
  for (int m = 0; m < 3; ++m) p.mat[m].out = lean[m].data();
  emulate_split<T, 4, 2, kRowWarps, true>(p, ws);
  for (int m = 0; m < 3; ++m) {
    SCOPED_TRACE("matrix " + std::to_string(m));
    EXPECT_NE(0, std::memcmp(whole[m].data(), init[m].data(), init[m].size() * 4));
    EXPECT_EQ(0, std::memcmp(whole[m].data(), split[m].data(), whole[m].size() * 4));
    EXPECT_EQ(0, std::memcmp(whole[m].data(), lean[m].data(), whole[m].size() * 4));
  }
}

TEST(F16MmaTileHost, SplitOverKEqualsTheWholeTiles) {
  check_split<GgmlType::kQ4_K>(1024, {70, 20, 20}, 37);  // four parts of one super-block
  check_split<GgmlType::kQ5_0>(896, {40, 16, 16}, 9);    // parts end inside a stage
}

// The small-batch kernel (one to 32 activation rows, A fragments dequantized in registers)
// against the tiles, bit for bit: 8, 16 and 32 columns a block, a partial row tile, several
// parts, a bias; Q4_K, Q6_K, Q5_0 and Q8_0 (blocks of 210, 22 and 34 bytes: rows off 4-byte
// alignment); and as a Q/K/V stack.
template <GgmlType T>
void check_small(std::int64_t k) {
  SCOPED_TRACE(std::string(quant::type_name(T)));
  for (const std::int64_t rows :
       {std::int64_t{1}, std::int64_t{6}, std::int64_t{13}, std::int64_t{30}}) {
    SCOPED_TRACE("rows " + std::to_string(rows));
    const std::int64_t ne1 = 40;
    const Problem pr = make_problem<T>(k, ne1, rows, 70 + static_cast<std::uint64_t>(rows));
    std::vector<float> bias(static_cast<std::size_t>(ne1));
    for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.03f * static_cast<float>(j % 7);
    const std::vector<float> tile = run_grid<T, 2, 1>(pr, bias.data());
    auto small = [&](auto nt) {
      std::vector<float> out(tile.size(), std::nanf(""));
      F16MmaParams p = params<T>(pr);
      p.mat[0] = {pr.w.p, ne1, out.data(), ne1, bias.data()};
      emulate_small<T, decltype(nt)::value>(p);
      return out;
    };
    std::vector<std::vector<float>> outs;
    if (rows <= 8) outs.push_back(small(std::integral_constant<int, 1>{}));
    if (rows <= 16) outs.push_back(small(std::integral_constant<int, 2>{}));
    outs.push_back(small(std::integral_constant<int, 4>{}));
    for (const auto& o : outs) {
      EXPECT_FALSE(std::isnan(o[0]));
      EXPECT_EQ(0, std::memcmp(o.data(), tile.data(), tile.size() * 4));
    }
  }
}

TEST(F16MmaTileHost, SmallBatchKernelEqualsTheTiles) {
  check_small<GgmlType::kQ4_K>(2304);  // nine super-blocks in eight parts
  check_small<GgmlType::kQ6_K>(2304);
  check_small<GgmlType::kQ5_0>(896);   // 28 blocks in seven parts of four (the 0.5B K)
  check_small<GgmlType::kQ8_0>(1120);  // 35 blocks in eight parts
  constexpr GgmlType kT = GgmlType::kQ4_K;
  // Q, K and V as a stack at 3 rows.
  const std::int64_t k = 512, rows = 3, ne1[3] = {48, 20, 20};
  const std::size_t rs = quant::row_size(kT, k);
  const Problem pr = make_problem<kT>(k, ne1[0] + ne1[1] + ne1[2], rows, 90);
  F16MmaParams p = params<kT>(pr);
  p.n_mats = 3;
  std::vector<float> alone[3], stacked[3];
  std::int64_t row0 = 0;
  for (int m = 0; m < 3; ++m) {
    alone[m].assign(static_cast<std::size_t>(rows * ne1[m]), std::nanf(""));
    stacked[m].assign(alone[m].size(), std::nanf(""));
    F16MmaParams one = params<kT>(pr);
    one.mat[0] = {pr.w.p + rs * static_cast<std::size_t>(row0), ne1[m], alone[m].data(), ne1[m],
                  nullptr};
    emulate<kT, 2, 1>(one);
    p.mat[m] = {one.mat[0].w, ne1[m], stacked[m].data(), ne1[m], nullptr};
    row0 += ne1[m];
  }
  emulate_small<kT, 1>(p);
  for (int m = 0; m < 3; ++m) {
    EXPECT_EQ(0, std::memcmp(alone[m].data(), stacked[m].data(), alone[m].size() * 4))
        << "matrix " << m;
  }
}

}  // namespace
}  // namespace zinfer::cuda::f16mma
