// fp16 tensor-core tiles (f16_mma.h). A block computes 64 weight rows × kCols activation rows
// (4 × CW warps, each 16 weight rows × 8·NT activation rows). K is walked in stages of 256
// elements: the stage's raw weight blocks (every row from its own 16-byte-aligned start, as in
// q8_mma_tile.cuh) and fp16 activation rows are copied into shared memory with cp.async, double
// buffered; all threads then dequantize the stage's weights into a shared tile of halves
// (QuantTraits::group8, the CPU's dequantize_row, rounded to fp16), and each warp multiplies
// 16-element steps of it with ldmatrix fragments and mma.m16n8k16 (fp32 accumulators chained
// through C). Rows of 256 halves sit 528 bytes apart, so the 8 row addresses of an ldmatrix
// matrix fall in 8 different 16-byte bank groups.
#include <cuda_fp16.h>

#include <string>

#include "engine/core/env_switch.h"
#include "kernels/cuda_check.h"
#include "kernels/f16_mma.h"
#include "kernels/pdl.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_tile.cuh"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

using quant::GgmlType;

constexpr int kStageElems = q8mma::kTileStageElems;
constexpr int kRowWarps = 4;
constexpr int kHalfStride = 264;  // halves a staged row: 256 + 8 of padding (528 bytes)

struct F16MmaParams {
  const std::uint16_t* act;  // [rows][stride] halves
  const float* scale;        // [rows]
  std::int64_t rows, stride;
  const std::uint8_t* w;  // [ne1] rows of row_bytes, 16-byte aligned base
  std::size_t row_bytes;
  std::int64_t ne1, nb;  // weight rows, blocks a row
  int parts;
  float* out;
  std::int64_t out_stride;
  const float* bias;
  bool accumulate;
};

template <GgmlType T, int NT, int CW>
struct F16Shape {
  using Tr = q8mma::MmaTraits<T>;
  static constexpr int kRows = 16 * kRowWarps;
  static constexpr int kCols = 8 * NT * CW;
  static constexpr int kThreads = 32 * kRowWarps * CW;
  static constexpr int kG = q8mma::StageRow<T>::kG;           // weight blocks a stage
  static constexpr int kWStride = q8mma::StageRow<T>::kSpan;  // a staged raw row
  static constexpr int kPieces = kWStride / 16;
  static constexpr std::size_t kRawBytes = static_cast<std::size_t>(kRows) * kWStride;
  static constexpr std::size_t kActBytes = static_cast<std::size_t>(kCols) * kHalfStride * 2;
  static constexpr std::size_t kDeqBytes = static_cast<std::size_t>(kRows) * kHalfStride * 2;
  static constexpr std::size_t kSmemBytes = 2 * kRawBytes + 2 * kActBytes + kDeqBytes;
  static_assert(NT % 2 == 0, "B fragments are loaded two 8-column tiles at a time");
  static_assert(kRawBytes % 16 == 0 && kActBytes % 16 == 0, "16-byte aligned regions");
};

__device__ __forceinline__ void cp16(void* dst, const void* src) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(src) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* p) {
  const auto s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// d = a · b + d on this lane's fragments (PTX m16n8k16 layout).
__device__ __forceinline__ void mma_f16(float (&d)[4], const std::uint32_t (&a)[4],
                                        std::uint32_t b0, std::uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ std::uint32_t half2_bits(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}

template <GgmlType T, int NT, int CW>
__global__ void __launch_bounds__(F16Shape<T, NT, CW>::kThreads)
    f16_mma_tile_kernel(const F16MmaParams p) {
  using S = F16Shape<T, NT, CW>;
  using Tr = q8mma::MmaTraits<T>;
  extern __shared__ __align__(16) std::uint8_t f16_smem[];
  pdl_wait();
  pdl_launch_dependents();
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31, warp = tid >> 5;
  const int rw = warp % kRowWarps, cw = warp / kRowWarps;
  const int g = lane >> 2, t = lane & 3;
  const std::int64_t jb = static_cast<std::int64_t>(blockIdx.y) * S::kRows;
  const std::int64_t nbase = static_cast<std::int64_t>(blockIdx.x) * S::kCols;
  const std::int64_t st_end = (p.nb + S::kG - 1) / S::kG;
  const std::size_t w_bytes = p.row_bytes * static_cast<std::size_t>(p.ne1);
  auto raw = [&](int buf) { return f16_smem + static_cast<std::size_t>(buf) * S::kRawBytes; };
  auto act = [&](int buf) {
    return f16_smem + 2 * S::kRawBytes + static_cast<std::size_t>(buf) * S::kActBytes;
  };
  std::uint8_t* deq = f16_smem + 2 * S::kRawBytes + 2 * S::kActBytes;
  // Offset of block b0 of the tile's weight row r (clamped to the last row) in the matrix.
  auto row_off = [&](int r, std::int64_t b0) {
    const std::int64_t row = jb + r < p.ne1 ? jb + r : p.ne1 - 1;
    return static_cast<std::size_t>(row) * p.row_bytes +
           static_cast<std::size_t>(b0) * Tr::kBlockBytes;
  };
  auto blocks_in = [&](std::int64_t st) {
    const std::int64_t left = p.nb - st * S::kG;
    return static_cast<int>(left < S::kG ? left : S::kG);
  };

  // Issues the copies of stage st into buffer buf.
  auto stage_copy = [&](std::int64_t st, int buf) {
    const std::int64_t b0 = st * S::kG;
    const int bytes = blocks_in(st) * Tr::kBlockBytes;
    for (int idx = tid; idx < S::kRows * S::kPieces; idx += S::kThreads) {
      const int r = idx / S::kPieces, c = idx % S::kPieces;
      const std::size_t off = row_off(r, b0);
      const std::size_t a0 = off & ~static_cast<std::size_t>(15);
      if (16 * c >= static_cast<int>(off - a0) + bytes) continue;
      const std::size_t src = a0 + 16 * static_cast<std::size_t>(c);
      std::uint8_t* dst = raw(buf) + static_cast<std::size_t>(r) * S::kWStride + 16 * c;
      if (src + 16 <= w_bytes) {
        cp16(dst, p.w + src);
      } else {  // the matrix's last bytes (its size is even): no read past its end
        for (std::size_t i = 0; src + i < w_bytes; i += 2) {
          *reinterpret_cast<std::uint16_t*>(dst + i) =
              *reinterpret_cast<const std::uint16_t*>(p.w + src + i);
        }
      }
    }
    const int a_pieces = blocks_in(st) * Tr::kBlockElems / 8;
    const std::int64_t e0 = st * kStageElems;
    for (int idx = tid; idx < S::kCols * 32; idx += S::kThreads) {
      const int c = idx >> 5, piece = idx & 31;
      if (piece >= a_pieces) continue;
      const std::int64_t n = nbase + c < p.rows ? nbase + c : p.rows - 1;
      cp16(act(buf) + static_cast<std::size_t>(c) * kHalfStride * 2 + 16 * piece,
           p.act + n * p.stride + e0 + 8 * piece);
    }
  };
  // The stage's weights as halves: row r's group gi (8 elements) at deq[r][8·gi].
  auto dequant = [&](std::int64_t st, int buf) {
    const std::int64_t b0 = st * S::kG;
    const int groups = blocks_in(st) * Tr::kBlockElems / 8;
    for (int idx = tid; idx < S::kRows * (kStageElems / 8); idx += S::kThreads) {
      const int r = idx / (kStageElems / 8), gi = idx % (kStageElems / 8);
      if (gi >= groups) continue;
      const std::uint8_t* src =
          raw(buf) + static_cast<std::size_t>(r) * S::kWStride + (row_off(r, b0) & 15);
      float v[8];
      QuantTraits<T>::group8(src, gi, v);
      uint4 h;
      h.x = half2_bits(v[0], v[1]);
      h.y = half2_bits(v[2], v[3]);
      h.z = half2_bits(v[4], v[5]);
      h.w = half2_bits(v[6], v[7]);
      *reinterpret_cast<uint4*>(deq + static_cast<std::size_t>(r) * kHalfStride * 2 + 16 * gi) = h;
    }
  };

  float acc[NT][4] = {};
  float out[NT][4] = {};
  int part = 0;
  std::int64_t part_end = q8mma::part_begin(p.nb, p.parts, 1);
  auto fold = [&]() {  // a part ends: its sum joins the output, in part order
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        out[nt][i] = part == 0 ? acc[nt][i] : __fadd_rn(out[nt][i], acc[nt][i]);
        acc[nt][i] = 0.0f;
      }
    }
  };
  // This lane's ldmatrix rows: A (weights) row and column offset, B (activations) row and
  // column offset (two 8-column tiles a load).
  const int a_row = 16 * rw + (lane & 7) + 8 * ((lane >> 3) & 1);
  const int a_col = 8 * (lane >> 4);
  const int b_row = 8 * NT * cw + (lane & 7) + 8 * (lane >> 4);
  const int b_col = 8 * ((lane >> 3) & 1);

  stage_copy(0, 0);
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  for (std::int64_t st = 0; st < st_end; ++st) {
    const int buf = static_cast<int>(st & 1);
    if (st + 1 < st_end) {
      stage_copy(st + 1, buf ^ 1);
      asm volatile("cp.async.commit_group;\n" ::: "memory");
      asm volatile("cp.async.wait_group 1;\n" ::: "memory");
    } else {
      asm volatile("cp.async.wait_group 0;\n" ::: "memory");
    }
    __syncthreads();  // stage st's raw weights and activations are in shared memory
    dequant(st, buf);
    __syncthreads();  // its halves too
    const std::int64_t b0 = st * S::kG;
    const int nblk = blocks_in(st);
    const std::uint8_t* a_base = deq + static_cast<std::size_t>(a_row) * kHalfStride * 2;
    const std::uint8_t* b_base = act(buf) + static_cast<std::size_t>(b_row) * kHalfStride * 2;
    for (int bi = 0; bi < nblk; ++bi) {
      if (b0 + bi == part_end) {
        fold();
        ++part;
        part_end = q8mma::part_begin(p.nb, p.parts, part + 1);
      }
#pragma unroll
      for (int s = 0; s < Tr::kBlockElems / 16; ++s) {
        const int k = bi * Tr::kBlockElems + 16 * s;
        std::uint32_t a[4];
        ldmatrix_x4(a, a_base + 2 * (k + a_col));
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
          std::uint32_t b[4];
          ldmatrix_x4(
              b, b_base + static_cast<std::size_t>(16 * np) * kHalfStride * 2 + 2 * (k + b_col));
          mma_f16(acc[2 * np], a, b[0], b[1]);
          mma_f16(acc[2 * np + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // everyone is done with buffer buf and the halves before they are rewritten
  }
  fold();
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const std::int64_t j = jb + 16 * rw + g + 8 * (i >> 1);
      const std::int64_t n = nbase + 8 * NT * cw + 8 * nt + 2 * t + (i & 1);
      if (j >= p.ne1 || n >= p.rows) continue;
      float v = __fmul_rn(out[nt][i], p.scale[n]);
      if (p.bias != nullptr) v = __fadd_rn(v, p.bias[j]);
      float* o = p.out + n * p.out_stride + j;
      *o = p.accumulate ? __fadd_rn(*o, v) : v;
    }
  }
}

template <GgmlType T, int NT, int CW>
void launch_shape(const F16MmaParams& p, cudaStream_t stream) {
  using S = F16Shape<T, NT, CW>;
  auto* kernel = f16_mma_tile_kernel<T, NT, CW>;
  // Above 48 KB of dynamic shared memory a kernel must opt in, once per process.
  static const bool opted_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(S::kSmemBytes)) == cudaSuccess;
  (void)opted_in;
  const dim3 grid(static_cast<unsigned>((p.rows + S::kCols - 1) / S::kCols),
                  static_cast<unsigned>((p.ne1 + S::kRows - 1) / S::kRows));
  launch_pdl(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream, p);
}

// Activation rows a block, by batch: 16 up to 16 rows, 64 up to 64, else 128 — or forced by
// ZINFER_F16_COLS=16|64|128 (a measurement switch). The shape never changes an output's bits.
int f16_cols(std::int64_t rows) {
  static const int env = env_choice("ZINFER_F16_COLS", {"16", "64", "128"}, -1, -1);
  if (env >= 0) return env == 0 ? 16 : (env == 1 ? 64 : 128);
  return rows <= 16 ? 16 : (rows <= 64 ? 64 : 128);
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

bool f16_mma_weight_supported(const QuantMatrixView& w) {
  bool type_ok = false;
  q8mma::dispatch_mma_type(w.type, [&](auto) { type_ok = true; });
  return type_ok && w.ne0 >= 1 && w.ne0 % quant::traits(w.type).block_size == 0 &&
         w.ne0 % 16 == 0 && w.ne1 >= 1 && aligned16(w.data) && (w.ne1 + 63) / 64 <= 65535;
}

bool f16_mma_supported(const F16Act& a, const QuantMatrixView& w) {
  return f16_mma_weight_supported(w) && a.k == w.ne0 && a.rows >= 1 && a.stride % 8 == 0 &&
         a.stride >= a.k && aligned16(a.data) && a.scale != nullptr;
}

Status launch_f16_mma(const F16Act& a, const QuantMatrixView& w, MatrixView out, const float* bias,
                      bool accumulate, cudaStream_t stream) {
  if (!f16_mma_supported(a, w) || out.rows != a.rows || out.cols != w.ne1) {
    return make_error(ErrorCode::kInferenceFailed,
                      "f16_mma: bad shapes (act [" + std::to_string(a.rows) + "," +
                          std::to_string(a.k) + "], w [" + std::to_string(w.ne1) + "," +
                          std::to_string(w.ne0) + "] " + std::string(quant::type_name(w.type)) +
                          ")");
  }
  F16MmaParams p{};
  p.act = a.data;
  p.scale = a.scale;
  p.rows = a.rows;
  p.stride = a.stride;
  p.w = static_cast<const std::uint8_t*>(w.data);
  p.row_bytes = quant::row_size(w.type, w.ne0);
  p.ne1 = w.ne1;
  const int block = static_cast<int>(quant::traits(w.type).block_size);
  p.nb = w.ne0 / block;
  p.parts = q8mma::mma_parts(p.nb, block);
  p.out = out.data;
  p.out_stride = out.stride;
  p.bias = bias;
  p.accumulate = accumulate;
  const int cols = f16_cols(a.rows);
  q8mma::dispatch_mma_type(w.type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    if (cols == 128) {
      launch_shape<T, 8, 2>(p, stream);
    } else if (cols == 64) {
      launch_shape<T, 4, 2>(p, stream);
    } else {
      launch_shape<T, 2, 1>(p, stream);
    }
  });
  ZINFER_CUDA_LAUNCH_CHECK("f16_mma_tile_kernel");
  return ok_status();
}

}  // namespace zinfer::cuda
