// Staged tensor-core tiles for prompt-sized batches with Q16 activations (q8_mma_tile.cu): the
// body of q8_mma_tile_kernel, written once against a thread context so the CPU tests run the
// same code (tests/engine/quant/q8_mma_tile_host_test.cpp emulates a block's threads, its
// barriers, the asynchronous copies and the warp's mma from the PTX fragment layout).
//
// A block computes kRows weight rows (per matrix; two matrices for the gated product) × kCols
// activation rows. K is walked in stages of 256 elements (one K-quant super-block, or eight
// legacy blocks): the stage's weight bytes of the block's rows and the hi/lo quant planes of
// its activation rows are copied into shared memory with cp.async (16-byte pieces, double
// buffered: the next stage is in flight while this one is multiplied), and each activation
// row's per-32 scale and da·Σq (q16_daq) are staged beside them as floats. Warps are kTileRowWarps
// (16·RF weight rows each) × CW (8·NT activation rows each, NT 8-column mma tiles: four, or two
// and one for small batches, where 32 columns would multiply padding); every
// fragment is read from shared memory (row strides chosen so a warp's 4-byte loads hit 32
// different banks).
//
// Every output follows the order of q8_mma.cuh (one float term per 32-element unit, added in
// K order within a part, the parts added in order), computed with the same *_term_q16f steps:
// the same bits as the other kernels and mma_reference, for any batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::q8mma {

inline constexpr int kTileStageElems = 256;
inline constexpr int kTileRowWarps = 4;
inline constexpr int kTileUnits = kTileStageElems / 32;  // 32-element units a stage
// One staged activation row: hi plane (256 bytes), lo plane (256), 16 bytes of padding — 33
// pieces of 16 bytes: an odd count, so the 8 rows × 4 words of a B fragment load hit 32 banks.
inline constexpr int kTileActStride = 528;

ZINFER_HD std::int64_t tile_min(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

// One weight row's part of a stage: kG blocks (kStageBytes), copied from the row's 16-byte-
// aligned start — so it begins where its bytes sit past 16-byte alignment in global memory (0
// when the block size is a multiple of 16, else up to kMaxSkew = 14: the same alignment as the
// global row, so loads that were valid there stay valid) and spans kSpan bytes, whole 16-byte
// pieces. Shared by these tiles and the fp16 ones (f16_mma.cu).
template <GgmlType T>
struct StageRow {
  using Tr = MmaTraits<T>;
  static constexpr int kG = kTileStageElems / Tr::kBlockElems;  // weight blocks a stage
  static constexpr int kStageBytes = kG * Tr::kBlockBytes;
  static constexpr int kMaxSkew = Tr::kBlockBytes % 16 == 0 ? 0 : 14;
  static constexpr int kSpan = (kStageBytes + kMaxSkew + 15) / 16 * 16;
};

template <GgmlType T, int RF, int CW, bool kGated, int NT = 4>
struct TileShape {
  using Tr = MmaTraits<T>;
  static constexpr int kM = kGated ? 2 : 1;  // matrices
  static constexpr int kRows = 16 * RF * kTileRowWarps;
  static constexpr int kCols = 8 * NT * CW;
  static constexpr int kThreads = 32 * kTileRowWarps * CW;
  static constexpr int kG = StageRow<T>::kG;
  static constexpr int kStageBytes = StageRow<T>::kStageBytes;
  static constexpr int kSpan = StageRow<T>::kSpan;  // a staged row (StageRow)
  static constexpr int kWStride = (kSpan / 16) % 2 == 1 ? kSpan : kSpan + 16;  // odd pieces
  static constexpr std::size_t kWBytes = static_cast<std::size_t>(kM) * kRows * kWStride;
  static constexpr std::size_t kABytes = static_cast<std::size_t>(kCols) * kTileActStride;
  static constexpr std::size_t kBufBytes = kWBytes + kABytes;
  static constexpr std::size_t kScBytes = static_cast<std::size_t>(kTileUnits) * kCols * 8;
  // Two buffers of weights + activations, two of (scale, daq) pairs.
  static constexpr std::size_t kSmemBytes = 2 * kBufBytes + 2 * kScBytes;
  static_assert(kWBytes % 16 == 0 && kABytes % 16 == 0, "16-byte aligned regions");
};

// Four floats at p (16-byte aligned).
ZINFER_HD void ld_f4(const float* p, float (&v)[4]) {
#ifdef __CUDA_ARCH__
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[0] = q.x;
  v[1] = q.y;
  v[2] = q.z;
  v[3] = q.w;
#else
  for (int i = 0; i < 4; ++i) v[i] = p[i];
#endif
}

// The lane's view of one stage: weight rows g / g + 8 of each row fragment (staged, skew
// applied), its B column of each 8-column tile, and the (scale, daq) pairs of its C
// columns 2t, 2t + 1 of each tile (unit 0; unit u is u · kCols · 2 floats further).
template <int kM, int RF, int NT>
struct TileLane {
  const std::uint8_t* w[kM][RF][2];
  const std::uint8_t* b[NT];
  const float* sc[NT];
  int sc_unit;  // floats from one unit's pairs to the next
  int t;
};

// f(m, rf) for each matrix and row fragment of the lane.
template <int kM, int RF, typename F>
ZINFER_HD void each_frag(F f) {
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) {
    ZINFER_UNROLL
    for (int rf = 0; rf < RF; ++rf) f(m, rf);
  }
}

// The lane's weight block heads (rows g, g + 8 of each matrix and row fragment).
template <typename Tr, typename Head, int kM, int RF, int NT>
ZINFER_HD void tile_heads(Head (&h)[kM][RF][2], const TileLane<kM, RF, NT>& l, int bi) {
  each_frag<kM, RF>([&](int m, int rf) {
    h[m][rf][0] = Tr::head(l.w[m][rf][0], bi);
    h[m][rf][1] = Tr::head(l.w[m][rf][1], bi);
  });
}

// The lane's A fragments of sub-block s of block bi.
template <typename Tr, int kM, int RF, int NT>
ZINFER_HD void tile_frags(std::uint32_t (&a)[kM][RF][4], const TileLane<kM, RF, NT>& l, int bi,
                          int s) {
  each_frag<kM, RF>([&](int m, int rf) {
    Tr::words(l.w[m][rf][0], bi, s, l.t, a[m][rf][0], a[m][rf][2]);
    Tr::words(l.w[m][rf][1], bi, s, l.t, a[m][rf][1], a[m][rf][3]);
  });
}

// v0 / v1 of each of the lane's rows: f0 / f1 of its block head.
template <typename Head, int kM, int RF, typename F0, typename F1>
ZINFER_HD void tile_row_scales(float (&v0)[kM][RF][2], float (&v1)[kM][RF][2],
                               const Head (&h)[kM][RF][2], F0 f0, F1 f1) {
  each_frag<kM, RF>([&](int m, int rf) {
    ZINFER_UNROLL
    for (int r = 0; r < 2; ++r) {
      v0[m][rf][r] = f0(h[m][rf][r]);
      v1[m][rf][r] = f1(h[m][rf][r]);
    }
  });
}

// The B words of the lane's column of tile nt at stage element e: hi b0, b1, lo b0, b1.
template <int kM, int RF, int NT>
ZINFER_HD void tile_b_words(const TileLane<kM, RF, NT>& l, int nt, int e, std::uint32_t (&bw)[4]) {
  const std::uint8_t* c = l.b[nt] + e + 4 * l.t;
  bw[0] = q8::ld_u32(c);
  bw[1] = q8::ld_u32(c + 16);
  bw[2] = q8::ld_u32(c + 256);
  bw[3] = q8::ld_u32(c + 256 + 16);
}

// acc += term(m, rf, r, da, isum, daq) of one 32-element unit with k32 sub-blocks (fragments
// a), for every tile: r = 0 / 1 the lane's row g / g + 8, da and daq its column's (q16_daq).
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <int kM, int RF, int NT, typename Ctx, typename Term>
ZINFER_HD void tile_unit_k32(float (&acc)[kM][RF][NT][4], const TileLane<kM, RF, NT>& l,
                             const std::uint32_t (&a)[kM][RF][4], int unit, Ctx& x, Term term) {
  ZINFER_UNROLL
  for (int nt = 0; nt < NT; ++nt) {
    std::uint32_t bw[4];
    tile_b_words(l, nt, 32 * unit, bw);
    float sa[4];  // da, daq of column 2t; da, daq of column 2t + 1
    ld_f4(l.sc[nt] + l.sc_unit * unit, sa);
    each_frag<kM, RF>([&](int m, int rf) {
      int c[4], cl[4];
      x.mma_k32(c, a[m][rf], bw[0], bw[1]);
      x.mma_k32(cl, a[m][rf], bw[2], bw[3]);
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) {
        const float v =
            term(m, rf, i >> 1, sa[2 * (i & 1)], 256 * c[i] + cl[i], sa[2 * (i & 1) + 1]);
        acc[m][rf][nt][i] = fadd(acc[m][rf][nt][i], v);
      }
    });
  }
}

// acc[m][rf][nt][i] += the unit terms of weight block bi of the stage (all its units, in
// order), for Q16 activations: c = A·hi and cl = A·lo, isum = 256·c + cl, exact.
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, int kM, int RF, int NT, typename Ctx>
ZINFER_HD void tile_block(float (&acc)[kM][RF][NT][4], const TileLane<kM, RF, NT>& l, int bi,
                          Ctx& x) {
  using Tr = MmaTraits<T>;
  constexpr Family kFam = family<T>();
  if constexpr (kFam == Family::kLegacy) {
    LegacyHead h[kM][RF][2];
    std::uint32_t a[kM][RF][4];
    tile_heads<Tr>(h, l, bi);
    tile_frags<Tr>(a, l, bi, 0);
    tile_unit_k32(acc, l, a, bi, x, [&](int m, int rf, int r, float da, int isum, float daq) {
      return legacy_term_q16f(h[m][rf][r], Tr::kMin, da, isum, daq);
    });
  } else if constexpr (kFam == Family::kK4) {
    K4Head h[kM][RF][2];
    tile_heads<Tr>(h, l, bi);
    ZINFER_UNROLL
    for (int s = 0; s < 8; ++s) {
      std::uint32_t a[kM][RF][4];
      tile_frags<Tr>(a, l, bi, s);
      float dsc[kM][RF][2], dmn[kM][RF][2];
      tile_row_scales(
          dsc, dmn, h, [&](const K4Head& w) { return k4_dsc(w, s); },
          [&](const K4Head& w) { return k4_dmn(w, s); });
      tile_unit_k32(acc, l, a, s, x, [&](int m, int rf, int r, float da, int isum, float daq) {
        return k4_term_q16f(dsc[m][rf][r], dmn[m][rf][r], da, isum, daq);
      });
    }
  } else {  // Q6_K: unit g is sub-blocks 2g (elements 32g..) and 2g + 1 (32g + 16..), k16 each
    Q6Head h[kM][RF][2];
    tile_heads<Tr>(h, l, bi);
    ZINFER_UNROLL
    for (int g = 0; g < 8; ++g) {
      std::uint32_t a0[kM][RF][4], a1[kM][RF][4];
      tile_frags<Tr>(a0, l, bi, 2 * g);
      tile_frags<Tr>(a1, l, bi, 2 * g + 1);
      float ds0[kM][RF][2], ds1[kM][RF][2];
      tile_row_scales(
          ds0, ds1, h, [&](const Q6Head& w) { return q6_ds(w, 2 * g); },
          [&](const Q6Head& w) { return q6_ds(w, 2 * g + 1); });
      ZINFER_UNROLL
      for (int nt = 0; nt < NT; ++nt) {
        // k16 B words: sub-block 2g's at 32g + 4t (b0 of the k32 view), 2g + 1's at +16 (b1).
        std::uint32_t bw[4];
        tile_b_words(l, nt, 32 * g, bw);
        float sa[4];
        ld_f4(l.sc[nt] + l.sc_unit * g, sa);
        each_frag<kM, RF>([&](int m, int rf) {
          int h0[4], l0[4], h1[4], l1[4];
          x.mma_k16(h0, a0[m][rf], bw[0]);
          x.mma_k16(l0, a0[m][rf], bw[2]);
          x.mma_k16(h1, a1[m][rf], bw[1]);
          x.mma_k16(l1, a1[m][rf], bw[3]);
          ZINFER_UNROLL
          for (int i = 0; i < 4; ++i) {
            const int r = i >> 1;
            const float term = q6_term_q16f(ds0[m][rf][r], ds1[m][rf][r], sa[2 * (i & 1)],
                                            256 * h0[i] + l0[i], 256 * h1[i] + l1[i]);
            acc[m][rf][nt][i] = fadd(acc[m][rf][nt][i], term);
          }
        });
      }
    }
  }
}

// The kernel body, run by each of the block's S::kThreads threads (with only_part >= 0 the
// sums of that part of K alone: the tiles split over K, whose parts' sums another kernel adds
// in part order — the same bits). A plain product may be a Q/K/V stack (p.n_stack > 1: each
// weight row read from the matrix holding it, every matrix 16-byte aligned; the outputs go
// through the store, which knows the stack). Ctx provides: thread(),
// block_x() (activation-row tile), block_y() (weight-row tile), smem() (S::kSmemBytes, 16-byte
// aligned), sync() (__syncthreads), cp16(dst, src) (an asynchronous 16-byte copy), commit(),
// wait_prior() (all copies but the last committed group have landed), wait_all(),
// mma_k32 / mma_k16 (mma.sync.m16n8k32 / k16 .s8 on this lane's fragments, C = 0) and
// store(n, j, v0, v1) (output j of activation row n: v0 of matrix 0, v1 of the last).
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, int RF, int CW, bool kGated, int NT = 4, typename Ctx>
ZINFER_HD void tile_body(const MmaArgs& p, Ctx& x, int only_part) {
  using S = TileShape<T, RF, CW, kGated, NT>;
  using Tr = MmaTraits<T>;
  constexpr int kM = S::kM;
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const int rw = warp % kTileRowWarps, cw = warp / kTileRowWarps;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t jb = x.block_y() * S::kRows;
  const std::int64_t nbase = x.block_x() * S::kCols;
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;
  const std::int64_t units = p.layout.k / 32;
  // The weight blocks this block walks: all of K, or one part's (only_part) — then the stages
  // holding them, and its output is that part's sum alone.
  const bool one_part = only_part >= 0;
  const std::int64_t kb_begin = one_part ? part_begin(nb, p.parts, only_part) : 0;
  const std::int64_t kb_end = one_part ? part_begin(nb, p.parts, only_part + 1) : nb;
  const std::int64_t st_begin = kb_begin / S::kG;
  const std::int64_t st_end = (kb_end + S::kG - 1) / S::kG;
  std::uint8_t* smem = x.smem();
  auto* sc = reinterpret_cast<float*>(smem + 2 * S::kBufBytes);  // [2][units][kCols][2]
  auto w_stage = [&](int buf, int m, int r) {
    return smem + static_cast<std::size_t>(buf) * S::kBufBytes +
           static_cast<std::size_t>(m * S::kRows + r) * S::kWStride;
  };
  auto a_stage = [&](int buf, int c) {
    return smem + static_cast<std::size_t>(buf) * S::kBufBytes + S::kWBytes +
           static_cast<std::size_t>(c) * kTileActStride;
  };
  // Block b0 of weight row r (block-local, clamped to the last row) of matrix m: its matrix's
  // bytes (16-byte aligned; a Q/K/V stack's rows each in their own matrix) and its offset there.
  struct WSrc {
    const std::uint8_t* base;
    std::size_t bytes, off;
  };
  auto w_src = [&](int m, int r, std::int64_t b0) {
    const std::int64_t row = tile_min(jb + r, p.ne1 - 1);
    std::int64_t first = 0, rows = p.ne1;
    const std::uint8_t* base = p.w[m];
    if (p.n_stack > 1) {  // (constant indices: a run-time one would copy p to local memory)
      const int st = stack_matrix(p.stack_end, p.n_stack, row);
      first = st == 0 ? 0 : (st == 1 ? p.stack_end[0] : p.stack_end[1]);
      rows = (st == 0 ? p.stack_end[0] : (st == 1 ? p.stack_end[1] : p.stack_end[2])) - first;
      base = st == 0 ? p.stack[0] : (st == 1 ? p.stack[1] : p.stack[2]);
    }
    return WSrc{base, p.row_bytes * static_cast<std::size_t>(rows),
                static_cast<std::size_t>(row - first) * p.row_bytes +
                    static_cast<std::size_t>(b0) * Tr::kBlockBytes};
  };

  // Issues the copies of stage st into buffer buf (nothing waits for them here).
  auto stage_copy = [&](std::int64_t st, int buf) {
    const std::int64_t b0 = st * S::kG;
    const int bytes = static_cast<int>(tile_min(S::kG, nb - b0)) * Tr::kBlockBytes;
    constexpr int kPieces = S::kWStride / 16;
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      for (int idx = tid; idx < S::kRows * kPieces; idx += S::kThreads) {
        const int r = idx / kPieces, c = idx % kPieces;
        const WSrc ws = w_src(m, r, b0);
        const std::size_t off = ws.off;
        const std::size_t a0 = off & ~static_cast<std::size_t>(15);
        if (16 * c >= static_cast<int>(off - a0) + bytes) continue;
        const std::size_t src = a0 + 16 * static_cast<std::size_t>(c);
        std::uint8_t* dst = w_stage(buf, m, r) + 16 * c;
        if (src + 16 <= ws.bytes) {
          x.cp16(dst, ws.base + src);
        } else {  // the matrix's last bytes (its size is even): no read past its end
          for (std::size_t i = 0; src + i < ws.bytes; i += 2) {
            *reinterpret_cast<std::uint16_t*>(dst + i) =
                *reinterpret_cast<const std::uint16_t*>(ws.base + src + i);
          }
        }
      }
    }
    const int a_pieces = static_cast<int>(tile_min(S::kG, nb - b0)) * Tr::kBlockElems / 16;
    const std::size_t e0 = static_cast<std::size_t>(st) * kTileStageElems;
    for (int idx = tid; idx < S::kCols * 32; idx += S::kThreads) {
      const int c = idx >> 5, plane = (idx >> 4) & 1, piece = idx & 15;
      if (piece >= a_pieces) continue;
      const std::int64_t n = tile_min(nbase + c, p.rows - 1);
      const std::uint8_t* src = p.act + static_cast<std::size_t>(n) * p.layout.row_bytes +
                                (plane != 0 ? p.layout.lo_off : 0) + e0 + 16 * piece;
      x.cp16(a_stage(buf, c) + 256 * plane + 16 * piece, src);
    }
  };
  // Each thread loads kScPer (scale, daq) pairs of a stage into registers, and later
  // stores them into the stage's pair buffer (the loads overlap the multiplications).
  // (With 8-column tiles a stage has fewer pairs than the block has threads.)
  constexpr int kPairs = kTileUnits * S::kCols;
  constexpr int kScPer = (kPairs + S::kThreads - 1) / S::kThreads;
  static_assert(kPairs < S::kThreads || kScPer * S::kThreads == kPairs, "whole pairs a thread");
  float sd[kScPer] = {}, sq[kScPer] = {};
  auto scale_load = [&](std::int64_t st) {
    for (int i = 0; i < kScPer; ++i) {
      const int idx = tid + i * S::kThreads;
      if (kPairs % S::kThreads != 0 && idx >= kPairs) continue;  // (known at compile time)
      const int u = idx / S::kCols, c = idx % S::kCols;
      const std::int64_t ua = st * kTileUnits + u;
      sd[i] = 0.0f;
      sq[i] = 0.0f;
      if (ua < units) {
        const q8::Act16Row a = q8::act16_row(p.act, p.layout, tile_min(nbase + c, p.rows - 1));
        sd[i] = a.d[ua];
        sq[i] = q16_daq(a.d[ua], a.qsum16[2 * ua] + a.qsum16[2 * ua + 1]);
      }
    }
  };
  auto scale_store = [&](int buf) {
    for (int i = 0; i < kScPer; ++i) {
      const int idx = tid + i * S::kThreads;
      if (kPairs % S::kThreads != 0 && idx >= kPairs) continue;
      float* e = sc + (static_cast<std::size_t>(buf) * kTileUnits * S::kCols + idx) * 2;
      e[0] = sd[i];
      e[1] = sq[i];
    }
  };

  float out[kM][RF][NT][4] = {};
  float acc[kM][RF][NT][4] = {};
  int part = 0;
  std::int64_t part_end = part_begin(nb, p.parts, 1);
  auto fold = [&]() {  // a part ends: its sum joins the output, in part order
    each_frag<kM, RF>([&](int m, int rf) {
      ZINFER_UNROLL
      for (int nt = 0; nt < NT; ++nt) {
        ZINFER_UNROLL
        for (int i = 0; i < 4; ++i) {
          out[m][rf][nt][i] =
              part == 0 ? acc[m][rf][nt][i] : fadd(out[m][rf][nt][i], acc[m][rf][nt][i]);
          acc[m][rf][nt][i] = 0.0f;
        }
      }
    });
  };

  stage_copy(st_begin, 0);
  x.commit();
  scale_load(st_begin);
  scale_store(0);
  for (std::int64_t st = st_begin; st < st_end; ++st) {
    const int buf = static_cast<int>((st - st_begin) & 1);
    const bool next = st + 1 < st_end;
    if (next) {
      stage_copy(st + 1, buf ^ 1);
      x.commit();
      scale_load(st + 1);
      x.wait_prior();
    } else {
      x.wait_all();
    }
    x.sync();  // stage st (weights, activations, pairs) is in shared memory for every thread
    const std::int64_t b0 = st * S::kG;
    TileLane<kM, RF, NT> l;
    l.t = t;
    l.sc_unit = 2 * S::kCols;
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      ZINFER_UNROLL
      for (int rf = 0; rf < RF; ++rf) {
        ZINFER_UNROLL
        for (int h = 0; h < 2; ++h) {
          const int r = 16 * (RF * rw + rf) + g + 8 * h;
          l.w[m][rf][h] = w_stage(buf, m, r) + (w_src(m, r, b0).off & 15);
        }
      }
    }
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      const int c0 = 8 * NT * cw + 8 * nt;
      l.b[nt] = a_stage(buf, c0 + g);
      l.sc[nt] = sc + (static_cast<std::size_t>(buf) * kTileUnits * S::kCols + c0 + 2 * t) * 2;
    }
    const int bi_begin = static_cast<int>(kb_begin > b0 ? kb_begin - b0 : 0);
    const int bi_end = static_cast<int>(tile_min(S::kG, kb_end - b0));
    for (int bi = bi_begin; bi < bi_end; ++bi) {
      if (!one_part && b0 + bi == part_end) {
        fold();
        ++part;
        part_end = part_begin(nb, p.parts, part + 1);
      }
      tile_block<T, kM, RF, NT>(acc, l, bi, x);
    }
    if (next) scale_store(buf ^ 1);
    x.sync();  // everyone is done with buffer buf before stage st + 2 is copied into it
  }
  fold();
  ZINFER_UNROLL
  for (int rf = 0; rf < RF; ++rf) {
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) {
        const std::int64_t j = jb + 16 * (RF * rw + rf) + g + 8 * (i >> 1);
        const std::int64_t n = nbase + 8 * NT * cw + 8 * nt + 2 * t + (i & 1);
        if (j < p.ne1 && n < p.rows) x.store(n, j, out[0][rf][nt][i], out[kM - 1][rf][nt][i]);
      }
    }
  }
}

// The same, the part to compute (or -1: all of K) taken from p.only_part (the host tests).
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, int RF, int CW, bool kGated, int NT = 4, typename Ctx>
ZINFER_HD void tile_body(const MmaArgs& p, Ctx& x) {
  tile_body<T, RF, CW, kGated, NT>(p, x, p.only_part);
}

}  // namespace zinfer::cuda::q8mma
