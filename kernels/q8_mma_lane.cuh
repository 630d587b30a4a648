// One lane a part: the integer matmuls of q8_mma.h for a few activation rows (decode), in the
// order of q8_mma.cuh, with no cross-lane work until the end. K's blocks are cut into P <= 8
// parts (mma_parts: set by K alone); lane `part` of a row's group of lanes walks its part's
// units in K order and adds their terms to its own sum, reading its part of the weight row as
// one sequential stream; the group's sums are then added in part order through shuffles. A
// warp holds 32 / lanes_a_row(P) weight rows, a block kLaneWarps warps.
//
// Q4_K / Q5_K weights with Q16 activations take a register path: a lane loads a super-block's
// head once and each pair of groups' 32 quant bytes with two 16-byte loads, and builds the
// dp4a operands in registers; the float steps are unit_term's (k4_term_q16f), so the same
// bits. Every other type and Q8 activations use unit_term itself.
//
// Written against a thread context (as q8_mma_tile.cuh) so the CPU tests run the same body:
// thread(), block_x() (weight-row blocks), block_y() (activation-row groups of R), smem()
// (the staged activation row: act_row_bytes when kStage), stage_act(dst, row, bytes) (the
// block's copy of one activation row: the row's bytes, or its quantization from the f32 source
// the context holds), sync(), shfl(v, src_lane) (a full-warp __shfl_sync) and
// store(n, j, v0, v1).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::q8mma {

inline constexpr int kLaneWarps = 4;

// Lanes a weight row takes: the parts, rounded up to a power of two.
ZINFER_HD int lanes_a_row(int parts) {
  return parts <= 1 ? 1 : (parts <= 2 ? 2 : (parts <= 4 ? 4 : 8));
}
// Weight rows a block computes.
ZINFER_HD std::int64_t lane_block_rows(int parts) { return kLaneWarps * (32 / lanes_a_row(parts)); }

// Shared memory the staged weight rows take (kStageW), for `matrices` = 2 (the gated pair) or
// 1 (one matrix, or a stack of up to three): each segment one contiguous copy, shifted to keep
// each byte's address mod 16 and rounded up to 16 bytes.
ZINFER_HD std::size_t lane_stage_w_bytes(std::size_t row_bytes, int parts, int matrices) {
  return static_cast<std::size_t>(matrices) * static_cast<std::size_t>(lane_block_rows(parts)) *
             row_bytes +
         3 * 32;
}

// Copies bytes [src, src + bytes) to dst (dst ≡ src mod 16; 2-byte aligned, bytes even) with the
// block's threads: the whole 16-byte granules inside the range as asynchronous copies (one
// committed group), the partial ones at either end 2 bytes at a time — never a byte outside the
// range. The caller waits (wait_all) and synchronizes.
template <typename Ctx>
ZINFER_HD void stage_range(Ctx& x, std::uint8_t* dst, const std::uint8_t* src, std::size_t bytes) {
  constexpr int kThreads = kLaneWarps * 32;
  const auto tid = static_cast<std::size_t>(x.thread());
  const std::size_t lead = (16 - reinterpret_cast<std::uintptr_t>(src) % 16) % 16;
  const std::size_t head = lead < bytes ? lead : bytes;
  const std::size_t n16 = (bytes - head) / 16;
  const std::size_t tail = head + 16 * n16;
  for (std::size_t i = 2 * tid; i < head; i += 2 * kThreads) {
    *reinterpret_cast<std::uint16_t*>(dst + i) = static_cast<std::uint16_t>(q8::ld_u16(src + i));
  }
  for (std::size_t i = tail + 2 * tid; i < bytes; i += 2 * kThreads) {
    *reinterpret_cast<std::uint16_t*>(dst + i) = static_cast<std::uint16_t>(q8::ld_u16(src + i));
  }
  for (std::size_t u = tid; u < n16; u += kThreads)
    x.cp16(dst + head + 16 * u, src + head + 16 * u);
  x.commit();
}

// acc[m][r] += the eight group terms of Q4_K / Q5_K super-block b of weight rows wrow[m] with
// Q16 activation rows act[r], in group order: the terms of unit_term<T, true>.
template <GgmlType T, int kM, int R>
ZINFER_HD void k4_lane_block(float (&acc)[kM][R], const std::uint8_t* const (&wrow)[kM],
                             std::int64_t b, const std::uint8_t* const (&act)[R],
                             const q8::Q8ActLayout& l) {
  using Tr = MmaTraits<T>;
  constexpr bool kFive = T == GgmlType::kQ5_K;
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) {
    const std::uint8_t* p = wrow[m] + static_cast<std::int64_t>(Tr::kBlockBytes) * b;
    const K4Head h = Tr::head(wrow[m], b);
    std::uint32_t qh[8] = {};  // Q5_K: the fifth bits, byte l of qh = element l of each group
    if constexpr (kFive) {
      const q8::U4 h0 = q8::ld_u128(p + 16), h1 = q8::ld_u128(p + 32);
      qh[0] = h0.x, qh[1] = h0.y, qh[2] = h0.z, qh[3] = h0.w;
      qh[4] = h1.x, qh[5] = h1.y, qh[6] = h1.z, qh[7] = h1.w;
    }
    // One row of one matrix: the whole super-block's loads issued together; more rows or the
    // gated pair would not fit the registers (255 and spills), so a pair of groups at a time.
#ifdef __CUDACC__
#pragma unroll(kM* R == 1 ? 4 : 1)
#endif
    for (int c = 0; c < 4; ++c) {  // groups 2c (low nibbles) and 2c + 1 (high nibbles)
      const q8::U4 q0 = q8::ld_u128(p + Tr::kQs + 32 * c);
      const q8::U4 q1 = q8::ld_u128(p + Tr::kQs + 32 * c + 16);
      const std::uint32_t qw[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
      ZINFER_UNROLL
      for (int half = 0; half < 2; ++half) {
        const int s = 2 * c + half;
        std::uint32_t wv[8];  // elements 4i..4i+3 of group s, offsets removed
        ZINFER_UNROLL
        for (int i = 0; i < 8; ++i) {
          wv[i] = (qw[i] >> (4 * half)) & 0x0f0f0f0fu;
          if constexpr (kFive) wv[i] |= ((qh[i] >> s) & 0x01010101u) << 4;
        }
        const float dsc = k4_dsc(h, s), dmn = k4_dmn(h, s);
        ZINFER_UNROLL
        for (int r = 0; r < R; ++r) {
          const q8::Act16Row a = q8::act16_row(act[r], l, 0);
          const std::int64_t e = static_cast<std::int64_t>(Tr::kBlockElems) * b + 32 * s;
          const q8::U4 hi0 = q8::ld_u128(a.hi + e), hi1 = q8::ld_u128(a.hi + e + 16);
          const q8::U4 lo0 = q8::ld_u128(a.lo + e), lo1 = q8::ld_u128(a.lo + e + 16);
          const std::uint32_t hw[8] = {hi0.x, hi0.y, hi0.z, hi0.w, hi1.x, hi1.y, hi1.z, hi1.w};
          const std::uint32_t lw[8] = {lo0.x, lo0.y, lo0.z, lo0.w, lo1.x, lo1.y, lo1.z, lo1.w};
          int sh = 0, sl = 0;
          ZINFER_UNROLL
          for (int i = 0; i < 8; ++i) {
            sh = q8::dp4a(wv[i], hw[i], sh);
            sl = q8::dp4a(wv[i], lw[i], sl);
          }
          const std::int64_t ab = 8 * b + s;
          const float term =
              k4_term_q16f(dsc, dmn, a.d[ab], 256 * sh + sl,
                           q16_daq(a.d[ab], a.qsum16[2 * ab] + a.qsum16[2 * ab + 1]));
          acc[m][r] = fadd(acc[m][r], term);
        }
      }
    }
  }
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, bool kQ16, int R, bool kGated, bool kStage, bool kStageW = false,
          typename Ctx>
ZINFER_HD void lane_body(const MmaArgs& p, Ctx& x) {
  using Tr = MmaTraits<T>;
  constexpr int kM = kGated ? 2 : 1;
  constexpr int kU = units_per_block<T, kQ16>();
  constexpr bool kK4 = kQ16 && family<T>() == Family::kK4;
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const int lpr = lanes_a_row(p.parts);
  const int part = lane % lpr;
  const std::int64_t j =
      (x.block_x() * kLaneWarps + warp) * (32 / lpr) + lane / lpr;  // this lane's weight row
  const std::int64_t n0 = x.block_y() * R;
  const std::uint8_t* act[R];
  // kStageW: the block's weight rows copied into shared memory after the activation row — one
  // contiguous range of each matrix (the gated pair: both; a Q/K/V stack: the part of each
  // stacked matrix the block's rows cover) — the copies issued first, so they are in flight
  // while the activation row is staged; the lanes then read their parts from there. The same
  // bytes, so the same bits. Segment s: rows [wfirst[s], ...) at wstage[s].
  const std::uint8_t* wstage[3] = {};
  std::int64_t wfirst[3] = {};
  const std::int64_t jb = x.block_x() * lane_block_rows(p.parts);
  if constexpr (kStageW) {
    static_assert(kStage, "weights staged beside a staged activation row");
    const std::int64_t je =
        p.ne1 - jb < lane_block_rows(p.parts) ? p.ne1 : jb + lane_block_rows(p.parts);
    const bool stack = p.n_stack > 1;
    std::uint8_t* dst0 = x.smem() + p.layout.row_bytes;
    std::size_t used = 0;
    for (int sg = 0; sg < (stack ? p.n_stack : kM); ++sg) {
      const std::int64_t start = stack && sg > 0 ? p.stack_end[sg - 1] : 0;
      const std::int64_t lo = jb > start ? jb : start;
      const std::int64_t hi = stack && p.stack_end[sg] < je ? p.stack_end[sg] : je;
      wfirst[sg] = lo;
      if (hi <= lo) continue;
      const std::uint8_t* src =
          (stack ? p.stack[sg] : p.w[sg]) + static_cast<std::size_t>(lo - start) * p.row_bytes;
      const std::size_t bytes = static_cast<std::size_t>(hi - lo) * p.row_bytes;
      std::uint8_t* dst = dst0 + used + reinterpret_cast<std::uintptr_t>(src) % 16;
      stage_range(x, dst, src, bytes);
      wstage[sg] = dst;
      used += q8::align16(16 + bytes);
    }
  }
  if constexpr (kStage) {  // one activation row in shared memory (copied, or quantized here)
    static_assert(R == 1, "one staged activation row");
    std::uint8_t* s = x.smem();
    const std::uint8_t* src =
        p.act != nullptr ? p.act + static_cast<std::size_t>(n0) * p.layout.row_bytes : nullptr;
    x.stage_act(s, src, p.layout.row_bytes);
    if constexpr (kStageW) x.wait_all();
    x.sync();
    act[0] = s;
  } else {
    ZINFER_UNROLL
    for (int r = 0; r < R; ++r) {
      const std::int64_t n = n0 + r < p.rows ? n0 + r : p.rows - 1;
      act[r] = p.act + static_cast<std::size_t>(n) * p.layout.row_bytes;
    }
  }
  const bool live = part < p.parts && j < p.ne1;
  float acc[kM][R] = {};
  if (live) {
    const std::int64_t nb = p.layout.k / Tr::kBlockElems;
    const std::int64_t b0 = part_begin(nb, p.parts, part), b1 = part_begin(nb, p.parts, part + 1);
    const std::uint8_t* wrow[kM];
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      if constexpr (kStageW) {
        const int sg = p.n_stack > 1 ? stack_matrix(p.stack_end, p.n_stack, j) : m;
        wrow[m] = wstage[sg] + static_cast<std::size_t>(j - wfirst[sg]) * p.row_bytes;
      } else {
        wrow[m] = stack_row(p, m, j);
      }
    }
    bool done = false;
    if constexpr (kK4) {
      if (p.wide_loads) {
        for (std::int64_t b = b0; b < b1; ++b) k4_lane_block<T, kM, R>(acc, wrow, b, act, p.layout);
        done = true;
      }
    }
    if (!done) {
      for (std::int64_t u = kU * b0; u < kU * b1; ++u) {
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          ZINFER_UNROLL
          for (int r = 0; r < R; ++r) {
            const float term =
                unit_term<T, kQ16>(wrow[m], u / kU, static_cast<int>(u % kU), act[r], p.layout);
            acc[m][r] = fadd(acc[m][r], term);
          }
        }
      }
    }
  }
  // The parts' sums in part order (every lane of the warp shuffles; the row's first lane
  // stores).
  const int first = lane - part;
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) {
    ZINFER_UNROLL
    for (int r = 0; r < R; ++r) {
      float out = x.shfl(acc[m][r], first);
      for (int q = 1; q < p.parts; ++q) out = fadd(out, x.shfl(acc[m][r], first + q));
      acc[m][r] = out;
    }
  }
  if (!live || part != 0) return;
  ZINFER_UNROLL
  for (int r = 0; r < R; ++r) {
    if (n0 + r < p.rows) x.store(n0 + r, j, acc[0][r], acc[kM - 1][r]);
  }
}

}  // namespace zinfer::cuda::q8mma
