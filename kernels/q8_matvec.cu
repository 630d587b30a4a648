// q8_matvec_kernel<T, NR, Mode, K16>: the kernels behind q8_matvec.h (Q8 or Q16 activations).
//
// Grid: one block per (tile of NR activation rows, units); the tile index varies fastest so
// blocks sharing weight rows run together and hit L2. A unit is one warp's work: two weight
// rows A and B (rows 2i, 2i + 1 of one of up to three matrices, or gate row u and up row u).
// Q8Traits<T>::kLanes lanes share a weight block, each loading its share of the block's bytes
// once (16-byte loads for Q4_K/Q5_K) and dotting it with every activation row of the tile; a
// warp walks 32/kLanes blocks at a time, kUnroll iterations' loads in flight. Per output: each
// lane's float sum over its blocks, a fixed butterfly, then (long rows) the warps' parts in
// order — an order set by K alone.
//
// One activation row without the prologue (batch-1 decode of large matrices): the warps stage
// their weight bytes through shared memory with cp.async, up to four units ahead (St). ncu on
// the register path (H200, 7B shape) showed its warps stalled mostly at the first use of each
// weight load, at 25% occupancy: too few bytes in flight. Staged, the copies need no registers.
#include <algorithm>
#include <atomic>
#include <string>

#include "engine/core/env_switch.h"
#include "engine/quant/ggml_type.h"
#include "kernels/activation.cuh"
#include "kernels/cuda_check.h"
#include "kernels/fused_matvec.cuh"
#include "kernels/launch_util.cuh"
#include "kernels/q8_dot.cuh"
#include "kernels/q8_matvec.h"
#include "kernels/q8_quantize.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

enum class Q8Mode { kPlain, kGated, kQkvRope };

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTileRows = 8;
constexpr int kMaxMats = 3;

struct Q8Params {
  const std::uint8_t* act = nullptr;
  q8::Q8ActLayout layout;
  std::int64_t rows = 0;
  std::int64_t n_tiles = 0;
  std::int64_t n_units = 0;
  int warps_per_unit = 1;
  std::size_t row_bytes = 0;  // weight row
  int n_mats = 1;
  const std::uint8_t* w[kMaxMats] = {};
  float* out[kMaxMats] = {};
  std::int64_t out_stride[kMaxMats] = {};
  const float* bias[kMaxMats] = {};
  std::int64_t ne1[kMaxMats] = {};
  std::int64_t unit_end[kMaxMats] = {};  // kPlain: units of matrix m end at unit_end[m]
  bool accumulate = false;
  GatedAct gact = GatedAct::kSilu;
  int units_per_warp = 1;  // units a warp computes in turn (NR = 1)
  // St kernels: each warp copies its units' weight bytes (its part of rows A and B) into its own
  // ring of `stages` shared-memory slots of stage_bytes, stages - 1 units ahead (cp.async).
  int stages = 0;
  int stage_bytes = 0;
  // NR = 1 with src set: each block first quantizes the f32 row src (RMS-normalized when norm)
  // into shared memory, in the layout and with the bytes of the quantize kernels (q8_act.cu).
  const float* src = nullptr;
  bool norm = false;
  const float* norm_w = nullptr;
  float eps = 0.0f;
  // kQkvRope (the fields unit_rows and store_qkv_rope of fused_matvec.cuh read)
  int n_head = 0, n_head_kv = 0, head_dim = 0, n_rot = 0;
  bool neox = false;
  RopeAngle angle;
  const std::int32_t* positions = nullptr;
};

// 16 bytes global -> shared without registers (cp.async, L2 only), and its group operations.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
// Waits until at most n of this thread's newest groups are pending (n = 0..3).
__device__ __forceinline__ void cp_async_wait(int n) {
  switch (n) {
    case 0:
      asm volatile("cp.async.wait_group 0;" ::: "memory");
      break;
    case 1:
      asm volatile("cp.async.wait_group 1;" ::: "memory");
      break;
    case 2:
      asm volatile("cp.async.wait_group 2;" ::: "memory");
      break;
    default:
      asm volatile("cp.async.wait_group 3;" ::: "memory");
      break;
  }
}

// The bytes [off, off + len) of a weight row, widened to whole 16-byte words (weight
// allocations are padded to 16 bytes, device_buffer.h), copied by the warp's lanes to dst
// (16-byte aligned): byte off lands at dst + (address of row + off) % 16, so every aligned load
// of the block formats stays aligned.
__device__ __forceinline__ void stage_slice(std::uint8_t* dst, const std::uint8_t* row,
                                            std::size_t off, std::size_t len, int lane) {
  const std::uintptr_t src = reinterpret_cast<std::uintptr_t>(row) + off;
  const std::uintptr_t a0 = src & ~std::uintptr_t{15};
  const std::uintptr_t a1 = (src + len + 15) & ~std::uintptr_t{15};
  const int words = static_cast<int>((a1 - a0) / 16);
  for (int i = lane; i < words; i += 32)
    cp_async16(dst + 16 * i, reinterpret_cast<const void*>(a0 + 16u * static_cast<unsigned>(i)));
}

// K16: the activations are in the Q16 layout (Q8Traits<T>::dot16), else Q8 (dot).
// Pro (NR = 1 only): the activation row is quantized by the block itself (Q8Params::src) into
// shared memory, and warps compute units_per_warp units each; without it the kernel reads the
// quantized rows from p.act and each warp computes one unit.
// St (NR = 1, not Pro): weights reach the dot products through the warp's shared-memory ring
// (Q8Params::stages) instead of registers, so that a warp has its next units' bytes in flight
// while it computes one: the same arithmetic on the same bytes, bitwise the same results.
template <GgmlType T, int NR, Q8Mode M, bool K16, bool Pro, bool St = false>
__global__ void __launch_bounds__(kThreads) q8_matvec_kernel(const Q8Params p) {
  static_assert(!Pro || NR == 1, "the prologue quantizes one row");
  static_assert(!St || (NR == 1 && !Pro), "staging is for one row without the prologue");
  using Tr = q8::Q8Traits<T>;
  constexpr int kBlocksPerIter = 32 / Tr::kLanes;
  constexpr int kUnroll = 2;
  __shared__ float s_part[kWarps][NR][2];
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int wpu = p.warps_per_unit;
  const int part = warp % wpu;
  const std::int64_t tile = static_cast<std::int64_t>(blockIdx.x) % p.n_tiles;
  const std::int64_t row0 = tile * NR;
  const int n_rows = static_cast<int>(p.rows - row0 < NR ? p.rows - row0 : NR);

  // The activation rows: the buffer, or (Pro) this block's own quantization of src.
  extern __shared__ __align__(16) std::uint8_t s_act[];
  const std::uint8_t* act = Pro ? s_act : p.act;
  if constexpr (Pro) {
    __shared__ double s_scratch[8];
    constexpr int kKind = K16 ? q8::kQ16 : (Tr::kBlockElems == 256 ? q8::kQ8K : q8::kQ8Small);
    const float s =
        p.norm ? q8::rms_scale(q8::rms_sum_squares(p.src, p.layout.k, s_scratch), p.layout.k, p.eps)
               : 1.0f;
    for (std::int64_t g = warp; g < q8::quant_groups(p.layout.k); g += kWarps)
      q8::quantize_group<kKind>(p.src, p.norm, s, p.norm_w, lane, p.layout, s_act, g);
    __syncthreads();
  }

  const std::int64_t units_per_block = kWarps / wpu;
  const int upw = NR == 1 ? p.units_per_warp : 1;
  const auto unit_of = [&](int it) {
    return ((static_cast<std::int64_t>(blockIdx.x) / p.n_tiles) * upw + it) * units_per_block +
           warp / wpu;
  };
  // Which rows: matrices and rows of A and B (kPlain: rows 2i, 2i + 1 of matrix m, B past
  // the end of an odd matrix; kGated: gate and up row u; kQkvRope: a RoPE pair or two V rows).
  const auto rows_of = [&](std::int64_t u, bool active) {
    UnitRows ur;
    if constexpr (M == Q8Mode::kPlain) {
      std::int64_t first = 0;
      int m = 0;
      while (m + 1 < p.n_mats && u >= p.unit_end[m]) first = p.unit_end[m++];
      ur.ma = ur.mb = m;
      ur.ja = 2 * (u - first);
      ur.jb = ur.ja + 1;
      ur.b_valid = ur.jb < p.ne1[m];
      if (!ur.b_valid) ur.jb = ur.ja;
    } else if constexpr (M == Q8Mode::kGated) {
      ur.ma = 0;
      ur.mb = 1;
      ur.ja = ur.jb = u;
    } else {
      ur = unit_rows<MatvecMode::kQkvRope>(p, active ? u : 0);
    }
    return ur;
  };
  const std::int64_t nb = p.layout.k / Tr::kBlockElems;  // weight blocks per row
  const std::int64_t per_part = (nb + wpu - 1) / wpu;
  const std::int64_t b_begin = part * per_part;
  const std::int64_t b_end = min(nb, (part + 1) * per_part);
  // St: this warp's ring, slot j holding unit it's rows A and B at j = it % stages.
  std::uint8_t* ring =
      St ? s_act + static_cast<std::size_t>(warp) * p.stages * p.stage_bytes : nullptr;
  const std::size_t slice_off = static_cast<std::size_t>(b_begin) * Tr::kBlockBytes;
  const std::size_t slice_len =
      b_end > b_begin ? static_cast<std::size_t>(b_end - b_begin) * Tr::kBlockBytes : 0;
  const auto slot_of = [&](int it) {
    return ring + static_cast<std::size_t>(it % p.stages) * p.stage_bytes;
  };
  const auto stage_unit = [&](int it) {  // copies unit it's slices (nothing past the last unit)
    const std::int64_t u = unit_of(it);
    if (it < upw && u < p.n_units && slice_len > 0) {
      const UnitRows ur = rows_of(u, true);
      std::uint8_t* slot = slot_of(it);
      stage_slice(slot, p.w[ur.ma] + static_cast<std::size_t>(ur.ja) * p.row_bytes, slice_off,
                  slice_len, lane);
      stage_slice(slot + p.stage_bytes / 2,
                  p.w[ur.mb] + static_cast<std::size_t>(ur.jb) * p.row_bytes, slice_off, slice_len,
                  lane);
    }
    cp_async_commit();
  };
  if constexpr (St) {
    for (int j = 0; j + 1 < p.stages; ++j) stage_unit(j);
  }
  for (int it = 0; it < upw; ++it) {
    const std::int64_t u = unit_of(it);
    const bool active = u < p.n_units;
    const UnitRows ur = rows_of(u, active);
    // Inactive warps (past the last unit) only join the block's reduction; they load nothing.
    const std::uint8_t* wa =
        p.w[ur.ma] + static_cast<std::size_t>(active ? ur.ja : 0) * p.row_bytes;
    const std::uint8_t* wb =
        p.w[ur.mb] + static_cast<std::size_t>(active ? ur.jb : 0) * p.row_bytes;
    std::int64_t boff = 0;  // block b of the row is block b - boff of wa / wb
    if constexpr (St) {
      stage_unit(it + p.stages - 1);
      cp_async_wait(p.stages - 1);  // this thread's copies of unit it have landed
      __syncwarp();                 // and every lane's
      std::uint8_t* slot = slot_of(it);
      const std::uintptr_t mis_a = (reinterpret_cast<std::uintptr_t>(wa) + slice_off) & 15u;
      const std::uintptr_t mis_b = (reinterpret_cast<std::uintptr_t>(wb) + slice_off) & 15u;
      wa = slot + mis_a;
      wb = slot + p.stage_bytes / 2 + mis_b;
      boff = b_begin;
    }

    float acc_a[NR], acc_b[NR];
#pragma unroll
    for (int r = 0; r < NR; ++r) acc_a[r] = acc_b[r] = 0.0f;

    const int sub = lane % Tr::kLanes;
    for (std::int64_t b0 = b_begin + lane / Tr::kLanes; active && b0 < b_end;
         b0 += kBlocksPerIter * kUnroll) {
      typename Tr::W sa[kUnroll], sb[kUnroll];
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const std::int64_t b = b0 + kBlocksPerIter * i;
        if (b < b_end) {
          sa[i] = Tr::load(wa, b - boff, sub);
          sb[i] = Tr::load(wb, b - boff, sub);
        }
      }
#pragma unroll
      for (int i = 0; i < kUnroll; ++i) {
        const std::int64_t b = b0 + kBlocksPerIter * i;
        if (b >= b_end) break;
#pragma unroll
        for (int r = 0; r < NR; ++r) {
          if (NR == 1 || r < n_rows) {
            if constexpr (K16) {
              const q8::Act16Row x = q8::act16_row(act, p.layout, row0 + r);
              acc_a[r] = __fadd_rn(acc_a[r], Tr::dot16(sa[i], x, b, sub));
              acc_b[r] = __fadd_rn(acc_b[r], Tr::dot16(sb[i], x, b, sub));
            } else {
              const q8::ActRow x = q8::act_row(act, p.layout, row0 + r);
              acc_a[r] = __fadd_rn(acc_a[r], Tr::dot(sa[i], x, b, sub));
              acc_b[r] = __fadd_rn(acc_b[r], Tr::dot(sb[i], x, b, sub));
            }
          }
        }
      }
    }
    if constexpr (St) __syncwarp();  // every lane is done with the slot before it is refilled
#pragma unroll
    for (int r = 0; r < NR; ++r) {
      acc_a[r] = warp_sum(acc_a[r]);
      acc_b[r] = warp_sum(acc_b[r]);
    }
    if (wpu > 1) {
      if (lane == 0) {
#pragma unroll
        for (int r = 0; r < NR; ++r) {
          s_part[warp][r][0] = acc_a[r];
          s_part[warp][r][1] = acc_b[r];
        }
      }
      __syncthreads();
      if (part == 0) {
#pragma unroll
        for (int r = 0; r < NR; ++r) {
          for (int w = 1; w < wpu; ++w) {
            acc_a[r] = __fadd_rn(acc_a[r], s_part[warp + w][r][0]);
            acc_b[r] = __fadd_rn(acc_b[r], s_part[warp + w][r][1]);
          }
        }
      }
      if (upw > 1) __syncthreads();  // s_part is written again by the next unit
    }
    if (!active || part != 0) continue;
    if constexpr (M == Q8Mode::kQkvRope) {
      store_qkv_rope<NR>(p, ur, row0, n_rows, lane, acc_a, acc_b);
    } else {
#pragma unroll
      for (int r = 0; r < NR; ++r) {
        if (lane != r || r >= n_rows) continue;
        const float a = acc_a[r];
        const float b = acc_b[r];
        if constexpr (M == Q8Mode::kGated) {
          const float g = p.gact == GatedAct::kSilu ? silu_f32(a) : gelu_tanh_f32(a);
          p.out[0][(row0 + r) * p.out_stride[0] + u] = g * b;
        } else {
          float* o = p.out[ur.ma] + (row0 + r) * p.out_stride[ur.ma];
          const float* bias = p.bias[ur.ma];
          if (p.accumulate) {  // x + (sum + bias): the composed ops' order
            o[ur.ja] = __fadd_rn(o[ur.ja], bias != nullptr ? __fadd_rn(a, bias[ur.ja]) : a);
            if (ur.b_valid)
              o[ur.jb] = __fadd_rn(o[ur.jb], bias != nullptr ? __fadd_rn(b, bias[ur.jb]) : b);
          } else {
            o[ur.ja] = bias != nullptr ? __fadd_rn(a, bias[ur.ja]) : a;
            if (ur.b_valid) o[ur.jb] = bias != nullptr ? __fadd_rn(b, bias[ur.jb]) : b;
          }
        }
      }
    }
  }
}

// Staged one-row kernels: slots per warp and shared memory per block (no opt-in above 48 KiB).
constexpr int kMaxStages = 4;
constexpr std::int64_t kStageSmem = 48 * 1024;

// Blocks of a one-row launch whose warps compute units_per_warp units each: with the
// activation row quantized in each block's prologue, enough units per block that repeating the
// prologue costs little, and still about four blocks per SM.
// Staged kernels use the same rule up to kMaxStages units a warp (H200, 7B-shape Q4_K mix, b1
// decode: at most 4 units 250.8 tok/s, at most 8: 240.5).
int prologue_units_per_warp(std::int64_t n_units, std::int64_t units_per_block, int most) {
  constexpr std::int64_t kTargetBlocks = 528;  // 4 per SM on 132 SMs
  return static_cast<int>(
      std::clamp<std::int64_t>(n_units / (units_per_block * kTargetBlocks), 1, most));
}

// -1: not set by a test; then ZINFER_Q8_STAGE=0 turns staging off (a measurement switch).
std::atomic<int> g_staging{-1};

bool q8_staging() {
  const int v = g_staging.load(std::memory_order_relaxed);
  if (v >= 0) return v != 0;
  static const bool env = env_flag("ZINFER_Q8_STAGE", true);
  return env;
}

template <Q8Mode M>
bool launch_typed(GgmlType t, Q8Params p, cudaStream_t stream) {
  const int nr = p.rows == 1 ? 1 : kTileRows;
  p.n_tiles = (p.rows + nr - 1) / nr;
  p.warps_per_unit = split_warps(p.layout.k);
  const std::int64_t units_per_block = kWarps / p.warps_per_unit;
  const bool staged = nr == 1 && p.src == nullptr && q8_staging();
  if (nr == 1 && p.src != nullptr) {
    p.units_per_warp = prologue_units_per_warp(p.n_units, units_per_block, 8);
  } else if (staged) {
    p.units_per_warp = prologue_units_per_warp(p.n_units, units_per_block, kMaxStages);
  }
  const std::int64_t per_block = units_per_block * p.units_per_warp;
  const std::int64_t unit_blocks = (p.n_units + per_block - 1) / per_block;
  const dim3 grid(static_cast<unsigned>(unit_blocks * p.n_tiles));
  const std::size_t smem = p.src != nullptr ? p.layout.row_bytes : 0;
  return q8::dispatch_q8_type(t, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (staged) {
      // Slots for a warp's part of two rows, widened to 16-byte words; as many (up to
      // kMaxStages, one per unit) as fit the block's shared memory.
      using Tr = q8::Q8Traits<T>;
      const std::int64_t nb = p.layout.k / Tr::kBlockElems;
      const std::int64_t per_part = (nb + p.warps_per_unit - 1) / p.warps_per_unit;
      const std::int64_t slice = (per_part * Tr::kBlockBytes + 30 + 15) / 16 * 16;
      p.stage_bytes = static_cast<int>(2 * slice);
      p.stages = std::min(p.units_per_warp, kMaxStages);
      while (p.stages > 1 &&
             static_cast<std::int64_t>(kWarps) * p.stages * p.stage_bytes > kStageSmem)
        --p.stages;
      const std::size_t ring = static_cast<std::size_t>(kWarps) * p.stages * p.stage_bytes;
      if (ring <= kStageSmem) {
        if (p.layout.q16) {
          q8_matvec_kernel<T, 1, M, true, false, true><<<grid, kThreads, ring, stream>>>(p);
        } else {
          q8_matvec_kernel<T, 1, M, false, false, true><<<grid, kThreads, ring, stream>>>(p);
        }
        return;
      }
    }
    if (nr == 1 && p.src != nullptr) {
      if (p.layout.q16) {
        q8_matvec_kernel<T, 1, M, true, true><<<grid, kThreads, smem, stream>>>(p);
      } else {
        q8_matvec_kernel<T, 1, M, false, true><<<grid, kThreads, smem, stream>>>(p);
      }
    } else if (nr == 1) {
      if (p.layout.q16) {
        q8_matvec_kernel<T, 1, M, true, false><<<grid, kThreads, 0, stream>>>(p);
      } else {
        q8_matvec_kernel<T, 1, M, false, false><<<grid, kThreads, 0, stream>>>(p);
      }
    } else if (p.layout.q16) {
      q8_matvec_kernel<T, kTileRows, M, true, false><<<grid, kThreads, 0, stream>>>(p);
    } else {
      q8_matvec_kernel<T, kTileRows, M, false, false><<<grid, kThreads, 0, stream>>>(p);
    }
  });
}

// The activation fields of the parameters.
void set_act(Q8Params& p, const Q8Act& a) {
  p.act = a.data;
  p.layout = a.layout;
  p.rows = a.rows;
  p.src = a.src;
  p.norm = a.norm;
  p.norm_w = a.norm_w;
  p.eps = a.eps;
}

bool grid_fits(std::int64_t n_units, std::int64_t rows) {
  const int nr = rows == 1 ? 1 : kTileRows;
  const std::int64_t blocks = n_units * ((rows + nr - 1) / nr);
  return blocks >= 1 && blocks <= 0x7fffffff;
}

bool act_fits(const Q8Act& a, const QuantMatrixView& w) {
  const bool source = a.src != nullptr ? a.data == nullptr && a.rows == 1 &&
                                             a.layout.row_bytes <= kMaxPrologueBytes &&
                                             reinterpret_cast<std::uintptr_t>(a.src) % 16 == 0
                                       : a.data != nullptr;
  return source && a.rows >= 1 && a.layout.k == w.ne0 &&
         (a.layout.q16 || a.layout.type == q8_act_type(w.type)) && q8_matvec_supported(w) &&
         reinterpret_cast<std::uintptr_t>(a.data) % 16 == 0;
}

std::string shape(const QuantMatrixView& w) {
  return "[" + std::to_string(w.ne1) + "," + std::to_string(w.ne0) + "] " +
         std::string(quant::type_name(w.type));
}

}  // namespace

Status launch_q8_qkv_rope(const Q8Act& act, const QkvRopeArgs& a, cudaStream_t stream) {
  const std::int64_t hd = a.head_dim;
  const std::int64_t dq = static_cast<std::int64_t>(a.n_head) * hd;
  const std::int64_t dkv = static_cast<std::int64_t>(a.n_head_kv) * hd;
  const bool same = a.wq.type == a.wk.type && a.wq.type == a.wv.type && a.wq.ne0 == a.wk.ne0 &&
                    a.wq.ne0 == a.wv.ne0;
  if (!same || hd <= 0 || hd % 2 != 0 || a.n_rot < 0 || a.n_rot % 2 != 0 || a.n_rot > hd ||
      a.wq.ne1 != dq || a.wk.ne1 != dkv || a.wv.ne1 != dkv || !act_fits(act, a.wq) ||
      !q8_matvec_supported(a.wk) || !q8_matvec_supported(a.wv) || a.q.rows != act.rows ||
      a.k.rows != act.rows || a.v.rows != act.rows || a.q.cols != dq || a.k.cols != dkv ||
      a.v.cols != dkv || a.positions == nullptr || !grid_fits((dq + 2 * dkv) / 2, act.rows)) {
    return make_error(ErrorCode::kInferenceFailed,
                      "q8_qkv_rope: bad shapes (act [" + std::to_string(act.rows) + "," +
                          std::to_string(act.layout.k) + "], n_head " + std::to_string(a.n_head) +
                          ", n_head_kv " + std::to_string(a.n_head_kv) + ", head_dim " +
                          std::to_string(hd) + ")");
  }
  Q8Params p;
  set_act(p, act);
  p.row_bytes = quant::row_size(a.wq.type, a.wq.ne0);
  p.n_units = (dq + 2 * dkv) / 2;
  set_qkv_rope_params(p, a);
  if (!launch_typed<Q8Mode::kQkvRope>(a.wq.type, p, stream)) {
    return make_error(ErrorCode::kInferenceFailed, "q8_qkv_rope: unsupported " + shape(a.wq));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_matvec_kernel<qkv_rope>");
  return ok_status();
}

bool q8_prologue_fits(const q8::Q8ActLayout& layout, std::int64_t rows, const float* src,
                      std::int64_t weight_rows, std::size_t weight_row_bytes) {
  constexpr std::int64_t kMaxK = 4096;
  // Measured on an H200 (kernels/README.md): one kernel instead of two pays where the products
  // are latency-bound (every matrix of a 0.5B model: b1 decode +2%), and costs where they are
  // bandwidth-bound (7B gate/up and output matrices: b1 decode -7% with the prologue there).
  constexpr double kSmallWeights = 8.0 * 1024 * 1024;
  // ZINFER_Q8_PROLOGUE=0 turns the prologue off (a measurement switch: same results).
  static const bool enabled = env_flag("ZINFER_Q8_PROLOGUE", true);
  if (!enabled || rows != 1 || src == nullptr || reinterpret_cast<std::uintptr_t>(src) % 16 != 0 ||
      layout.k > kMaxK || layout.row_bytes > kMaxPrologueBytes || weight_rows < 1) {
    return false;
  }
  return static_cast<double>(weight_rows) * static_cast<double>(weight_row_bytes) <= kSmallWeights;
}

void set_q8_staging(bool on) { g_staging.store(on ? 1 : 0, std::memory_order_relaxed); }

quant::GgmlType q8_act_type(quant::GgmlType weight_type) {
  return quant::traits(weight_type).vec_dot_type;
}

bool q8_matvec_supported(const QuantMatrixView& w) {
  if (!q8::q8_dot_supported(w.type) || w.ne0 <= 0) return false;
  const std::int64_t block = quant::traits(w.type).block_size;
  return w.ne0 % block == 0 && reinterpret_cast<std::uintptr_t>(w.data) % 16 == 0;
}

Status launch_q8_matvec(const Q8Act& a, const Q8MatvecOut* mats, int n_mats, bool accumulate,
                        cudaStream_t stream) {
  if (n_mats < 1 || n_mats > kMaxMats) {
    return make_error(ErrorCode::kInferenceFailed, "q8_matvec: 1 to 3 matrices");
  }
  Q8Params p;
  set_act(p, a);
  p.row_bytes = quant::row_size(mats[0].w.type, mats[0].w.ne0);
  p.n_mats = n_mats;
  p.accumulate = accumulate;
  std::int64_t units = 0;
  for (int i = 0; i < n_mats; ++i) {
    const Q8MatvecOut& m = mats[i];
    if (!act_fits(a, m.w) || m.w.type != mats[0].w.type || m.out.rows != a.rows ||
        m.out.cols != m.w.ne1) {
      return make_error(ErrorCode::kInferenceFailed,
                        "q8_matvec: bad shapes (act [" + std::to_string(a.rows) + "," +
                            std::to_string(a.layout.k) + "], w " + shape(m.w) + ")");
    }
    p.w[i] = static_cast<const std::uint8_t*>(m.w.data);
    p.out[i] = m.out.data;
    p.out_stride[i] = m.out.stride;
    p.bias[i] = m.bias;
    p.ne1[i] = m.w.ne1;
    units += (m.w.ne1 + 1) / 2;
    p.unit_end[i] = units;
  }
  p.n_units = units;
  if (!grid_fits(units, a.rows) || !launch_typed<Q8Mode::kPlain>(mats[0].w.type, p, stream)) {
    return make_error(ErrorCode::kInferenceFailed, "q8_matvec: unsupported " + shape(mats[0].w));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_matvec_kernel<plain>");
  return ok_status();
}

Status launch_q8_gated_matvec(MatrixView out, const Q8Act& a, const QuantMatrixView& gate,
                              const QuantMatrixView& up, GatedAct act, cudaStream_t stream) {
  if (!act_fits(a, gate) || up.type != gate.type || up.ne0 != gate.ne0 || up.ne1 != gate.ne1 ||
      out.rows != a.rows || out.cols != gate.ne1 || !grid_fits(gate.ne1, a.rows) ||
      reinterpret_cast<std::uintptr_t>(up.data) % 16 != 0) {
    return make_error(ErrorCode::kInferenceFailed,
                      "q8_gated_matvec: bad shapes (w " + shape(gate) + ", up " + shape(up) + ")");
  }
  Q8Params p;
  set_act(p, a);
  p.row_bytes = quant::row_size(gate.type, gate.ne0);
  p.w[0] = static_cast<const std::uint8_t*>(gate.data);
  p.w[1] = static_cast<const std::uint8_t*>(up.data);
  p.out[0] = out.data;
  p.out_stride[0] = out.stride;
  p.n_units = gate.ne1;
  p.gact = act;
  if (!launch_typed<Q8Mode::kGated>(gate.type, p, stream)) {
    return make_error(ErrorCode::kInferenceFailed, "q8_gated_matvec: unsupported " + shape(gate));
  }
  ZINFER_CUDA_LAUNCH_CHECK("q8_matvec_kernel<gated>");
  return ok_status();
}

}  // namespace zinfer::cuda
