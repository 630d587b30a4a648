// The GPU mixture-of-experts math (kernels/moe_math.cuh) run on the CPU against CpuOps:
// topk_softmax_row (the routing kernel's per-row body) gives CpuOps' ids and, with the same
// host expf, its weights bit for bit; moe_expert_act equals cpu::swiglu_oai / silu·u; and
// the grouping the kernels build (moe_group.cu's algorithm, emulated here: per-expert slot
// lists in ascending order, tiles of ≤ kMoeTileRows) never needs more than moe_max_tiles
// tiles, covers every routed slot exactly once and, run through per-slot expert products in
// double, reproduces CpuOps::moe_ffn. Runs without a GPU; the kernels are checked on the
// device by tests/kernels/moe_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu/cpu_ops.h"
#include "engine/quant/quant_ops.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/moe_math.cuh"
#include "tests/test_util.h"

namespace zinfer::cuda {
namespace {

using model::Tensor;
using quant::GgmlType;

cpu::CpuOps make_ops() {
  cpu::CpuOpsConfig cfg;
  cfg.n_threads = 2;
  cfg.exact_matmul = true;
  cfg.n_layer = 1;
  cfg.n_embd_kv = 16;
  cfg.n_blocks = 1;
  return cpu::CpuOps(cfg);
}

void fill(Tensor t, std::mt19937& rng, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  for (std::int64_t r = 0; r < t.rows; ++r) {
    for (std::int64_t c = 0; c < t.cols; ++c) t.data[r * t.stride + c] = dist(rng);
  }
}

TEST(MoeMathHost, TopkSoftmaxRowEqualsCpuOps) {
  auto ops = make_ops();
  std::mt19937 rng(3);
  for (const auto& [n_expert, k] :
       {std::pair{19, 5}, std::pair{4, 2}, std::pair{128, 4}, std::pair{8, 8}, std::pair{1, 1}}) {
    SCOPED_TRACE(std::to_string(n_expert) + " experts, k " + std::to_string(k));
    constexpr std::int64_t rows = 9;
    Tensor l = ops.alloc(rows, n_expert), w = ops.alloc(rows, k), ids = ops.alloc(rows, k);
    fill(l, rng, 2.0f);
    if (n_expert > 4) {  // ties, inside and at the edge of the top k
      l.data[2 * l.stride + 1] = l.data[2 * l.stride + 3] = 50.0f;
      l.data[5 * l.stride + 0] = l.data[5 * l.stride + n_expert - 1] = -50.0f;
      for (int e = 0; e < n_expert; ++e) l.data[6 * l.stride + e] = 0.25f;
    }
    ASSERT_TRUE(ops.topk_softmax(w, ids, l).ok());
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<float> gw(static_cast<std::size_t>(k)), gid(static_cast<std::size_t>(k));
      topk_softmax_row(l.data + r * l.stride, n_expert, k, gw.data(), gid.data());
      for (int j = 0; j < k; ++j) {
        EXPECT_EQ(gid[static_cast<std::size_t>(j)], ids.data[r * ids.stride + j]) << r << "," << j;
        EXPECT_EQ(gw[static_cast<std::size_t>(j)], w.data[r * w.stride + j]) << r << "," << j;
      }
    }
    ops.reset_scratch();
  }
}

// The routing kernel's warp form: 32 lanes' candidates met by the kernel's xor-shuffle tree
// (every lane ends with the pick) give topk_softmax_row's picks, ties and equal rows included.
TEST(MoeMathHost, WarpPicksAreTheRowPicks) {
  std::mt19937 rng(5);
  for (const auto& [n_expert, k] :
       {std::pair{32, 4}, std::pair{19, 5}, std::pair{128, 8}, std::pair{4, 4}, std::pair{1, 1}}) {
    for (int row = 0; row < 40; ++row) {
      std::vector<float> l(static_cast<std::size_t>(n_expert));
      std::normal_distribution<float> dist(0.0f, 2.0f);
      for (float& v : l) v = row % 5 == 4 ? 0.5f : dist(rng);  // every fifth row all equal
      if (n_expert > 4 && row % 3 == 1) l[1] = l[static_cast<std::size_t>(n_expert) - 2] = 9.0f;
      std::vector<float> w(static_cast<std::size_t>(k)), ids(static_cast<std::size_t>(k));
      topk_softmax_row(l.data(), n_expert, k, w.data(), ids.data());
      int prev = -1;
      for (int j = 0; j < k; ++j) {
        int lanes[32];
        for (int lane = 0; lane < 32; ++lane)
          lanes[lane] = topk_lane_best(l.data(), n_expert, prev, lane, 32);
        for (int off = 16; off > 0; off >>= 1) {
          int next[32];
          for (int lane = 0; lane < 32; ++lane)
            next[lane] = topk_first(l.data(), lanes[lane], lanes[lane ^ off]);
          std::copy(next, next + 32, lanes);
        }
        for (int lane = 1; lane < 32; ++lane) ASSERT_EQ(lanes[lane], lanes[0]) << "lane " << lane;
        EXPECT_EQ(static_cast<float>(lanes[0]), ids[static_cast<std::size_t>(j)])
            << n_expert << " experts, row " << row << ", pick " << j;
        prev = lanes[0];
      }
    }
  }
}

TEST(MoeMathHost, ExpertActivationsEqualCpuOps) {
  for (float g : {-30.0f, -7.5f, -1.5f, -0.0f, 0.0f, 0.3f, 6.99f, 7.0f, 7.01f, 12.0f}) {
    for (float u : {-9.0f, -7.0f, -1.0f, 0.0f, 2.5f, 7.0f, 8.0f}) {
      EXPECT_EQ(moe_expert_act(MoeAct::kSwigluOai, g, u, 1.702f, 7.0f),
                cpu::swiglu_oai(g, u, 1.702f, 7.0f))
          << g << ", " << u;
      EXPECT_EQ(moe_expert_act(MoeAct::kSilu, g, u, 1.702f, 7.0f), cpu::silu(g) * u)
          << g << ", " << u;
    }
  }
}

TEST(MoeMathHost, ExpertIdsOutsideTheLayerJoinNoExpert) {
  EXPECT_EQ(moe_expert_id(0.0f, 4), 0);
  EXPECT_EQ(moe_expert_id(3.0f, 4), 3);
  EXPECT_EQ(moe_expert_id(4.0f, 4), -1);
  EXPECT_EQ(moe_expert_id(-1.0f, 4), -1);
  EXPECT_EQ(moe_expert_id(NAN, 4), -1);
}

// moe_group.cu's result for ids [n][k]: slots grouped by expert (ascending within one), and
// the tiles (expert, first entry, count).
struct Grouping {
  std::vector<std::int32_t> slots;
  std::vector<std::int32_t> tile_expert, tile_begin, tile_count;
};

Grouping group(const std::vector<float>& ids, std::int64_t n_slots, int n_expert) {
  Grouping g;
  for (int e = 0; e < n_expert; ++e) {
    const auto first = static_cast<std::int32_t>(g.slots.size());
    for (std::int64_t s = 0; s < n_slots; ++s) {
      if (moe_expert_id(ids[static_cast<std::size_t>(s)], n_expert) == e)
        g.slots.push_back(static_cast<std::int32_t>(s));
    }
    const auto count = static_cast<std::int32_t>(g.slots.size()) - first;
    for (std::int32_t t = 0; t * kMoeTileRows < count; ++t) {
      g.tile_expert.push_back(e);
      g.tile_begin.push_back(first + t * kMoeTileRows);
      g.tile_count.push_back(std::min(kMoeTileRows, count - t * kMoeTileRows));
    }
  }
  return g;
}

TEST(MoeMathHost, TilesNeverExceedTheBound) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 2000; ++trial) {
    const int n_expert = 1 + static_cast<int>(rng() % 40);
    const int k = 1 + static_cast<int>(rng() % static_cast<unsigned>(n_expert));
    const std::int64_t rows = 1 + static_cast<std::int64_t>(rng() % 70);
    // Skewed routings: a few popular experts, as real routers have.
    const int popular = 1 + static_cast<int>(rng() % static_cast<unsigned>(n_expert));
    std::vector<float> ids;
    for (std::int64_t r = 0; r < rows; ++r) {
      std::vector<int> pool(static_cast<std::size_t>(n_expert));
      for (int e = 0; e < n_expert; ++e) pool[static_cast<std::size_t>(e)] = e;
      std::shuffle(pool.begin(), pool.begin() + popular, rng);
      std::shuffle(pool.begin() + popular, pool.end(), rng);
      for (int j = 0; j < k; ++j)
        ids.push_back(static_cast<float>(pool[static_cast<std::size_t>(j)]));
    }
    const std::int64_t n_slots = rows * k;
    const Grouping g = group(ids, n_slots, n_expert);
    ASSERT_LE(static_cast<std::int64_t>(g.tile_expert.size()), moe_max_tiles(n_slots, n_expert))
        << rows << " rows, k " << k << ", " << n_expert << " experts";
    ASSERT_EQ(static_cast<std::int64_t>(g.slots.size()), n_slots);
    std::vector<int> seen(static_cast<std::size_t>(n_slots), 0);
    for (std::size_t t = 0; t < g.tile_expert.size(); ++t) {
      for (int i = 0; i < g.tile_count[t]; ++i) {
        const std::int32_t s = g.slots[static_cast<std::size_t>(std::int64_t{g.tile_begin[t]} + i)];
        ++seen[static_cast<std::size_t>(s)];
        ASSERT_EQ(moe_expert_id(ids[static_cast<std::size_t>(s)], n_expert), g.tile_expert[t]);
      }
    }
    for (int c : seen) ASSERT_EQ(c, 1);
  }
}

// The kernels' data flow on the host: grouping, then per tile and weight row the products of
// each slot's input row (x[slot / k], then h[slot]), bias, activation, then the weighted sum
// in slot order — against CpuOps::moe_ffn.
TEST(MoeMathHost, GroupedExpertsReproduceCpuOps) {
  constexpr int n_expert = 6, ff = 64, k = 3;
  constexpr std::int64_t d = 96, rows = 11;
  const GgmlType type = GgmlType::kMXFP4;
  const auto gate = testing::synth_matrix(type, n_expert * ff, d, 1);
  const auto up = testing::synth_matrix(type, n_expert * ff, d, 2);
  const auto down = testing::synth_matrix(type, n_expert * d, ff, 3);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> gate_b(n_expert * ff), up_b(n_expert * ff), down_b(n_expert * d);
  for (auto* v : {&gate_b, &up_b, &down_b}) {
    for (auto& b : *v) b = dist(rng);
  }
  model::ExpertWeights w;
  w.n_expert = n_expert;
  w.n_ff = ff;
  w.gate = {type, d, n_expert * ff, gate.data()};
  w.up = {type, d, n_expert * ff, up.data()};
  w.down = {type, ff, n_expert * d, down.data()};
  w.gate_b = {GgmlType::kF32, ff, n_expert, gate_b.data()};
  w.up_b = {GgmlType::kF32, ff, n_expert, up_b.data()};
  w.down_b = {GgmlType::kF32, d, n_expert, down_b.data()};
  const model::ExpertActParams act{model::ExpertActivation::kSwigluOai, 1.702f, 7.0f};

  auto ops = make_ops();
  Tensor x = ops.alloc(rows, d), out = ops.alloc(rows, d), l = ops.alloc(rows, n_expert);
  Tensor wt = ops.alloc(rows, k), ids = ops.alloc(rows, k);
  fill(x, rng, 1.0f);
  fill(l, rng, 1.0f);
  for (std::int64_t r = 0; r < rows; ++r) l.data[r * l.stride + 2] += 3.0f;  // a popular expert
  ASSERT_TRUE(ops.topk_softmax(wt, ids, l).ok());
  ASSERT_TRUE(ops.moe_ffn(out, x, ids, wt, w, act).ok());

  const std::int64_t n_slots = rows * k;
  std::vector<float> id_flat;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int j = 0; j < k; ++j) id_flat.push_back(ids.data[r * ids.stride + j]);
  }
  const Grouping g = group(id_flat, n_slots, n_expert);
  ASSERT_LE(static_cast<std::int64_t>(g.tile_expert.size()), moe_max_tiles(n_slots, n_expert));
  const auto row_of = [](const std::vector<std::uint8_t>& m, std::int64_t ne0, std::int64_t j) {
    std::vector<float> f(static_cast<std::size_t>(ne0));
    quant::dequantize_row(GgmlType::kMXFP4, m.data() + j * quant::row_size(GgmlType::kMXFP4, ne0),
                          f.data(), ne0);
    return f;
  };
  std::vector<float> h(static_cast<std::size_t>(n_slots * ff)),
      y(static_cast<std::size_t>(n_slots * d));
  for (std::size_t t = 0; t < g.tile_expert.size(); ++t) {
    const int e = g.tile_expert[t];
    for (int j = 0; j < ff; ++j) {
      const auto gr = row_of(gate, d, e * ff + j), ur = row_of(up, d, e * ff + j);
      for (int i = 0; i < g.tile_count[t]; ++i) {
        const std::int32_t s = g.slots[static_cast<std::size_t>(std::int64_t{g.tile_begin[t]} + i)];
        const float* xr = x.data + (s / k) * x.stride;
        double gs = 0.0, us = 0.0;
        for (std::int64_t c = 0; c < d; ++c) {
          gs += static_cast<double>(gr[static_cast<std::size_t>(c)]) * xr[c];
          us += static_cast<double>(ur[static_cast<std::size_t>(c)]) * xr[c];
        }
        h[static_cast<std::size_t>(std::int64_t{s} * ff + j)] =
            moe_expert_act(MoeAct::kSwigluOai, add_rn(static_cast<float>(gs), gate_b[e * ff + j]),
                           add_rn(static_cast<float>(us), up_b[e * ff + j]), act.alpha, act.limit);
      }
    }
  }
  for (std::size_t t = 0; t < g.tile_expert.size(); ++t) {
    const int e = g.tile_expert[t];
    for (std::int64_t j = 0; j < d; ++j) {
      const auto dr = row_of(down, ff, e * d + j);
      for (int i = 0; i < g.tile_count[t]; ++i) {
        const std::int32_t s = g.slots[static_cast<std::size_t>(std::int64_t{g.tile_begin[t]} + i)];
        double ys = 0.0;
        for (int c = 0; c < ff; ++c)
          ys += static_cast<double>(dr[static_cast<std::size_t>(c)]) *
                h[static_cast<std::size_t>(std::int64_t{s} * ff + c)];
        y[static_cast<std::size_t>(s * d + j)] = add_rn(static_cast<float>(ys), down_b[e * d + j]);
      }
    }
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < d; ++c) {
      float o = 0.0f;
      for (int j = 0; j < k; ++j) {
        o = std::fma(wt.data[r * wt.stride + j], y[static_cast<std::size_t>((r * k + j) * d + c)],
                     o);
      }
      const double ref = out.data[r * out.stride + c];
      ASSERT_TRUE(std::isfinite(o));
      ASSERT_LE(std::fabs(o - ref), 1e-4 + 1e-4 * std::fabs(ref)) << "row " << r << " col " << c;
    }
  }
}

}  // namespace
}  // namespace zinfer::cuda
