// The fp16 tensor-core tiles' body (f16_mma.cu), written once against a thread context so the
// CPU tests run the same code (tests/engine/quant/f16_mma_tile_host_test.cpp emulates a block's
// threads, barriers, asynchronous copies, ldmatrix and the warp's mma from the PTX fragment
// layouts). See f16_mma.h for the order and f16_mma.cu for the staging.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/f16_dequant.cuh"
#include "kernels/q8_mma.cuh"
#include "kernels/q8_mma_tile.cuh"

namespace zinfer::cuda::f16mma {

using quant::GgmlType;

inline constexpr int kStageElems = q8mma::kTileStageElems;
inline constexpr int kRowWarps = 4;
inline constexpr int kHalfStride = 264;  // halves a staged row: 256 + 8 of padding (528 bytes)

// One weight matrix of a launch and where its products go.
struct F16Mat {
  const std::uint8_t* w;  // [ne1] rows of row_bytes, 16-byte aligned base
  std::int64_t ne1;       // weight rows
  float* out;             // [rows][out_stride]
  std::int64_t out_stride;
  const float* bias;  // [ne1] or null
};

inline constexpr int kMaxMats = 3;

struct F16MmaParams {
  const std::uint16_t* act;  // [rows][stride] halves
  const float* scale;        // [rows]
  std::int64_t rows, stride;
  // A stack of n_mats matrices of one type and K (Q, K and V): the grid's weight-row tiles are
  // matrix 0's, then matrix 1's from tile_end[0], then matrix 2's from tile_end[1].
  F16Mat mat[kMaxMats];
  int n_mats;
  std::int64_t tile_end[kMaxMats - 1];
  std::size_t row_bytes;
  std::int64_t nb;  // blocks a row
  int parts;
  bool accumulate;
  // Split over K (f16_mma.cu): grid z runs part z alone, whose sum (unscaled) goes to
  // part_ws[z·ws_part + ws_base[m] + n·ne1 + j] for matrix m; f16_combine_body then adds the
  // parts in order and applies the epilogue — the bits of the whole tile. Null: not split.
  float* part_ws;
  std::int64_t ws_part;  // Σ rows · ne1 over the stack
  std::int64_t ws_base[kMaxMats];
};

// A block's matrix of the stack and its row tile there (tile = the grid's block_y less the tiles
// of the matrices before it), selected field by field with constant indices: a run-time index
// into the parameters would copy them to local memory.
struct F16Sel {
  const std::uint8_t* w;
  std::int64_t ne1;
  float* out;
  std::int64_t out_stride;
  const float* bias;
  std::int64_t tile;
  std::int64_t ws_base;
};

ZINFER_HD F16Sel select_mat(const F16MmaParams& p, std::int64_t by) {
  int m = 0;
  if (p.n_mats > 1 && by >= p.tile_end[0]) m = p.n_mats > 2 && by >= p.tile_end[1] ? 2 : 1;
  if (m > 0) by -= m == 1 ? p.tile_end[0] : p.tile_end[1];
  return {m == 0 ? p.mat[0].w : (m == 1 ? p.mat[1].w : p.mat[2].w),
          m == 0 ? p.mat[0].ne1 : (m == 1 ? p.mat[1].ne1 : p.mat[2].ne1),
          m == 0 ? p.mat[0].out : (m == 1 ? p.mat[1].out : p.mat[2].out),
          m == 0 ? p.mat[0].out_stride : (m == 1 ? p.mat[1].out_stride : p.mat[2].out_stride),
          m == 0 ? p.mat[0].bias : (m == 1 ? p.mat[1].bias : p.mat[2].bias),
          by,
          m == 0 ? p.ws_base[0] : (m == 1 ? p.ws_base[1] : p.ws_base[2])};
}

// Sets p.ws_part and p.ws_base for a split launch's part sums.
inline void set_ws_layout(F16MmaParams& p) {
  std::int64_t at = 0;
  for (int m = 0; m < p.n_mats; ++m) {
    p.ws_base[m] = at;
    at += p.rows * p.mat[m].ne1;
  }
  p.ws_part = at;
}

// The epilogue of output (n, j) of the selected matrix from its parts' sum v: × the row's scale,
// + bias, + the output when accumulating — the tiles', the small kernel's and the split's.
ZINFER_HD void f16_store(const F16MmaParams& p, const F16Sel& sel, float v, std::int64_t n,
                         std::int64_t j) {
  v = q8::fmul(v, p.scale[n]);
  if (sel.bias != nullptr) v = q8::fadd(v, sel.bias[j]);
  float* o = sel.out + n * sel.out_stride + j;
  *o = p.accumulate ? q8::fadd(*o, v) : v;
}

// Output i (of ws_part) of a split launch: its parts' sums added in part order, then scaled,
// biased and accumulated as the tile's epilogue does.
ZINFER_HD void f16_combine_body(const F16MmaParams& p, std::int64_t i) {
  int m = 0;
  if (p.n_mats > 1 && i >= p.ws_base[1]) m = p.n_mats > 2 && i >= p.ws_base[2] ? 2 : 1;
  const F16Sel sel = select_mat(p, m == 0 ? 0 : p.tile_end[m - 1]);
  const std::int64_t n = (i - sel.ws_base) / sel.ne1, j = (i - sel.ws_base) % sel.ne1;
  float v = p.part_ws[i];
  for (int q = 1; q < p.parts; ++q) v = q8::fadd(v, p.part_ws[q * p.ws_part + i]);
  f16_store(p, sel, v, n, j);
}

// The grid's weight-row tiles of rows_per_tile rows: each matrix of the stack starts a tile
// (sets p.tile_end).
inline std::int64_t stack_tiles(F16MmaParams& p, int rows_per_tile) {
  std::int64_t tiles = 0;
  for (int m = 0; m < p.n_mats; ++m) {
    tiles += (p.mat[m].ne1 + rows_per_tile - 1) / rows_per_tile;
    if (m + 1 < p.n_mats) p.tile_end[m] = tiles;
  }
  return tiles;
}

// kLean: one buffer each for raw weights and activations, rows of 512 bytes with their 16-byte
// chunks swizzled (chunk c of row r at c ^ (r & 7), so the 8 rows of an ldmatrix matrix still
// fall in 8 bank groups) — a stage of 128 columns in ~105 KB, two blocks a multiprocessor —
// instead of double buffers of 528-byte padded rows (~187 KB, one block).
template <GgmlType T, int NT, int CW, int RW = kRowWarps, bool kLean = false>
struct F16Shape {
  using Tr = q8mma::MmaTraits<T>;
  static constexpr int kRowWarps = RW;
  static constexpr int kRows = 16 * RW;
  static constexpr int kCols = 8 * NT * CW;
  static constexpr int kThreads = 32 * RW * CW;
  static constexpr int kG = q8mma::StageRow<T>::kG;           // weight blocks a stage
  static constexpr int kWStride = q8mma::StageRow<T>::kSpan;  // a staged raw row
  static constexpr int kPieces = kWStride / 16;
  static constexpr int kBufs = kLean ? 1 : 2;
  static constexpr int kRowB = kLean ? 2 * kStageElems : 2 * kHalfStride;  // a row of halves
  static constexpr std::size_t kRawBytes = static_cast<std::size_t>(kRows) * kWStride;
  static constexpr std::size_t kActBytes = static_cast<std::size_t>(kCols) * kRowB;
  static constexpr std::size_t kDeqBytes = static_cast<std::size_t>(kRows) * kRowB;
  static constexpr std::size_t kSmemBytes = kBufs * (kRawBytes + kActBytes) + kDeqBytes;
  static constexpr int kMinBlocks = kLean ? 2 : 1;
  static_assert(NT % 2 == 0, "B fragments are loaded two 8-column tiles at a time");
  static_assert(kRawBytes % 16 == 0 && kActBytes % 16 == 0, "16-byte aligned regions");
};

// Four words at p (16-byte aligned), in one 16-byte store on the device.
ZINFER_HD void st_u32x4(std::uint8_t* p, std::uint32_t a, std::uint32_t b, std::uint32_t c,
                        std::uint32_t d) {
#ifdef __CUDA_ARCH__
  *reinterpret_cast<uint4*>(p) = make_uint4(a, b, c, d);
#else
  const std::uint32_t w[4] = {a, b, c, d};
  std::memcpy(p, w, sizeof(w));
#endif
}

// The kernel body, run by each of the block's S::kThreads threads. Ctx provides: thread(),
// block_x() (activation-row tile), block_y() (weight-row tile), smem() (S::kSmemBytes, 16-byte
// aligned), sync(), cp16(dst, src), commit(), wait_prior(), wait_all() (as q8_mma_tile.cuh's),
// ldmatrix_x4(r, p) (ldmatrix.sync.aligned.m8n8.x4.shared.b16 with this lane's row address p),
// mma_f16(d, a, b0, b1) (mma.sync.m16n8k16.f32.f16.f16.f32, d = a·b + d) and group8<T>(row, g, v)
// (elements 8g..8g+7 of the blocks at row, dequantized as quant::dequantize_row does).
#ifdef __CUDACC__
#pragma nv_exec_check_disable
#endif
// only_part ≥ 0 (a split launch): the block computes that part's sum alone and stores it to
// p.part_ws.
template <GgmlType T, int NT, int CW, int RW = kRowWarps, bool kLean = false, typename Ctx>
ZINFER_HD void f16_tile_body(const F16MmaParams& p, Ctx& x, int only_part = -1) {
  using S = F16Shape<T, NT, CW, RW, kLean>;
  using Tr = q8mma::MmaTraits<T>;
  std::uint8_t* const f16_smem = x.smem();
  const int tid = x.thread();
  const int lane = tid & 31, warp = tid >> 5;
  const int rw = warp % RW, cw = warp / RW;
  const int g = lane >> 2, t = lane & 3;
  const F16Sel sel = select_mat(p, x.block_y());
  const std::uint8_t* const w = sel.w;
  const std::int64_t ne1 = sel.ne1;
  const std::int64_t by = sel.tile;
  const std::int64_t jb = by * S::kRows;
  const std::int64_t nbase = x.block_x() * S::kCols;
  // The blocks [pb, pe) this block multiplies: all, or its part's.
  const std::int64_t pb = only_part < 0 ? 0 : q8mma::part_begin(p.nb, p.parts, only_part);
  const std::int64_t pe = only_part < 0 ? p.nb : q8mma::part_begin(p.nb, p.parts, only_part + 1);
  const std::int64_t st_begin = pb / S::kG;
  const std::int64_t st_end = (pe + S::kG - 1) / S::kG;
  const std::size_t w_bytes = p.row_bytes * static_cast<std::size_t>(ne1);
  auto raw = [&](int buf) { return f16_smem + static_cast<std::size_t>(buf) * S::kRawBytes; };
  auto act = [&](int buf) {
    return f16_smem + S::kBufs * S::kRawBytes + static_cast<std::size_t>(buf) * S::kActBytes;
  };
  std::uint8_t* deq = f16_smem + S::kBufs * (S::kRawBytes + S::kActBytes);
  // Byte offset of 16-byte chunk c in a row of halves (row r of its tile).
  auto chunk = [](int r, int c) { return 16 * (kLean ? c ^ (r & 7) : c); };
  // Offset of block b0 of the tile's weight row r (clamped to the last row) in the matrix.
  auto row_off = [&](int r, std::int64_t b0) {
    const std::int64_t row = jb + r < ne1 ? jb + r : ne1 - 1;
    return static_cast<std::size_t>(row) * p.row_bytes +
           static_cast<std::size_t>(b0) * Tr::kBlockBytes;
  };
  auto blocks_in = [&](std::int64_t st) {
    const std::int64_t left = p.nb - st * S::kG;
    return static_cast<int>(left < S::kG ? left : S::kG);
  };

  // Issues the copies of stage st's raw weight rows into buffer buf.
  auto raw_copy = [&](std::int64_t st, int buf) {
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
        x.cp16(dst, w + src);
      } else {  // the matrix's last bytes (its size is even): no read past its end
        for (std::size_t i = 0; src + i < w_bytes; i += 2) {
          *reinterpret_cast<std::uint16_t*>(dst + i) =
              *reinterpret_cast<const std::uint16_t*>(w + src + i);
        }
      }
    }
  };
  // Issues the copies of stage st's activation rows into buffer buf: a thread copies one 16-byte
  // piece of every kThreads/32-th column of the tile, offsets within the tile in 32 bits (kCols ·
  // stride < 2^31: f16_mma_supported).
  auto act_copy = [&](std::int64_t st, int buf) {
    const int a_pieces = blocks_in(st) * Tr::kBlockElems / 8;
    const int piece = tid & 31;
    if (piece < a_pieces) {
      const std::uint16_t* src = p.act + nbase * p.stride + st * kStageElems + 8 * piece;
      const int last = static_cast<int>(p.rows - 1 - nbase);
      const int stride = static_cast<int>(p.stride);
      std::uint8_t* const base = act(buf);
      for (int c = tid >> 5; c < S::kCols; c += S::kThreads / 32) {
        const int n = c < last ? c : last;
        x.cp16(base + static_cast<std::size_t>(c) * S::kRowB + chunk(c, piece),
               src + static_cast<unsigned>(n * stride));
      }
    }
  };
  // The stage's weights as halves: row r's group gi (8 elements) at deq[r][8·gi].
  auto dequant = [&](std::int64_t st, int buf) {
    if constexpr (kSub32<T>) {
      // A thread takes whole 32-element units (a Q4_K sub-block, a legacy block) from word
      // loads, consecutive threads consecutive rows (the 16-byte stores of 8 threads fall in
      // different bank groups).
      const std::int64_t b0 = st * S::kG;
      // (a stage of one super-block is always whole)
      const int units = S::kG == 1 ? kStageElems / 32 : blocks_in(st) * Tr::kBlockElems / 32;
      for (int idx = tid; idx < S::kRows * (kStageElems / 32); idx += S::kThreads) {
        const int r = idx % S::kRows, u = idx / S::kRows;
        if (u >= units) continue;
        // Rows of blocks whose size is a multiple of 16 sit at their 16-byte-aligned start.
        const std::size_t skew = q8mma::StageRow<T>::kMaxSkew == 0 ? 0 : (row_off(r, b0) & 15);
        const std::uint8_t* src = raw(buf) + static_cast<std::size_t>(r) * S::kWStride + skew;
        std::uint32_t h[16];
        if constexpr (Tr::kBlockElems == 32) {
          sub32_f16<T>(src + u * Tr::kBlockBytes, 0, h);
        } else {
          sub32_f16<T>(src, u, h);  // one super-block a stage
        }
        std::uint8_t* d = deq + static_cast<std::size_t>(r) * S::kRowB;
        ZINFER_UNROLL
        for (int i = 0; i < 4; ++i)
          st_u32x4(d + chunk(r, 4 * u + i), h[4 * i], h[4 * i + 1], h[4 * i + 2], h[4 * i + 3]);
      }
    } else {
      const std::int64_t b0 = st * S::kG;
      const int groups = blocks_in(st) * Tr::kBlockElems / 8;
      for (int idx = tid; idx < S::kRows * (kStageElems / 8); idx += S::kThreads) {
        const int r = idx / (kStageElems / 8), gi = idx % (kStageElems / 8);
        if (gi >= groups) continue;
        const std::uint8_t* src =
            raw(buf) + static_cast<std::size_t>(r) * S::kWStride + (row_off(r, b0) & 15);
        float v[8];
        x.template group8<T>(src, gi, v);
        st_u32x4(deq + static_cast<std::size_t>(r) * S::kRowB + chunk(r, gi),
                 f16_half2_bits(v[0], v[1]), f16_half2_bits(v[2], v[3]), f16_half2_bits(v[4], v[5]),
                 f16_half2_bits(v[6], v[7]));
      }
    }
  };

  float acc[NT][4] = {};
  float out[NT][4] = {};
  int part = only_part < 0 ? 0 : only_part;
  std::int64_t part_end = only_part < 0 ? q8mma::part_begin(p.nb, p.parts, 1) : pe;
  auto fold = [&]() {  // a part ends: its sum joins the output, in part order
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) {
        out[nt][i] = part == 0 ? acc[nt][i] : q8::fadd(out[nt][i], acc[nt][i]);
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

  // Stage st's products from the halves and activation buffer buf.
  const std::uint8_t* const a_base = deq + static_cast<std::size_t>(a_row) * S::kRowB;
  auto multiply = [&](std::int64_t st, int buf) {
    const std::int64_t b0 = st * S::kG;
    const int nblk = blocks_in(st);
    const std::uint8_t* b_base = act(buf) + static_cast<std::size_t>(b_row) * S::kRowB;
    for (int bi = 0; bi < nblk; ++bi) {
      if (b0 + bi < pb || b0 + bi >= pe) continue;  // another part's (a split launch)
      if (b0 + bi == part_end) {
        fold();
        ++part;
        part_end = q8mma::part_begin(p.nb, p.parts, part + 1);
      }
      ZINFER_UNROLL
      for (int s = 0; s < Tr::kBlockElems / 16; ++s) {
        const int k = bi * Tr::kBlockElems + 16 * s;
        std::uint32_t a[4];
        x.ldmatrix_x4(a, a_base + chunk(a_row, (k + a_col) / 8));
        ZINFER_UNROLL
        for (int np = 0; np < NT / 2; ++np) {
          std::uint32_t b[4];
          // b_row + 16·np has b_row's low three bits: the same swizzle.
          x.ldmatrix_x4(b, b_base + static_cast<std::size_t>(16 * np) * S::kRowB +
                               chunk(b_row, (k + b_col) / 8));
          x.mma_f16(acc[2 * np], a, b[0], b[1]);
          x.mma_f16(acc[2 * np + 1], a, b[2], b[3]);
        }
      }
    }
  };

  if constexpr (kLean) {
    // One buffer each: the next stage's raw weights are copied while this stage multiplies, its
    // activations once the products are done (the other block of the multiprocessor covers that
    // wait).
    raw_copy(st_begin, 0);
    act_copy(st_begin, 0);
    x.commit();
    for (std::int64_t st = st_begin; st < st_end; ++st) {
      x.wait_all();
      x.sync();  // stage st's raw weights and activations are in shared memory
      dequant(st, 0);
      x.sync();  // its halves too; the raw buffer is free
      if (st + 1 < st_end) {
        raw_copy(st + 1, 0);
        x.commit();
      }
      multiply(st, 0);
      x.sync();  // the activations and halves are free
      if (st + 1 < st_end) {
        act_copy(st + 1, 0);
        x.commit();
      }
    }
  } else {
    raw_copy(st_begin, 0);
    act_copy(st_begin, 0);
    x.commit();
    for (std::int64_t st = st_begin; st < st_end; ++st) {
      const int buf = static_cast<int>((st - st_begin) & 1);
      if (st + 1 < st_end) {
        raw_copy(st + 1, buf ^ 1);
        act_copy(st + 1, buf ^ 1);
        x.commit();
        x.wait_prior();
      } else {
        x.wait_all();
      }
      x.sync();  // stage st's raw weights and activations are in shared memory
      dequant(st, buf);
      x.sync();  // its halves too
      multiply(st, buf);
      x.sync();  // everyone is done with buffer buf and the halves before they are rewritten
    }
  }
  // Calls f(v, n, j) for each of this lane's outputs inside the matrix: v of sums[nt][i], n its
  // activation row, j its weight row.
  auto each_output = [&](const float(&sums)[NT][4], auto&& f) {
    ZINFER_UNROLL
    for (int nt = 0; nt < NT; ++nt) {
      ZINFER_UNROLL
      for (int i = 0; i < 4; ++i) {
        const std::int64_t j = jb + 16 * rw + g + 8 * (i >> 1);
        const std::int64_t n = nbase + 8 * NT * cw + 8 * nt + 2 * t + (i & 1);
        if (j < ne1 && n < p.rows) f(sums[nt][i], n, j);
      }
    }
  };
  if (only_part >= 0) {  // the part's sum as it is; f16_combine_body does the rest
    float* const ws = p.part_ws + only_part * p.ws_part + sel.ws_base;
    each_output(acc, [&](float v, std::int64_t n, std::int64_t j) { ws[n * ne1 + j] = v; });
    return;
  }
  fold();
  each_output(out, [&](float v, std::int64_t n, std::int64_t j) { f16_store(p, sel, v, n, j); });
}

}  // namespace zinfer::cuda::f16mma
