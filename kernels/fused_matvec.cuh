// fused_matvec_kernel<T, NR, Mode>: the kernel behind fused_matvec.h, instantiated per mode
// in fused_matvec_{plain,gated,qkv}.cu (three files so they compile in parallel), launched
// with launch_pdl (pdl.h).
//
// Grid: one block per (tile of NR activation rows, kUnitsPerBlock units); the tile index
// varies fastest so blocks sharing weight rows run together and hit L2. A unit is one warp's
// work: two weight rows A and B (rows 2u, 2u+1 of one matrix; gate row u and up row u; or a
// RoPE pair of a Q/K head, or two V rows). Lanes 4i..4i+3 take the four 8-element sub-pieces
// of pieces i, i+8, ... of the rows, so one warp reads the rows and the activations front to
// back; per output the sum is each lane's fmaf chain over its sub-pieces, then a fixed
// butterfly — an order set by K alone (batch invariance).
#pragma once

#include <cfloat>

#include "kernels/activation.cuh"
#include "kernels/fused_matvec.h"
#include "kernels/launch_util.cuh"
#include "kernels/pdl.h"
#include "kernels/quant_piece.cuh"

namespace zinfer::cuda {

enum class MatvecMode { kPlain, kGated, kQkvRope };

inline constexpr int kFusedWarps = 4;
inline constexpr int kFusedThreads = kFusedWarps * 32;
inline constexpr int kFusedTileRows = 8;  // activation rows per tile (NR = 8 kernels)

struct FusedMatvecParams {
  const float* in = nullptr;  // [rows][in_stride]
  std::int64_t in_stride = 0;
  std::int64_t rows = 0;
  std::int64_t n_tiles = 0;
  std::int64_t n_units = 0;
  std::int64_t k = 0;      // elements per weight row (multiple of 32)
  int warps_per_unit = 1;  // 1, 2 or 4 warps split a unit's pieces (split_warps(k))
  std::size_t row_bytes = 0;
  const std::uint8_t* w[3] = {nullptr, nullptr, nullptr};
  float* out[3] = {nullptr, nullptr, nullptr};
  std::int64_t out_stride[3] = {0, 0, 0};
  const float* bias[3] = {nullptr, nullptr, nullptr};
  std::int64_t ne1 = 0;  // kPlain: rows of w[0]
  bool accumulate = false;
  GatedAct act = GatedAct::kSilu;
  bool norm = false;  // RMSNorm prologue (kGated, kQkvRope)
  const float* norm_w = nullptr;
  float eps = 0.0f;
  // kQkvRope
  int n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0;
  bool neox = false;
  RopeAngle angle;
  const std::int32_t* positions = nullptr;
};

// Warps that share one unit's pieces, from the row length alone (so the summation order is a
// function of K): long rows get more warps in flight per unit.
inline int split_warps(std::int64_t k) {
  const std::int64_t pieces = k / kPieceElems;
  return pieces >= 128 ? 4 : (pieces >= 64 ? 2 : 1);
}

// Which rows a unit computes: matrix and row of A and of B, B valid, rotate with pair index.
struct UnitRows {
  int ma = 0, mb = 0;
  std::int64_t ja = 0, jb = 0;
  bool b_valid = true;
  bool rotate = false;
  int rot_i = 0;
};

// P: FusedMatvecParams, or any params with the same RoPE geometry fields (the Q8 kernels).
template <MatvecMode M, typename P>
__device__ __forceinline__ UnitRows unit_rows(const P& p, std::int64_t u) {
  UnitRows r;
  if constexpr (M == MatvecMode::kPlain) {
    r.ja = 2 * u;
    r.jb = 2 * u + 1;
    r.b_valid = r.jb < p.ne1;
    if (!r.b_valid) r.jb = r.ja;
  } else if constexpr (M == MatvecMode::kGated) {
    r.ma = 0;
    r.mb = 1;
    r.ja = r.jb = u;
  } else {
    const int pph = p.head_dim / 2;  // pairs per head
    const std::int64_t uq = static_cast<std::int64_t>(p.n_head) * pph;
    const std::int64_t uk = static_cast<std::int64_t>(p.n_head_kv) * pph;
    if (u < uq + uk) {
      const int m = u < uq ? 0 : 1;
      const std::int64_t local = m == 0 ? u : u - uq;
      const std::int64_t head = local / pph;
      const int pi = static_cast<int>(local % pph);
      const int half_rot = p.n_rot / 2;
      int d0, d1;
      if (pi < half_rot) {
        d0 = p.neox ? pi : 2 * pi;
        d1 = p.neox ? pi + half_rot : 2 * pi + 1;
        r.rotate = true;
        r.rot_i = pi;
      } else {
        d0 = p.n_rot + 2 * (pi - half_rot);
        d1 = d0 + 1;
      }
      r.ma = r.mb = m;
      r.ja = head * p.head_dim + d0;
      r.jb = head * p.head_dim + d1;
    } else {
      const std::int64_t local = u - uq - uk;
      r.ma = r.mb = 2;
      r.ja = 2 * local;
      r.jb = 2 * local + 1;
    }
  }
  return r;
}

// The kQkvRope epilogue of a unit (whole warp): bias, RoPE (angles one activation row per
// lane, rope_cos_sin as in rope_kernel) and the stores of outputs A and B of each row.
template <int NR, typename P>
__device__ __forceinline__ void store_qkv_rope(const P& p, const UnitRows& ur, std::int64_t row0,
                                               int n_rows, int lane, const float (&acc_a)[NR],
                                               const float (&acc_b)[NR]) {
  float cos_l = 1.0f, sin_l = 0.0f;
  if (ur.rotate && lane < n_rows) {
    rope_cos_sin(static_cast<float>(p.positions[row0 + lane]), ur.rot_i, p.angle, cos_l, sin_l);
  }
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    float a = acc_a[r];
    float b = acc_b[r];
    const float c = __shfl_sync(0xffffffffu, cos_l, r);
    const float s = __shfl_sync(0xffffffffu, sin_l, r);
    if (lane == r && r < n_rows) {
      if (p.bias[ur.ma] != nullptr) a = __fadd_rn(a, p.bias[ur.ma][ur.ja]);
      if (p.bias[ur.mb] != nullptr) b = __fadd_rn(b, p.bias[ur.mb][ur.jb]);
      if (ur.rotate) {
        const float x0 = a, x1 = b;
        a = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
        b = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
      }
      p.out[ur.ma][(row0 + r) * p.out_stride[ur.ma] + ur.ja] = a;
      p.out[ur.mb][(row0 + r) * p.out_stride[ur.mb] + ur.jb] = b;
    }
  }
}

// Loads 8 consecutive activations (16-byte aligned).
__device__ __forceinline__ void load_x8(const float* x, float (&v)[8]) {
  const float4 a = reinterpret_cast<const float4*>(x)[0];
  const float4 b = reinterpret_cast<const float4*>(x)[1];
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

template <GgmlType T, int NR, MatvecMode M>
__global__ void __launch_bounds__(kFusedThreads) fused_matvec_kernel(const FusedMatvecParams p) {
  constexpr bool kNorm = M != MatvecMode::kPlain;
  using PT = PieceTraits<T>;
  __shared__ float s_part[kFusedWarps][NR][3];
  pdl_wait();
  pdl_launch_dependents();
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int wpu = p.warps_per_unit;
  const int part = warp % wpu;  // which share of the pieces this warp sums
  const std::int64_t tile = static_cast<std::int64_t>(blockIdx.x) % p.n_tiles;
  const std::int64_t u =
      (static_cast<std::int64_t>(blockIdx.x) / p.n_tiles) * (kFusedWarps / wpu) + warp / wpu;
  const std::int64_t row0 = tile * NR;
  const int n_rows = static_cast<int>(p.rows - row0 < NR ? p.rows - row0 : NR);
  const float* in = p.in + row0 * p.in_stride;

  const bool active = u < p.n_units;
  const UnitRows ur = unit_rows<M>(p, active ? u : 0);
  const std::uint8_t* wa = p.w[ur.ma] + static_cast<std::size_t>(ur.ja) * p.row_bytes;
  const std::uint8_t* wb = p.w[ur.mb] + static_cast<std::size_t>(ur.jb) * p.row_bytes;

  // RMSNorm (kGated, kQkvRope) is folded in: the dot products run over x·w (norm weight) and
  // each lane also sums x² over the same elements; the unit's parts together cover the whole
  // row, so the reduced sum of squares gives rms_norm's scale, applied to both outputs at the
  // end: out = (W·(x∘w)) / sqrt(mean(x²) + eps). No per-block prologue pass over x.
  float acc_a[NR], acc_b[NR], ss[NR];
#pragma unroll
  for (int r = 0; r < NR; ++r) acc_a[r] = acc_b[r] = ss[r] = 0.0f;

  // Four lanes share a piece, each taking one 8-element sub-piece: lane l reads elements
  // 32·pc + 8·(l % 4) .. of the activations, so a warp's activation loads are 1 KB contiguous
  // (with one lane per whole piece they were 32 lines per load instruction, which made the
  // L1 the limiter, worse with every activation row of the tile).
  const int sub = lane & 3;
  const std::int64_t n_pieces = p.k / kPieceElems;
  const std::int64_t per_part = (n_pieces + wpu - 1) / wpu;
  const std::int64_t pc_end = min(n_pieces, (part + 1) * per_part);
  // kUnroll iterations' weight loads are issued before any is used, so a warp has that many
  // sub-pieces per row in flight; the accumulation order (pieces ascending) is unchanged.
  constexpr int kUnroll = NR == 1 ? 4 : 2;
  for (std::int64_t pc0 = part * per_part + (lane >> 2); active && pc0 < pc_end;
       pc0 += 8 * kUnroll) {
    typename PT::Sub sa[kUnroll], sb[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t pc = pc0 + 8 * u;
      if (pc < pc_end) {
        sa[u] = PT::load(wa, pc, sub);
        sb[u] = PT::load(wb, pc, sub);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::int64_t pc = pc0 + 8 * u;
      if (pc >= pc_end) break;
      float va[8], vb[8];
      PT::dequant(sa[u], va);
      PT::dequant(sb[u], vb);
      const std::int64_t e = pc * kPieceElems + 8 * sub;
      float w8[8] = {};
      if constexpr (kNorm) {
        if (p.norm_w != nullptr) {
          const float4 a = reinterpret_cast<const float4*>(p.norm_w + e)[0];
          const float4 b = reinterpret_cast<const float4*>(p.norm_w + e)[1];
          w8[0] = a.x, w8[1] = a.y, w8[2] = a.z, w8[3] = a.w;
          w8[4] = b.x, w8[5] = b.y, w8[6] = b.z, w8[7] = b.w;
        }
      }
#pragma unroll
      for (int r = 0; r < NR; ++r) {
        if (NR == 1 || r < n_rows) {
          float x[8];
          load_x8(in + r * p.in_stride + e, x);
          if constexpr (kNorm) {
#pragma unroll
            for (int i = 0; i < 8; ++i) {
              ss[r] = fmaf(x[i], x[i], ss[r]);
              if (p.norm_w != nullptr) x[i] = __fmul_rn(x[i], w8[i]);
            }
          }
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            acc_a[r] = fmaf(va[i], x[i], acc_a[r]);
            acc_b[r] = fmaf(vb[i], x[i], acc_b[r]);
          }
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < NR; ++r) {
    acc_a[r] = warp_sum(acc_a[r]);
    acc_b[r] = warp_sum(acc_b[r]);
    if constexpr (kNorm) ss[r] = warp_sum(ss[r]);
  }
  if (wpu > 1) {
    // The parts' sums are added in part order by the unit's first warp.
    if (lane == 0) {
#pragma unroll
      for (int r = 0; r < NR; ++r) {
        s_part[warp][r][0] = acc_a[r];
        s_part[warp][r][1] = acc_b[r];
        s_part[warp][r][2] = ss[r];
      }
    }
    __syncthreads();
    if (part != 0) return;
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      for (int w = 1; w < wpu; ++w) {
        acc_a[r] += s_part[warp + w][r][0];
        acc_b[r] += s_part[warp + w][r][1];
        ss[r] += s_part[warp + w][r][2];
      }
    }
  }
  if (!active) return;
  if constexpr (kNorm) {
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      const float scale = 1.0f / sqrtf(ss[r] / static_cast<float>(p.k) + p.eps);
      acc_a[r] = __fmul_rn(acc_a[r], scale);
      acc_b[r] = __fmul_rn(acc_b[r], scale);
    }
  }

  if constexpr (M == MatvecMode::kQkvRope) {
    store_qkv_rope<NR>(p, ur, row0, n_rows, lane, acc_a, acc_b);
  } else {
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      const float a = acc_a[r];
      const float b = acc_b[r];
      if (lane == r && r < n_rows) {
        if constexpr (M == MatvecMode::kGated) {
          const float g = p.act == GatedAct::kSilu ? silu_f32(a) : gelu_tanh_f32(a);
          p.out[0][(row0 + r) * p.out_stride[0] + u] = g * b;
        } else {
          float* o = p.out[0] + (row0 + r) * p.out_stride[0];
          if (p.accumulate) {
            o[ur.ja] = __fadd_rn(o[ur.ja], a);
            if (ur.b_valid) o[ur.jb] = __fadd_rn(o[ur.jb], b);
          } else {
            o[ur.ja] = a;
            if (ur.b_valid) o[ur.jb] = b;
          }
        }
      }
    }
  }
}

// Launches the NR = 1 or NR = kFusedTileRows instance for p.rows activation rows.
template <GgmlType T, MatvecMode M>
void launch_fused_matvec_typed(FusedMatvecParams p, cudaStream_t stream) {
  const int nr = p.rows == 1 ? 1 : kFusedTileRows;
  p.n_tiles = (p.rows + nr - 1) / nr;
  p.warps_per_unit = split_warps(p.k);
  const std::int64_t units_per_block = kFusedWarps / p.warps_per_unit;
  const std::int64_t unit_blocks = (p.n_units + units_per_block - 1) / units_per_block;
  const dim3 grid(static_cast<unsigned>(unit_blocks * p.n_tiles));
  if (nr == 1) {
    launch_pdl(fused_matvec_kernel<T, 1, M>, grid, dim3(kFusedThreads), 0, stream, p);
  } else {
    launch_pdl(fused_matvec_kernel<T, kFusedTileRows, M>, grid, dim3(kFusedThreads), 0, stream, p);
  }
}

// Calls launch_fused_matvec_typed<T, M> for the runtime type; false if unsupported.
template <MatvecMode M>
bool dispatch_fused_matvec(GgmlType t, const FusedMatvecParams& p, cudaStream_t stream) {
  return dispatch_weight_type(
      t, [&](auto tc) { launch_fused_matvec_typed<decltype(tc)::value, M>(p, stream); });
}

// Copies the matrices, outputs, biases and RoPE geometry of a, as both QKV kernels read them,
// into their params p (FusedMatvecParams or the Q8 kernels' own).
template <typename P>
inline void set_qkv_rope_params(P& p, const QkvRopeArgs& a) {
  const QuantMatrixView* w[3] = {&a.wq, &a.wk, &a.wv};
  const MatrixView* o[3] = {&a.q, &a.k, &a.v};
  const float* b[3] = {a.bq, a.bk, a.bv};
  for (int i = 0; i < 3; ++i) {
    p.w[i] = static_cast<const std::uint8_t*>(w[i]->data);
    p.out[i] = o[i]->data;
    p.out_stride[i] = o[i]->stride;
    p.bias[i] = b[i];
  }
  p.n_head = a.n_head;
  p.n_head_kv = a.n_head_kv;
  p.head_dim = a.head_dim;
  p.n_rot = a.n_rot;
  p.neox = a.neox;
  p.angle = a.angle;
  p.positions = a.positions;
}

// Grid size check shared by the launchers (the runtime rejects more than 2^31 - 1 blocks).
inline bool fused_grid_fits(std::int64_t n_units, std::int64_t rows) {
  const int nr = rows == 1 ? 1 : kFusedTileRows;
  const std::int64_t blocks = n_units * ((rows + nr - 1) / nr);  // worst case: 4 warps a unit
  return blocks >= 1 && blocks <= 0x7fffffff;
}

}  // namespace zinfer::cuda
