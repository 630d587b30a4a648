// The prompt attention kernel's body (kernels/prompt_attention.cuh) run on the CPU: every thread
// of every block emulated (cuda_block_emulator.h: fibers switched at barriers, the warp's
// mma.sync from the PTX fragment layout, summed in double and rounded once, and __shfl_sync).
// What this catches without a GPU: the fragment addressing of S = Q·Kᵀ and O += P·V, the
// staging of keys and transposed values (the pipelined path at head size 64, the batched one
// above; a head size of 70, padded to 128 with rows not in float4s), masking, windows, the
// online softmax and the sinks.
//
// Three sequences (150, 45 and 70 prompt tokens) in a paged f32 cache with shuffled blocks, each
// token's q, k and v fixed by its sequence and position. Schedule A computes every prompt row in
// one launch; schedule B in four launches of other chunks (19 + 64 + 67 rows: query tiles cut at
// other rows) beside other sequences. Held: every row bitwise the same under A and B (batch and
// chunk invariance), and within 1e-2 of cpu::f16_tile_attention — the numerics the CPU backend
// computes (the emulated mma sums exactly, the CPU in sequence: a probability near an fp16
// rounding boundary may round the other way, at most 2^-10 · max |v| ≈ 8e-3 here).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu/f16_tile_attention.h"
#include "engine/quant/fp16.h"
#include "kernels/prompt_attention.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"

namespace zinfer::cuda::prompt_attn {
namespace {

struct HostCtx {
  testing::BlockEmulator* e;
  int tid, tile_, head_;
  int thread() const { return tid; }
  int tile() const { return tile_; }
  int head() const { return head_; }
  std::uint8_t* smem() const { return e->smem(); }
  void sync() const { e->sync(); }
  float shfl_xor(float v, int mask) const { return e->shfl(tid, v, (tid & 31) ^ mask); }
  void mma_f16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
               std::uint32_t b1) const {
    e->mma_f16(tid, d, a, b0, b1, &quant::fp16_to_f32);
  }
};

struct Case {
  std::string name;
  std::int32_t n_head, n_head_kv, head_dim, window;
  float softcap;
  bool sinks;
};

constexpr std::int32_t kBlockSize = 16, kBlocks = 24;
const std::int32_t kLengths[3] = {150, 45, 70};

// A chunk of one launch: prompt rows [start, start + n) of a sequence.
struct Chunk {
  std::int32_t seq, start, n;
};

class Problem {
 public:
  explicit Problem(const Case& c) : c_(c), dkv_(c.n_head_kv * c.head_dim) {
    std::vector<std::int32_t> free(kBlocks);
    std::iota(free.begin(), free.end(), 0);
    std::shuffle(free.begin(), free.end(), std::mt19937(3));
    const auto slots = static_cast<std::size_t>(kBlocks) * kBlockSize;
    k_.assign(slots * static_cast<std::size_t>(dkv_), 0.0f);
    v_ = k_;
    for (int s = 0; s < 3; ++s) {
      for (std::int32_t b = 0; b * kBlockSize < kLengths[s]; ++b) {
        tables_[s].push_back(free.back());
        free.pop_back();
      }
      for (std::int32_t pos = 0; pos < kLengths[s]; ++pos) {
        const auto t = token(s, pos);
        const auto at = static_cast<std::ptrdiff_t>(slot(s, pos)) * dkv_;
        std::copy(t.begin() + dq(), t.begin() + dq() + dkv_, k_.begin() + at);
        std::copy(t.begin() + dq() + dkv_, t.end(), v_.begin() + at);
      }
    }
    sinks_.resize(static_cast<std::size_t>(c.n_head));
    std::mt19937 rng(77);
    std::normal_distribution<float> dist(0.0f, 2.0f);
    for (float& x : sinks_) x = dist(rng);
    sinks_[0] = 12.0f;
  }

  std::int32_t dq() const { return c_.n_head * c_.head_dim; }
  // q | k | v of a token; std 2 (peaky scores).
  std::vector<float> token(int seq, std::int32_t pos) const {
    std::mt19937 rng(static_cast<std::uint32_t>(1000003 * seq + 7 * pos + 17));
    std::normal_distribution<float> dist(0.0f, 2.0f);
    std::vector<float> t(static_cast<std::size_t>(dq() + 2 * dkv_));
    for (float& x : t) x = dist(rng);
    return t;
  }
  std::int32_t slot(int seq, std::int32_t pos) const {
    return tables_[seq][static_cast<std::size_t>(pos / kBlockSize)] * kBlockSize + pos % kBlockSize;
  }

  // One emulated launch over the chunks: each row's output by (sequence, position).
  void launch(const std::vector<Chunk>& chunks,
              std::map<std::pair<int, int>, std::vector<float>>& rows) const {
    std::vector<float> q;
    std::vector<std::int32_t> positions, bt_offsets, tables, tiles;
    std::int32_t row = 0;
    for (const Chunk& ch : chunks) {
      const auto bt = static_cast<std::int32_t>(tables.size());
      tables.insert(tables.end(), tables_[ch.seq].begin(), tables_[ch.seq].end());
      for (std::int32_t r = 0; r < ch.n; r += kRows) {
        tiles.push_back(row + r);
        tiles.push_back(std::min(kRows, ch.n - r));
      }
      for (std::int32_t t = 0; t < ch.n; ++t, ++row) {
        const auto tok = token(ch.seq, ch.start + t);
        q.insert(q.end(), tok.begin(), tok.begin() + dq());
        positions.push_back(ch.start + t);
        bt_offsets.push_back(bt);
      }
    }
    std::vector<float> out(q.size(), NAN);
    Params p;
    p.out = out.data();
    p.out_stride = dq();
    p.q = q.data();
    p.q_stride = dq();
    p.k_cache = k_.data();
    p.v_cache = v_.data();
    p.positions = positions.data();
    p.bt_offsets = bt_offsets.data();
    p.block_tables = tables.data();
    p.block_size = kBlockSize;
    p.n_head = c_.n_head;
    p.n_head_kv = c_.n_head_kv;
    p.head_dim = c_.head_dim;
    p.window = c_.window;
    p.scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    p.softcap = c_.softcap;
    p.sinks = c_.sinks ? sinks_.data() : nullptr;
    p.tiles = tiles.data();
    const int n_tiles = static_cast<int>(tiles.size() / 2);
    for (int tile = 0; tile < n_tiles; ++tile) {
      for (int h = 0; h < c_.n_head; ++h) {
        if (c_.head_dim <= 64) {
          run<64>(p, tile, h);
        } else if (c_.head_dim <= 128) {
          run<128>(p, tile, h);
        } else {
          run<256>(p, tile, h);
        }
      }
    }
    row = 0;
    for (const Chunk& ch : chunks) {
      for (std::int32_t t = 0; t < ch.n; ++t, ++row) {
        const auto at = static_cast<std::ptrdiff_t>(row) * dq();
        rows[{ch.seq, ch.start + t}].assign(out.begin() + at, out.begin() + at + dq());
      }
    }
  }

  // cpu::f16_tile_attention of a row (all heads).
  std::vector<float> cpu_row(int seq, std::int32_t pos) const {
    const auto tok = token(seq, pos);
    const std::int32_t first = c_.window > 0 ? std::max(0, pos - c_.window + 1) : 0;
    model::AttnParams ap;
    ap.n_head = c_.n_head;
    ap.n_head_kv = c_.n_head_kv;
    ap.head_dim = c_.head_dim;
    ap.scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim));
    ap.window = c_.window;
    ap.softcap = c_.softcap;
    std::vector<float> out(static_cast<std::size_t>(dq()));
    for (std::int32_t h = 0; h < c_.n_head; ++h) {
      const std::int32_t kvh = h / (c_.n_head / c_.n_head_kv);
      std::vector<const float*> kr, vr;
      for (std::int32_t j = first; j <= pos; ++j) {
        const std::size_t at = static_cast<std::size_t>(slot(seq, j)) * dkv_ +
                               static_cast<std::size_t>(kvh) * c_.head_dim;
        kr.push_back(k_.data() + at);
        vr.push_back(v_.data() + at);
      }
      cpu::f16_tile_attention(tok.data() + static_cast<std::ptrdiff_t>(h) * c_.head_dim, kr, vr,
                              first, pos, ap,
                              c_.sinks ? sinks_[static_cast<std::size_t>(h)] : -INFINITY,
                              out.data() + static_cast<std::ptrdiff_t>(h) * c_.head_dim);
    }
    return out;
  }

 private:
  template <int DP>
  static void run(const Params& p, int tile, int h) {
    testing::BlockEmulator e(kThreads, Layout<DP>::kBytes);
    e.run([&](int tid) {
      HostCtx x{&e, tid, tile, h};
      prompt_attention_body<DP>(p, x);
    });
  }

  Case c_;
  std::int32_t dkv_;
  std::vector<std::int32_t> tables_[3];
  std::vector<float> k_, v_, sinks_;
};

class PromptAttentionHost : public ::testing::TestWithParam<Case> {};

TEST_P(PromptAttentionHost, MatchesTheCpuNumericsAndKeepsBitsAcrossChunks) {
  const Case& c = GetParam();
  const Problem pr(c);
  std::map<std::pair<int, int>, std::vector<float>> a, b;
  pr.launch({{0, 0, 150}, {1, 0, 45}, {2, 0, 70}}, a);
  pr.launch({{0, 0, 19}}, b);
  pr.launch({{0, 19, 64}, {1, 0, 45}}, b);
  pr.launch({{2, 0, 33}, {0, 83, 67}}, b);
  pr.launch({{2, 33, 37}}, b);
  ASSERT_EQ(a.size(), 265u);
  ASSERT_EQ(b.size(), a.size());
  double worst = 0.0;
  for (const auto& [key, x] : a) {
    const std::vector<float>& y = b.at(key);
    const std::string where = c.name + " sequence " + std::to_string(key.first) + " position " +
                              std::to_string(key.second);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0)
        << where << ": the bits changed with the chunking or the batch";
    const std::vector<float> want = pr.cpu_row(key.first, key.second);
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(x[i])) << where << " output " << i;
      const double d = std::fabs(static_cast<double>(x[i]) - want[i]);
      worst = std::max(worst, d);
      EXPECT_LE(d, 1e-2 + 1e-2 * std::fabs(want[i])) << where << " output " << i;
    }
  }
  std::printf("[ measured ] %s: emulated kernel - CPU at most %.2e\n", c.name.c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Geometries, PromptAttentionHost,
                         ::testing::Values(Case{"gqa_4x2_d64", 4, 2, 64, 0, 0.0f, false},
                                           Case{"d80_window40_softcap5", 2, 1, 80, 40, 5.0f, false},
                                           Case{"d256_sinks", 2, 2, 256, 0, 0.0f, true},
                                           Case{"d70_rows_not_float4", 2, 1, 70, 0, 0.0f, false}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace zinfer::cuda::prompt_attn
