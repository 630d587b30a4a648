// q8_mma_vecblock_kernel: one Q16 activation row (batch-1 decode) times Q4_K / Q5_K / Q6_K
// weights — the vec kernel's order (q8_mma.cuh: each part's unit terms added in K order, the
// parts' sums in part order; the same bits) with a lane per half super-block (four units)
// instead of a lane per unit. An H200 ncu profile of the vec kernel (7B gate/up, 2026-12-05) showed
// it bound by instruction issue (IPC 2.06, ~92 instructions a unit and matrix: every unit
// re-derived its block's address, loaded its block's head and the 32 quant bytes its neighbour unit
// loads too, shifted every word by a run-time amount). Here a lane loads its half-block's head once
// and its 64 quant bytes as four 16-byte loads, and the four units' shifts are constants. Q6_K
// (210-byte blocks, rows 2-byte aligned): the lane's half of ql, qh and the scales through
// aligned 4-byte loads joined by funnel shifts (q8mma::q6_half), its terms q6_unit_term16.
//
// A block is kWarps warps, a warp one weight row (one per matrix when gated; a Q/K/V stack: the
// row of the matrix holding it). The block first copies the activation row into shared memory
// with the Q16 planes' 16-byte chunks swizzled (vb_swizzle), so eight lanes reading the same
// unit chunk of eight consecutive half-blocks hit eight different bank groups. Each pass, lane
// i takes half-block base + i: its four unit terms (q8mma::k4_unit_term16_sm, the arithmetic of
// the vec kernel and the host reference, the four units' scales decoded at once by
// q8::k4_scale_min4) go to shared memory in K order, and lane 8m + q (the owner of part q of
// matrix m) adds the terms of its part that the pass holds, in order; the parts' sums are
// added in part order through shuffles.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

constexpr int kWarps = 8;
constexpr std::size_t kStageBytes = 48 * 1024;

// Shared-memory position of 16-byte chunk c of a Q16 plane: chunk w of half-block h (c = 8h + w)
// goes to 8h + (w ^ (h & 7)).
__device__ __forceinline__ int vb_swizzle(int c) { return (c & ~7) | ((c ^ (c >> 3)) & 7); }

template <GgmlType T, bool kGated>
__global__ void __launch_bounds__(kWarps * 32) q8_mma_vecblock_kernel(MmaParams p) {
  using Tr = q8mma::MmaTraits<T>;
  constexpr int kM = kGated ? 2 : 1;
  extern __shared__ __align__(16) std::uint8_t vb_act[];
  __shared__ float vb_terms[kWarps][kM][32 * 4];
  const int kc = static_cast<int>(p.layout.k / 16);  // 16-byte chunks of a plane
  prefetch_weight_rows<kGated>(
      p, static_cast<std::int64_t>(blockIdx.x) * kWarps + (static_cast<int>(threadIdx.x) >> 5),
      static_cast<int>(threadIdx.x) & 31);
  pdl_wait();
  pdl_launch_dependents();
  {
    const auto* src = reinterpret_cast<const uint4*>(p.act);
    auto* dst = reinterpret_cast<uint4*>(vb_act);
    const int n = static_cast<int>(p.layout.row_bytes / 16);
    for (int i = static_cast<int>(threadIdx.x); i < n; i += kWarps * 32) {
      const int o = i >= 2 * kc ? i : (i >= kc ? kc + vb_swizzle(i - kc) : vb_swizzle(i));
      dst[o] = src[i];
    }
  }
  __syncthreads();
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  if (j >= p.ne1) return;  // whole warps; no block-wide barrier below
  const std::uint8_t* wrow[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) wrow[m] = weight_row<kGated>(p, m, j);
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;
  const int nh = static_cast<int>(2 * nb);  // half-blocks
  const auto* hi = reinterpret_cast<const uint4*>(vb_act);
  const uint4* lo = hi + kc;
  const auto* dd = reinterpret_cast<const float4*>(vb_act + p.layout.d_off);
  const auto* qsum = reinterpret_cast<const int4*>(vb_act + p.layout.qsum_off);
  float* terms = &vb_terms[warp][0][0];  // [m][half-block of the pass][unit]
  // Lane 8m + q owns part q of matrix m: half-blocks [own_lo, own_hi).
  const int own_m = lane >> 3, own_q = lane & 7;
  const bool owner = own_m < kM && own_q < p.parts;
  const int own_lo = owner ? static_cast<int>(2 * q8mma::part_begin(nb, p.parts, own_q)) : 0;
  const int own_hi = owner ? static_cast<int>(2 * q8mma::part_begin(nb, p.parts, own_q + 1)) : 0;
  float acc = 0.0f;
  for (int base = 0; base < nh; base += 32) {
    const int h = base + lane;
    float term[kM][4];
    if (h < nh) {
      const std::int64_t b = h >> 1;
      const int half = h & 1, x = h & 7;
      const float4 d4 = dd[h];
      const int4 s0 = qsum[2 * h], s1 = qsum[2 * h + 1];
      const float ad[4] = {d4.x, d4.y, d4.z, d4.w};
      const int as[4] = {s0.x + s0.y, s0.z + s0.w, s1.x + s1.y, s1.z + s1.w};
#pragma unroll
      for (int m = 0; m < kM; ++m) {
        if constexpr (T == GgmlType::kQ6_K) {
          const q8mma::Q6Half w6 = q8mma::q6_half(wrow[m], b, half);
#pragma unroll
          for (int gg = 0; gg < 4; ++gg) {
            const uint4 h0 = hi[8 * h + ((2 * gg) ^ x)], h1 = hi[8 * h + ((2 * gg + 1) ^ x)];
            const uint4 l0 = lo[8 * h + ((2 * gg) ^ x)], l1 = lo[8 * h + ((2 * gg + 1) ^ x)];
            const std::uint32_t hw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
            const std::uint32_t lw[8] = {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w};
            term[m][gg] = q8mma::q6_unit_term16(w6, gg, hw, lw, ad[gg]);
          }
          (void)as;
        } else {
          const std::uint8_t* blk = wrow[m] + static_cast<std::int64_t>(Tr::kBlockBytes) * b;
          const q8mma::K4Head head = Tr::head(wrow[m], b);
          std::uint32_t sc4 = 0, mn4 = 0;  // the four units' scales and minimums, a byte each
          q8::k4_scale_min4(head.s0, head.s1, head.s2, half, sc4, mn4);
          std::uint32_t qw[2][8];  // the quant bytes of units 4·half, +1 and of 4·half + 2, +3
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const q8::U4 v = q8::ld_u128(blk + Tr::kQs + 64 * half + 16 * i);
            std::uint32_t* d = &qw[i >> 1][4 * (i & 1)];
            d[0] = v.x;
            d[1] = v.y;
            d[2] = v.z;
            d[3] = v.w;
          }
          std::uint32_t qh[8] = {};
          if constexpr (T == GgmlType::kQ5_K) {
            const q8::U4 h0 = q8::ld_u128(blk + 16), h1 = q8::ld_u128(blk + 32);
            const std::uint32_t w[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i) qh[i] = w[i];
          }
#pragma unroll
          for (int gg = 0; gg < 4; ++gg) {
            const int g = 4 * half + gg;
            q8mma::K4Act16 a;
            const uint4 h0 = hi[8 * h + ((2 * gg) ^ x)], h1 = hi[8 * h + ((2 * gg + 1) ^ x)];
            const uint4 l0 = lo[8 * h + ((2 * gg) ^ x)], l1 = lo[8 * h + ((2 * gg + 1) ^ x)];
            const std::uint32_t hw[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
            const std::uint32_t lw[8] = {l0.x, l0.y, l0.z, l0.w, l1.x, l1.y, l1.z, l1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i) {
              a.hw[i] = hw[i];
              a.lw[i] = lw[i];
            }
            a.d = ad[gg];
            a.qsum = as[gg];
            std::uint32_t wv[8];
            q8mma::k4_unpack16<T>(qw[gg >> 1], qh, g, wv);
            term[m][gg] =
                q8mma::k4_unit_term16_sm(head, static_cast<int>((sc4 >> (8 * gg)) & 0xffu),
                                         static_cast<int>((mn4 >> (8 * gg)) & 0xffu), wv, a);
          }
        }
      }
    }
    __syncwarp();  // the previous pass's terms are read
    if (h < nh) {
#pragma unroll
      for (int m = 0; m < kM; ++m) {
#pragma unroll
        for (int gg = 0; gg < 4; ++gg) terms[m * 128 + 4 * lane + gg] = term[m][gg];
      }
    }
    __syncwarp();
    if (owner) {  // this part's terms of the pass, in K order
      const int from = max(own_lo, base), to = min(own_hi, base + 32);
      const float* t = terms + own_m * 128;
      for (int i = 4 * (from - base); i < 4 * (to - base); ++i) acc = q8::fadd(acc, t[i]);
    }
  }
  float out[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    out[m] = __shfl_sync(0xffffffffu, acc, 8 * m);
    for (int q = 1; q < p.parts; ++q)
      out[m] = __fadd_rn(out[m], __shfl_sync(0xffffffffu, acc, 8 * m + q));
  }
  if (lane == 0) store_output<kGated>(p, 0, j, out[0], out[kM - 1]);
}

template <GgmlType T, bool kGated>
void launch_typed(const MmaParams& p, cudaStream_t stream) {
  // Beside its static terms, up to kStageBytes of dynamic shared memory: opted in once.
  static const bool opted_in = cudaFuncSetAttribute(q8_mma_vecblock_kernel<T, kGated>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    static_cast<int>(kStageBytes)) == cudaSuccess;
  (void)opted_in;
  const dim3 grid(static_cast<unsigned>((p.ne1 + kWarps - 1) / kWarps));
  launch_pdl(q8_mma_vecblock_kernel<T, kGated>, grid, dim3(kWarps * 32), p.layout.row_bytes, stream,
             p);
}

}  // namespace

bool q8_mma_vecblock_fits(GgmlType type, const MmaParams& p, bool gated) {
  const bool loads =
      type == GgmlType::kQ6_K
          ? rows_aligned2(p, gated)  // q6_half's aligned loads
          : (type == GgmlType::kQ4_K || type == GgmlType::kQ5_K) && mma_args(p, gated).wide_loads;
  return loads && p.layout.q16 && p.rows == 1 && p.act != nullptr && p.src == nullptr &&
         p.layout.k % 256 == 0 && p.layout.row_bytes <= kStageBytes && p.parts <= 8 &&
         (p.ne1 + kWarps - 1) / kWarps <= 0x7fffffff;
}

bool launch_q8_mma_vecblock(GgmlType type, const MmaParams& p, bool gated, cudaStream_t stream) {
  if (!q8_mma_vecblock_fits(type, p, gated)) return false;
  if (type == GgmlType::kQ4_K) {
    gated ? launch_typed<GgmlType::kQ4_K, true>(p, stream)
          : launch_typed<GgmlType::kQ4_K, false>(p, stream);
  } else if (type == GgmlType::kQ6_K) {
    gated ? launch_typed<GgmlType::kQ6_K, true>(p, stream)
          : launch_typed<GgmlType::kQ6_K, false>(p, stream);
  } else {
    gated ? launch_typed<GgmlType::kQ5_K, true>(p, stream)
          : launch_typed<GgmlType::kQ5_K, false>(p, stream);
  }
  return true;
}

}  // namespace zinfer::cuda
