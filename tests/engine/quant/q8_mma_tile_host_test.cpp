// The staged Q16 tile kernel's body (kernels/q8_mma_tile.cuh) run on the CPU: every thread of
// every block of the grid emulated (cuda_block_emulator.h: fibers, barriers, deferred cp.async
// copies, the warp's mma from the PTX fragment layout), every output held bit for bit to
// mma_reference — the order every tensor-core kernel follows — and stored exactly once; every
// asynchronous copy reads inside the weight or activation buffers. Covers each weight type,
// each tile shape (64 or 128 weight rows, 8, 16, 32 or 64 activation rows, the gated product with a
// different up matrix), partial tiles in both directions, a partial last stage (K = 896 with
// the 32-element blocks), parts ending inside a stage, and weight rows whose bytes start off
// 16-byte alignment (Q6_K, and the legacy types at K = 896). Runs without a GPU;
// tests/kernels/q8_mma_test runs the kernel itself.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/ggml_type.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_tile.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"
#include "tests/engine/quant/mma_host_check.h"

namespace zinfer::cuda::q8mma {
namespace {

// The context of one emulated thread, with the copies' bounds checked.
struct HostCtx : HostBlockCtx {
  const std::vector<const Aligned*>* buffers;  // where copies may read
  int* bad_copies;

  void cp16(void* dst, const void* src) const {
    const auto* s = static_cast<const std::uint8_t*>(src);
    bool inside = reinterpret_cast<std::uintptr_t>(s) % 16 == 0;
    bool found = false;
    for (const Aligned* b : *buffers) found = found || (s >= b->p && s + 16 <= b->p + b->size);
    if (!inside || !found) ++*bad_copies;
    e->cp16(tid, dst, src);
  }
  void mma_k32(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) const {
    e->mma(tid, true, c, a, b0, b1);
  }
  void mma_k16(int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0) const {
    e->mma(tid, false, c, a, b0, 0);
  }
};

// split: the tiles split over K (a grid of blocks per part, p.only_part), each part's sums
// stored once, then added in part order as q8_mma_tile.cu's part-sum kernel does.
template <GgmlType T, int RF, int CW, bool kGated, int NT = 4>
void check_tiles(std::int64_t k, std::int64_t ne1, std::int64_t rows, std::uint64_t seed,
                 bool split = false) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " RF=" + std::to_string(RF) +
               " CW=" + std::to_string(CW) + " NT=" + std::to_string(NT) +
               (kGated ? " gated" : "") + " k=" + std::to_string(k) +
               " ne1=" + std::to_string(ne1) + " rows=" + std::to_string(rows));
  using S = TileShape<T, RF, CW, kGated, NT>;
  const std::size_t rs = quant::row_size(T, k);
  Aligned w0(rs * static_cast<std::size_t>(ne1)), w1(w0.size);
  fill_weights<T>(w0.p, k, ne1, seed);
  fill_weights<T>(w1.p, k, ne1, seed + 1);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const Aligned act = act_rows<T>(layout, rows, seed);
  const MmaArgs a = host_args<T>(act, layout, rows, w0.p, w1.p, ne1);
  const std::vector<const Aligned*> buffers = {&w0, &w1, &act};
  int bad_copies = 0;
  auto run_grid = [&](const MmaArgs& args, Outputs& out) {
    for (std::int64_t by = 0; by < (ne1 + S::kRows - 1) / S::kRows; ++by) {
      for (std::int64_t bx = 0; bx < (rows + S::kCols - 1) / S::kCols; ++bx) {
        testing::BlockEmulator e(S::kThreads, S::kSmemBytes);
        std::memset(e.smem(), 0x5a, S::kSmemBytes);
        e.run([&](int tid) {
          HostCtx c{{&e, tid, bx, by, &out}, &buffers, &bad_copies};
          tile_body<T, RF, CW, kGated, NT>(args, c);
        });
      }
    }
  };
  Outputs out(rows, ne1);
  if (!split) {
    run_grid(a, out);
  } else {
    ASSERT_GT(a.parts, 1);
    for (int q = 0; q < a.parts; ++q) {
      MmaArgs one = a;
      one.only_part = q;
      Outputs part(rows, ne1);
      run_grid(one, part);
      for (std::size_t i = 0; i < part.v0.size(); ++i) {
        ASSERT_EQ(part.stores[i], 1) << "part " << q << " output " << i;
        out.v0[i] = q == 0 ? part.v0[i] : q8::fadd(out.v0[i], part.v0[i]);
        out.v1[i] = q == 0 ? part.v1[i] : q8::fadd(out.v1[i], part.v1[i]);
      }
    }
    for (int& n : out.stores) n = 1;
  }
  EXPECT_EQ(bad_copies, 0);
  expect_reference_outputs<T>(out, a, kGated);
}

// Three matrices as one Q/K/V stack (HostStack: 40, 8 and 24 rows, so 64-row tiles straddle
// them), whole or split over K: row j of the output is row j of the concatenated matrices.
template <GgmlType T, int NT>
void check_stack(std::int64_t k, std::int64_t rows, std::uint64_t seed, bool split) {
  SCOPED_TRACE(std::string(quant::type_name(T)) + " stack NT=" + std::to_string(NT) + " k=" +
               std::to_string(k) + " rows=" + std::to_string(rows) + (split ? " split" : ""));
  using S = TileShape<T, 1, 1, false, NT>;
  const HostStack<T> st(k, seed);
  const q8::Q8ActLayout layout = q8::q16_act_layout(k);
  const Aligned act = act_rows<T>(layout, rows, seed);
  MmaArgs a = host_args<T>(act, layout, rows, st.all.p, st.all.p, 0);
  st.apply(a);
  std::vector<const Aligned*> buffers = {&act};
  for (const Aligned& w : st.ws) buffers.push_back(&w);
  int bad_copies = 0;
  Outputs out(rows, a.ne1);
  for (int q = 0; q < (split ? a.parts : 1); ++q) {
    MmaArgs one = a;
    one.only_part = split ? q : -1;
    Outputs part(rows, a.ne1);
    for (std::int64_t by = 0; by < (a.ne1 + S::kRows - 1) / S::kRows; ++by) {
      for (std::int64_t bx = 0; bx < (rows + S::kCols - 1) / S::kCols; ++bx) {
        testing::BlockEmulator e(S::kThreads, S::kSmemBytes);
        e.run([&](int tid) {
          HostCtx c{{&e, tid, bx, by, &part}, &buffers, &bad_copies};
          tile_body<T, 1, 1, false, NT>(one, c);
        });
      }
    }
    for (std::size_t i = 0; i < part.v0.size(); ++i) {
      ASSERT_EQ(part.stores[i], 1) << "part " << q << " output " << i;
      out.v0[i] = q == 0 ? part.v0[i] : q8::fadd(out.v0[i], part.v0[i]);
      out.v1[i] = out.v0[i];
    }
  }
  for (int& n : out.stores) n = 1;
  EXPECT_EQ(bad_copies, 0);
  expect_reference_outputs<T>(out, st.reference(a), false);
}

template <GgmlType T>
void check_type(std::uint64_t seed) {
  // 32-element blocks: K = 896 (28 blocks: 3.5 stages, 7 parts of 4 blocks); K-quants: 768
  // (3 super-blocks, 3 parts). Q6_K rows (630 bytes) and the legacy rows at 896 start off
  // 16-byte alignment.
  const std::int64_t k = MmaTraits<T>::kBlockElems == 256 ? 768 : 896;
  check_tiles<T, 1, 1, false>(k, 77, 37, seed);
  check_tiles<T, 2, 2, false>(k, 150, 70, seed + 10);
  check_tiles<T, 1, 2, true>(k, 70, 66, seed + 20);
  // Split over K: parts ending inside a stage (896), the legacy types' partial last stage.
  check_tiles<T, 1, 1, false>(k, 40, 9, seed + 30, true);
  check_tiles<T, 1, 1, true>(k, 20, 33, seed + 40, true);
  // The small-batch tiles: 16 columns (13 rows: a partial tile) and 8 (5 and 7 rows; an
  // 8-column tile has fewer (scale, daq) pairs a stage than the block has threads).
  check_tiles<T, 2, 1, false, 2>(k, 150, 13, seed + 50);
  check_tiles<T, 1, 1, true, 1>(k, 70, 5, seed + 60);
  check_tiles<T, 1, 1, false, 1>(k, 40, 7, seed + 70, true);
  check_tiles<T, 1, 1, true, 2>(k, 20, 16, seed + 80, true);
  // 32 columns as two warp-columns of two 8-column tiles (ZINFER_TILE_NT2).
  check_tiles<T, 1, 2, true, 2>(k, 70, 29, seed + 90);
  check_tiles<T, 2, 2, false, 2>(k, 150, 32, seed + 100, true);
  // Q, K and V as one launch, whole and split over K.
  check_stack<T, 2>(k, 13, seed + 110, false);
  check_stack<T, 1>(k, 6, seed + 120, true);
}

ZINFER_MMA_TYPE_TESTS(Q8MmaTileHost, check_type)

// The emulator itself: a barrier that only some threads reach is reported, not hung.
TEST(Q8MmaTileHost, EmulatorReportsADeadlock) {
  testing::BlockEmulator e(64, 16);
  EXPECT_THROW(e.run([&](int tid) {
    if (tid < 32) e.sync();
  }),
               std::runtime_error);
}

}  // namespace
}  // namespace zinfer::cuda::q8mma
