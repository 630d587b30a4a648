// One Q16 activation row (batch-1 decode) times weights of 32-element blocks without a minimum
// (Q8_0, Q4_0; q8_mma_vecleg.cu) in the tensor-core order (q8_mma.cuh: each part's unit terms
// added in K order from 0, the parts' sums in part order; the same bits as every other kernel),
// with a lane per block instead of the vec kernel's lane per unit and row (whose Q8_0 products
// ran at ~0.9 TB/s at gpt-oss's attention shapes on an H100, 2026-12-06). A warp takes one
// output row (gate row j and up row j when gated; row j of a Q/K/V stack), a lane its blocks
// 32u + lane, 128 of them at a time: the block's words through the few aligned loads that hold
// it (leg_block_values), its integer sums with the activation's hi and lo planes by dp4a, its
// unit term (legacy_term_q16f) into shared memory; then lane 8m + q adds the terms of part q
// of matrix m that the chunk holds, in K order, and lane 0 the parts' sums in part order.
//
// The first chunk's weights are loaded before the context's wait_inputs() (pdl_wait on the
// device: weights are never written during a step, so they are read while the previous kernel
// still runs); the activation row only after it. Written against a thread context, as
// q8_mma_lane.cuh, so the CPU tests run the same body: thread(), block_x(), smem()
// (kLegSmemBytes), sync(), wait_inputs() and store(n, j, v0, v1). Every warp of a block meets
// its barriers (a warp past the last row computes the last row again and stores nothing).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/q8_mma.cuh"

namespace zinfer::cuda::q8mma {

inline constexpr int kLegWarps = 8;
inline constexpr int kLegPasses = 4;               // blocks a lane holds at a time
inline constexpr int kLegChunk = 32 * kLegPasses;  // blocks of a row at a time
inline constexpr int kLegWarpFloats = 2 * (kLegChunk + kMaxParts);
inline constexpr std::size_t kLegSmemBytes =
    static_cast<std::size_t>(kLegWarps) * kLegWarpFloats * sizeof(float);

// The types this kernel takes, and the aligned 32-bit words that hold one of their blocks when
// blocks start 2-byte aligned (MXFP4: any byte).
template <GgmlType T>
inline constexpr bool kLegType = T == GgmlType::kQ8_0 || T == GgmlType::kQ4_0;
template <GgmlType T>
inline constexpr int kLegWords = T == GgmlType::kQ8_0 ? 9 : 5;

// Block b of a row: its scale and its 32 int8 values, v[i] = elements 4i..4i+3 (the order of
// the Q16 planes' words). Rows and matrices 2-byte aligned: the block's bytes lie in the
// kLegWords aligned words from the one holding its first byte, each holding one of its bytes;
// the quants start at byte o + 2 of the first word, o the block's offset in it (0 or 2).
template <GgmlType T>
ZINFER_HD void leg_block_values(const std::uint8_t* row, std::int64_t b, LegacyHead& h,
                                std::uint32_t (&v)[8]) {
  static_assert(kLegType<T>, "Q8_0 or Q4_0");
  std::uint32_t w[kLegWords<T>];
  unsigned o = 0;
  q8::ld_words_from(row + MmaTraits<T>::kBlockBytes * b, w, o);
  h = {half_to_f32(w[0] >> (8 * o)), 0.0f};
  const unsigned sh = 8 * (o + 2);  // 16 or 32
  auto word = [&](int i) { return q8::funnel_rc(w[i], w[i + 1], sh); };
  if constexpr (T == GgmlType::kQ8_0) {
    ZINFER_UNROLL
    for (int i = 0; i < 8; ++i) v[i] = word(i);
  } else {
    ZINFER_UNROLL
    for (int i = 0; i < 4; ++i) {
      const std::uint32_t c = word(i);
      v[i] = sub_bytes(c & 0x0f0f0f0fu, 0x08080808u);
      v[4 + i] = sub_bytes((c >> 4) & 0x0f0f0f0fu, 0x08080808u);
    }
  }
}

#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
template <GgmlType T, bool kGated, typename Ctx>
ZINFER_HD void leg_body(const MmaArgs& a, Ctx& x) {
  constexpr int kM = kGated ? 2 : 1;
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const std::int64_t j = x.block_x() * kLegWarps + warp;
  const bool row_ok = j < a.ne1;
  const std::int64_t jr = row_ok ? j : a.ne1 - 1;
  const std::uint8_t* wrow[kM];
  ZINFER_UNROLL
  for (int m = 0; m < kM; ++m) wrow[m] = stack_row(a, m, jr);
  const std::int64_t nb = a.layout.k / 32;
  auto* terms = reinterpret_cast<float*>(x.smem()) + warp * kLegWarpFloats;
  float* psum = terms + 2 * kLegChunk;
  const int own_m = lane >> 3, own_q = lane & 7;
  const bool owner = own_m < kM && own_q < a.parts;
  const std::int64_t own_lo = owner ? part_begin(nb, a.parts, own_q) : 0;
  const std::int64_t own_hi = owner ? part_begin(nb, a.parts, own_q + 1) : 0;
  const std::uint8_t* act = a.act;  // row 0
  const auto* dcol = reinterpret_cast<const float*>(act + a.layout.d_off);
  float acc = 0.0f;
  for (std::int64_t c0 = 0; c0 < nb; c0 += kLegChunk) {
    LegacyHead wh[kLegPasses][kM];
    std::uint32_t wv[kLegPasses][kM][8];
    ZINFER_UNROLL
    for (int u = 0; u < kLegPasses; ++u) {
      const std::int64_t b = c0 + 32 * u + lane < nb ? c0 + 32 * u + lane : nb - 1;
      ZINFER_UNROLL
      for (int m = 0; m < kM; ++m) leg_block_values<T>(wrow[m], b, wh[u][m], wv[u][m]);
    }
    if (c0 == 0) x.wait_inputs();
    ZINFER_UNROLL
    for (int u = 0; u < kLegPasses; ++u) {
      const std::int64_t b = c0 + 32 * u + lane;
      if (b < nb) {
        const U4 h0 = q8::ld_u128(act + 32 * b), h1 = q8::ld_u128(act + 32 * b + 16);
        const U4 l0 = q8::ld_u128(act + a.layout.lo_off + 32 * b);
        const U4 l1 = q8::ld_u128(act + a.layout.lo_off + 32 * b + 16);
        const std::uint32_t hw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
        const std::uint32_t lw[8] = {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w};
        const float da = dcol[b];
        ZINFER_UNROLL
        for (int m = 0; m < kM; ++m) {
          int ch = 0, cl = 0;
          ZINFER_UNROLL
          for (int i = 0; i < 8; ++i) {
            ch = q8::dp4a(wv[u][m][i], hw[i], ch);
            cl = q8::dp4a(wv[u][m][i], lw[i], cl);
          }
          terms[m * kLegChunk + 32 * u + lane] =
              legacy_term_q16f(wh[u][m], false, da, 256 * ch + cl, 0.0f);
        }
      }
    }
    x.sync();
    if (owner) {  // the chunk's terms of part own_q of matrix own_m, in K order
      const std::int64_t lo = own_lo > c0 ? own_lo : c0;
      const std::int64_t hi = own_hi < c0 + kLegChunk ? own_hi : c0 + kLegChunk;
      for (std::int64_t b = lo; b < hi; ++b) acc = fadd(acc, terms[own_m * kLegChunk + (b - c0)]);
    }
    x.sync();  // the chunk's terms are read before the next chunk's overwrite them
  }
  if (owner) psum[own_m * kMaxParts + own_q] = acc;
  x.sync();
  if (lane == 0 && row_ok) {
    float v[kM];
    ZINFER_UNROLL
    for (int m = 0; m < kM; ++m) {
      v[m] = psum[m * kMaxParts];
      for (int q = 1; q < a.parts; ++q) v[m] = fadd(v[m], psum[m * kMaxParts + q]);
    }
    x.store(0, j, v[0], v[kM - 1]);
  }
}

}  // namespace zinfer::cuda::q8mma
