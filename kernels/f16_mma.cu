// fp16 tensor-core tiles (f16_mma.h). A block computes 64 weight rows × kCols activation rows
// (4 × CW warps, each 16 weight rows × 8·NT activation rows). K is walked in stages of 256
// elements: the stage's raw weight blocks (every row from its own 16-byte-aligned start, as in
// q8_mma_tile.cuh) and fp16 activation rows are copied into shared memory with cp.async, double
// buffered; all threads then dequantize the stage's weights into a shared tile of halves
// (QuantTraits::group8, the CPU's dequantize_row, rounded to fp16), and each warp multiplies
// 16-element steps of it with ldmatrix fragments and mma.m16n8k16 (fp32 accumulators chained
// through C). Rows of 256 halves sit 528 bytes apart, so the 8 row addresses of an ldmatrix
// matrix fall in 8 different 16-byte bank groups.
#include <string>

#include "engine/core/env_switch.h"
#include "kernels/cuda_check.h"
#include "kernels/f16_mma.h"
#include "kernels/f16_mma_small.cuh"
#include "kernels/f16_mma_tile.cuh"
#include "kernels/pdl.h"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_launch.cuh"
#include "kernels/quant_block.cuh"

namespace zinfer::cuda {
namespace {

using f16mma::F16MmaParams;
using f16mma::F16Shape;
using quant::GgmlType;

constexpr std::size_t kMaxSmemPerBlock = 227 * 1024;  // sm_90's opt-in limit
constexpr std::size_t kMaxSmemPerSm = 226 * 1024;     // 228 KB less 1 KB reserved a block

// The device side of the context f16_tile_body is written against (f16_mma_tile.cuh): the
// tiles' thread and block indices, barrier and cp.async copies (BlockCtx; no MmaParams: the
// body stores its own outputs), ldmatrix, the fp16 mma and the dequantization.
struct DeviceCtx : BlockCtx<false> {
  __device__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* p) const {
    const auto s = static_cast<unsigned>(__cvta_generic_to_shared(p));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
  }
  // d = a · b + d on this lane's fragments (PTX m16n8k16 layout).
  __device__ void mma_f16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                          std::uint32_t b1) const {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  template <GgmlType T>
  __device__ void group8(const std::uint8_t* row, int g, float (&v)[8]) const {
    QuantTraits<T>::group8(row, g, v);
  }
};

template <GgmlType T, int NT, int CW, int RW, bool kLean>
__global__ void __launch_bounds__(F16Shape<T, NT, CW, RW, kLean>::kThreads,
                                  F16Shape<T, NT, CW, RW, kLean>::kMinBlocks)
    f16_mma_tile_kernel(const F16MmaParams p) {
  extern __shared__ __align__(16) std::uint8_t f16_smem[];
  pdl_wait();
  pdl_launch_dependents();
  DeviceCtx x{{nullptr, f16_smem}};
  f16mma::f16_tile_body<T, NT, CW, RW, kLean>(
      p, x, p.part_ws != nullptr ? static_cast<int>(blockIdx.z) : -1);
}

// A split launch's outputs from its parts' sums (f16_combine_body), one a thread.
__global__ void __launch_bounds__(256) f16_combine_kernel(const F16MmaParams p) {
  pdl_wait();
  pdl_launch_dependents();
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < p.ws_part) f16mma::f16_combine_body(p, i);
}

template <GgmlType T, int NT>
__global__ void __launch_bounds__(f16mma::F16SmallShape<NT>::kThreads)
    f16_mma_small_kernel(const F16MmaParams p) {
  extern __shared__ __align__(16) std::uint8_t f16_small_smem[];
  pdl_wait();
  pdl_launch_dependents();
  DeviceCtx x{{nullptr, f16_small_smem}};
  f16mma::f16_small_body<T, NT>(p, x);
}

template <GgmlType T, int NT>
void launch_small(F16MmaParams p, cudaStream_t stream) {
  using S = f16mma::F16SmallShape<NT>;
  const std::int64_t tiles = f16mma::stack_tiles(p, f16mma::kSmallRows);
  launch_pdl(f16_mma_small_kernel<T, NT>, dim3(1, static_cast<unsigned>(tiles)), dim3(S::kThreads),
             S::kSmemBytes, stream, p);
}

// The most activation rows of the types f16_mma_small.cuh takes that run its kernel (A
// fragments dequantized in registers, a warp a part of K) instead of the 16- or 64-column
// tiles — the same bits. Up to 8 by default: on an H100 (2026-12-06) it beat the tiles at 1
// and 8 rows (0.5B 441 → 612 and 3,554 → 4,395 tok/s; 7B 105 → 175 and 951 → 1,156) and lost
// at 32 (10,207 → 9,631; 2,274 → 2,083). ZINFER_F16_SMALL=0 never, =1 up to 32 (measurement
// switches).
std::int64_t f16_small_rows() {
  static const int env = env_choice("ZINFER_F16_SMALL", {"0", "1"}, -1, -1);
  return env == 0 ? 0 : (env == 1 ? 32 : 8);
}

template <GgmlType T, int NT, int CW, int RW = f16mma::kRowWarps, bool kLean = false>
void launch_shape(F16MmaParams p, cudaStream_t stream) {
  using S = F16Shape<T, NT, CW, RW, kLean>;
  if constexpr ((RW != f16mma::kRowWarps && S::kSmemBytes > kMaxSmemPerBlock) ||
                (kLean && 2 * S::kSmemBytes > kMaxSmemPerSm)) {
    launch_shape<T, NT, CW>(p, stream);  // this type's stage does not fit the shape
    return;
  }
  auto* kernel = f16_mma_tile_kernel<T, NT, CW, RW, kLean>;
  // Above 48 KB of dynamic shared memory a kernel must opt in, once per process.
  static const bool opted_in =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(S::kSmemBytes)) == cudaSuccess;
  (void)opted_in;
  const std::int64_t tiles = f16mma::stack_tiles(p, S::kRows);
  const dim3 grid(static_cast<unsigned>((p.rows + S::kCols - 1) / S::kCols),
                  static_cast<unsigned>(tiles),
                  static_cast<unsigned>(p.part_ws != nullptr ? p.parts : 1));
  launch_pdl(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream, p);
  if (p.part_ws != nullptr) {
    launch_pdl(f16_combine_kernel, dim3(static_cast<unsigned>((p.ws_part + 255) / 256)), dim3(256),
               0, stream, p);
  }
}

int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v < 1) {
      (void)cudaGetLastError();
      return 132;
    }
    return v;
  }();
  return n;
}

// The stage a launch of 64 or 128 columns takes: plain (64 weight rows, one block a
// multiprocessor), tall (96 rows; 128 columns only) or lean (64 rows, two blocks a
// multiprocessor; where the type's stage fits). Chosen by the waves of blocks each needs times
// its block time relative to a plain block — tall 1.25 (ncu: the 7B gate tile 522 µs in six
// waves against 626 µs in nine), lean 1.4 (H100, 7B: it wins prefill, 9,536–9,766 tok/s against
// 8,163–8,226, and 32 sequences, 1,751 against 1,600, loses 128 sequences, 4,712–4,718 against
// 5,273, and loses 0.5B prefill, 42,385 against 47,111; 1.4 is the factor between those
// outcomes), the cheapest first among equals. ZINFER_F16_ROWS=64|96 forces plain or tall,
// ZINFER_F16_LEAN=1 forces lean and =0 leaves it out (measurement switches). The stage never
// changes an output's bits.
enum class F16Stage { kPlain, kTall, kLean };

F16Stage f16_stage(const F16MmaParams& p, int cols, bool lean_fits) {
  static const int rows_env = env_choice("ZINFER_F16_ROWS", {"64", "96"}, -1, -1);
  static const int lean_env = env_choice("ZINFER_F16_LEAN", {"0", "1"}, -1, -1);
  if (rows_env >= 0) return rows_env == 1 && cols == 128 ? F16Stage::kTall : F16Stage::kPlain;
  if (lean_env == 1 && lean_fits) return F16Stage::kLean;
  F16MmaParams q = p;
  const std::int64_t col_tiles = (p.rows + cols - 1) / cols, sms = sm_count();
  auto waves = [&](int rows_per_tile, int per_sm) {
    const std::int64_t blocks = col_tiles * f16mma::stack_tiles(q, rows_per_tile);
    return (blocks + per_sm * sms - 1) / (per_sm * sms);
  };
  F16Stage best = F16Stage::kPlain;
  std::int64_t cost = 40 * waves(64, 1);  // in fortieths of a plain block's time
  if (cols == 128 && 50 * waves(96, 1) < cost) {
    best = F16Stage::kTall;
    cost = 50 * waves(96, 1);
  }
  if (lean_fits && lean_env != 0 && 56 * waves(64, 2) < cost) best = F16Stage::kLean;
  return best;
}

// Activation rows a block, by batch: 16 up to 16 rows, 64 up to 64, else 128 — or forced by
// ZINFER_F16_COLS=16|64|128 (a measurement switch). The shape never changes an output's bits.
int f16_cols(std::int64_t rows) {
  static const int env = env_choice("ZINFER_F16_COLS", {"16", "64", "128"}, -1, -1);
  if (env >= 0) return env == 0 ? 16 : (env == 1 ? 64 : 128);
  return rows <= 16 ? 16 : (rows <= 64 ? 64 : 128);
}

}  // namespace

bool f16_mma_weight_supported(const QuantMatrixView& w) {
  bool type_ok = false;
  q8mma::dispatch_mma_type(w.type, [&](auto) { type_ok = true; });
  return type_ok && w.ne0 >= 1 && w.ne0 % quant::traits(w.type).block_size == 0 &&
         w.ne0 % 16 == 0 && w.ne1 >= 1 && aligned16(w.data) && (w.ne1 + 63) / 64 <= 65535;
}

bool f16_mma_supported(const F16Act& a, const QuantMatrixView& w) {
  return f16_mma_weight_supported(w) && a.k == w.ne0 && a.rows >= 1 && a.stride % 8 == 0 &&
         a.stride < (std::int64_t{1} << 23) && a.stride >= a.k && aligned16(a.data) &&
         a.scale != nullptr;
}

namespace {

// The launch's parameters (ok = false where the shapes do not fit: f16_mma_supported, one type
// and K, outputs of the activations' rows and the matrix's rows, at most 65535 row tiles).
F16MmaParams make_params(const F16Act& a, const F16Product* mats, int n, bool accumulate,
                         bool& ok) {
  ok = n >= 1 && n <= f16mma::kMaxMats;
  std::int64_t tiles = 0;  // 64-row tiles: the grid's y extent must stay within 65535
  for (int m = 0; ok && m < n; ++m) {
    const F16Product& x = mats[m];
    ok = f16_mma_supported(a, x.w) && x.out.rows == a.rows && x.out.cols == x.w.ne1 &&
         x.w.type == mats[0].w.type && x.w.ne0 == mats[0].w.ne0;
    tiles += (x.w.ne1 + 63) / 64;
  }
  ok = ok && tiles <= 65535;
  F16MmaParams p{};
  if (!ok) return p;
  p.act = a.data;
  p.scale = a.scale;
  p.rows = a.rows;
  p.stride = a.stride;
  p.n_mats = n;
  for (int m = 0; m < n; ++m) {
    p.mat[m] = {static_cast<const std::uint8_t*>(mats[m].w.data), mats[m].w.ne1, mats[m].out.data,
                mats[m].out.stride, mats[m].bias};
  }
  const QuantMatrixView& w = mats[0].w;
  p.row_bytes = quant::row_size(w.type, w.ne0);
  const int block = static_cast<int>(quant::traits(w.type).block_size);
  p.nb = w.ne0 / block;
  p.parts = q8mma::mma_parts(p.nb, block);
  p.accumulate = accumulate;
  f16mma::set_ws_layout(p);
  return p;
}

// ZINFER_F16_SPLIT=0|1: never split the tiles over K / split them wherever K has two parts or
// more (measurement switches). A split block multiplies one part, so a launch has parts× the
// blocks, each 1/parts as long, and a second kernel adds the parts' sums in order — the same
// bits. By default the tiles split where whole they make less than one wave of blocks and the
// split takes fewer waves of part-long blocks, the second kernel counted as one: the 0.5B
// shape's Q/K/V, O and down products at 32 and 128 rows (14–18 whole blocks for 132
// multiprocessors: 7–8 part-waves whole, 2 split), the 7B shape's at 32. Never for more than
// kMaxSplitBytes of part sums (the scratch comes out of the working-memory reserve). An H100
// (2026-12-06) measured the first rule, which split wherever that took fewer part-waves: 0.5B
// 128 sequences 21,239 → 33,927 tok/s and 32 sequences 7,505 → 10,213, but its prompt 49,696 →
// 40,864 (gate/up split too: 34 part-waves against 35, 139 MB of part sums) and the 7B runs
// out of memory (the 7B prompt's Q/K/V part sums alone 75 MB).
constexpr std::int64_t kMaxSplitBytes = std::int64_t{32} << 20;

bool f16_split(const F16MmaParams& p, std::int64_t blocks, int per_sm) {
  static const int env = env_choice("ZINFER_F16_SPLIT", {"0", "1"}, -1, -1);
  if (p.parts < 2 || env == 0 ||
      p.parts * p.ws_part * static_cast<std::int64_t>(sizeof(float)) > kMaxSplitBytes) {
    return false;
  }
  if (env == 1) return true;
  const std::int64_t cap = static_cast<std::int64_t>(per_sm) * sm_count();
  if (blocks >= cap) return false;  // a wave or more whole
  return (blocks * p.parts + cap - 1) / cap + 1 < p.parts;
}

// How a launch of type T runs: on the small-batch kernel, or tiles of cols columns in stage,
// split over K or not.
struct F16Plan {
  bool small = false;
  int cols = 16;
  F16Stage stage = F16Stage::kPlain;
  bool split = false;
};

template <GgmlType T>
F16Plan plan(F16MmaParams p) {
  F16Plan pl;
  if constexpr (f16mma::kSmallType<T>) {
    if (p.rows <= f16_small_rows() && f16mma::stack_tiles(p, f16mma::kSmallRows) <= 65535) {
      pl.small = true;
      return pl;
    }
  }
  constexpr bool kLeanFits =
      2 * F16Shape<T, 8, 2, f16mma::kRowWarps, true>::kSmemBytes <= kMaxSmemPerSm;
  pl.cols = f16_cols(p.rows);
  pl.stage = pl.cols >= 64 ? f16_stage(p, pl.cols, kLeanFits) : F16Stage::kPlain;
  const int rows = pl.stage == F16Stage::kTall ? 96 : 64;
  const std::int64_t blocks = (p.rows + pl.cols - 1) / pl.cols * f16mma::stack_tiles(p, rows);
  pl.split = f16_split(p, blocks, pl.stage == F16Stage::kLean ? 2 : 1);
  return pl;
}

}  // namespace

std::int64_t f16_mma_part_ws_floats(const F16Act& a, const F16Product* mats, int n) {
  bool ok = false;
  const F16MmaParams p = make_params(a, mats, n, false, ok);
  if (!ok) return 0;
  bool split = false;
  q8mma::dispatch_mma_type(mats[0].w.type,
                           [&](auto tc) { split = plan<decltype(tc)::value>(p).split; });
  return split ? p.parts * p.ws_part : 0;
}

Status launch_f16_mma_stack(const F16Act& a, const F16Product* mats, int n, bool accumulate,
                            cudaStream_t stream, float* part_ws, std::int64_t part_ws_floats) {
  bool ok = false;
  F16MmaParams p = make_params(a, mats, n, accumulate, ok);
  if (!ok) {
    std::string shapes;
    for (int m = 0; m < n && m < f16mma::kMaxMats; ++m) {
      shapes += " w [" + std::to_string(mats[m].w.ne1) + "," + std::to_string(mats[m].w.ne0) +
                "] " + std::string(quant::type_name(mats[m].w.type)) + " out [" +
                std::to_string(mats[m].out.rows) + "," + std::to_string(mats[m].out.cols) + "]";
    }
    return make_error(ErrorCode::kInferenceFailed,
                      "f16_mma: bad shapes (" + std::to_string(n) + " matrices; act [" +
                          std::to_string(a.rows) + "," + std::to_string(a.k) + "]" + shapes + ")");
  }
  q8mma::dispatch_mma_type(mats[0].w.type, [&](auto tc) {
    constexpr GgmlType T = decltype(tc)::value;
    const F16Plan pl = plan<T>(p);
    if constexpr (f16mma::kSmallType<T>) {
      if (pl.small) {
        if (a.rows <= 8) {
          launch_small<T, 1>(p, stream);
        } else if (a.rows <= 16) {
          launch_small<T, 2>(p, stream);
        } else {
          launch_small<T, 4>(p, stream);
        }
        return;
      }
    }
    // Split only with the scratch for it (f16_mma_part_ws_floats).
    if (pl.split && part_ws != nullptr && part_ws_floats >= p.parts * p.ws_part) {
      p.part_ws = part_ws;
    }
    if (pl.stage == F16Stage::kLean && pl.cols == 128) {
      launch_shape<T, 8, 2, f16mma::kRowWarps, true>(p, stream);
    } else if (pl.stage == F16Stage::kLean) {
      launch_shape<T, 4, 2, f16mma::kRowWarps, true>(p, stream);
    } else if (pl.stage == F16Stage::kTall) {
      launch_shape<T, 8, 2, 6>(p, stream);
    } else if (pl.cols == 128) {
      launch_shape<T, 8, 2>(p, stream);
    } else if (pl.cols == 64) {
      launch_shape<T, 4, 2>(p, stream);
    } else {
      launch_shape<T, 2, 1>(p, stream);
    }
  });
  ZINFER_CUDA_LAUNCH_CHECK("f16_mma_tile_kernel");
  return ok_status();
}

Status launch_f16_mma(const F16Act& a, const QuantMatrixView& w, MatrixView out, const float* bias,
                      bool accumulate, cudaStream_t stream) {
  const F16Product one{w, out, bias};
  return launch_f16_mma_stack(a, &one, 1, accumulate, stream, nullptr, 0);
}

}  // namespace zinfer::cuda
