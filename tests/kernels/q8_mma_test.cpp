// The tensor-core integer matmuls (kernels/q8_mma.cu) on the GPU against their host reference
// (q8mma::mma_reference: the same integer sums and float steps in the same order), bit for
// bit: every weight type with Q8 and with Q16 activations, 1 to 64 activation rows (all three
// column-tile widths, partial tiles), 77 weight rows (a partial row tile), K with one and with
// eight parts, on each kernel (K split over warps, wide tiles, one warp a weight row). Bitwise
// equality with a reference that sees one row at a time is batch invariance. Then the epilogues:
// bias, accumulate (out += ...), and the gated product (its activation function within float
// tolerance of the host's). The reference itself is held to quant::vec_dot / vec_dot_f32 by the
// host tests (Q8MmaHost).
#include "kernels/q8_mma.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/q8_act.h"
#include "kernels/q8_mma.cuh"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

using quant::GgmlType;

const GgmlType kTypes[] = {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1,
                           GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K};

// The kernels (K split over warps, wide tiles, one warp a weight row, wide tiles staged
// through shared memory, staged Q16 tiles — with Q8 activations the choice by shape — one
// lane a part, and lane-stage: one row on the lane kernel with its weight rows staged in
// shared memory where they fit; vec-block: one Q16 row times Q4_K / Q5_K weights a lane a
// half super-block; tile-parts: the staged Q16 tiles split over K's parts, with Q8
// activations the choice by shape), each forced.
const int kKernels[] = {cuda::kMmaSplit,     cuda::kMmaWide,     cuda::kMmaVec,
                        cuda::kMmaStaged,    cuda::kMmaTile,     cuda::kMmaLane,
                        cuda::kMmaLaneStage, cuda::kMmaVecBlock, cuda::kMmaTileParts};
// Indexed by the kernel setting.
const char* const kKernelNames[] = {"split", "wide",      "vec",        "staged",    "tile",
                                    "lane",  "lane-tile", "lane-stage", "vec-block", "tile-parts"};

struct Problem {
  std::vector<std::uint8_t> w;    // [ne1] rows
  std::vector<std::uint8_t> act;  // [rows] in layout
  cuda::q8::Q8ActLayout layout;
  std::vector<float> x;  // the f32 activations
};

Problem make_problem(GgmlType t, bool q16, std::int64_t k, std::int64_t ne1, std::int64_t rows,
                     std::uint64_t seed) {
  Problem p;
  const std::size_t rs = quant::row_size(t, k);
  p.w.resize(rs * static_cast<std::size_t>(ne1));
  model::SynthRng rng(seed);
  for (std::int64_t r = 0; r < ne1; ++r)
    model::synth_fill_row(t, model::InitKind::kWeight, 0.05f, k, rng, p.w.data() + rs * r);
  const GgmlType at = quant::traits(t).vec_dot_type;
  p.layout = q16 ? cuda::q8::q16_act_layout(k) : cuda::q8::q8_act_layout(at, k);
  p.x = testing::random_floats(static_cast<std::size_t>(rows * k), static_cast<std::uint32_t>(seed),
                               1.5f);
  p.act.resize(p.layout.row_bytes * static_cast<std::size_t>(rows));
  std::vector<std::uint8_t> blocks(quant::act_row_size(at, k));
  for (std::int64_t r = 0; r < rows; ++r) {
    std::uint8_t* dst = p.act.data() + p.layout.row_bytes * static_cast<std::size_t>(r);
    if (q16) {
      cuda::q8::quantize_q16_row(p.layout, p.x.data() + r * k, dst);
    } else {
      quant::quantize_act_row(at, p.x.data() + r * k, blocks.data(), k);
      cuda::q8::pack_act_row(p.layout, blocks.data(), dst);
    }
  }
  return p;
}

// mma_reference of weight row j and activation row r (host copies; 16-byte aligned as on the
// device).
float reference(GgmlType t, const Problem& p, std::int64_t j, std::int64_t r) {
  const std::size_t rs = quant::row_size(t, p.layout.k);
  std::vector<std::uint8_t> wbuf(rs + 16), abuf(p.layout.row_bytes + 16);
  std::uint8_t* w = wbuf.data() + (16 - reinterpret_cast<std::uintptr_t>(wbuf.data()) % 16) % 16;
  std::uint8_t* a = abuf.data() + (16 - reinterpret_cast<std::uintptr_t>(abuf.data()) % 16) % 16;
  std::memcpy(w, p.w.data() + rs * static_cast<std::size_t>(j), rs);
  std::memcpy(a, p.act.data() + p.layout.row_bytes * static_cast<std::size_t>(r),
              p.layout.row_bytes);
  float out = 0.0f;
  cuda::q8mma::dispatch_mma_type(
      t, [&](auto tc) { out = cuda::q8mma::mma_reference<decltype(tc)::value>(w, a, p.layout); });
  return out;
}

struct Device {
  std::unique_ptr<cuda::CudaContext> ctx;
  cuda::DeviceBuffer w, act, out, bias, part_ws;
  bool open() {
    auto c = cuda::CudaContext::create(0);
    EXPECT_TRUE(c.ok()) << c.error().message;
    if (c.ok()) ctx = std::move(*c);
    return c.ok();
  }
};

// The split tiles' scratch (NaN-poisoned) where the kernel choice takes them, as CudaOps gives
// it: held in buf, set on a.
void give_part_scratch(cuda::CudaContext& ctx, cuda::Q8Act& a, const cuda::QuantMatrixView& w,
                       bool gated, cuda::DeviceBuffer& buf) {
  const std::int64_t n = cuda::q8_mma_part_ws_floats(a, w, gated);
  if (n <= 0) return;
  const std::vector<float> poison(static_cast<std::size_t>(n), std::nanf(""));
  buf = testing::device_bytes(ctx, poison.data(), poison.size() * sizeof(float));
  a.part_ws = buf.as<float>();
  a.part_ws_floats = n;
}

std::vector<float> run(Device& d, GgmlType t, const Problem& p, std::int64_t ne1, std::int64_t rows,
                       int mode, const std::vector<float>& init, const std::vector<float>& bias) {
  d.w = testing::device_bytes(*d.ctx, p.w.data(), p.w.size());
  d.act = testing::device_bytes(*d.ctx, p.act.data(), p.act.size());
  d.out = testing::device_bytes(*d.ctx, init.data(), init.size() * sizeof(float));
  d.bias = testing::device_bytes(*d.ctx, bias.data(), bias.size() * sizeof(float));
  cuda::Q8Act a;
  a.data = static_cast<const std::uint8_t*>(d.act.data());
  a.layout = p.layout;
  a.rows = rows;
  const cuda::QuantMatrixView wv{t, p.layout.k, ne1, d.w.data()};
  const cuda::MatrixView ov{d.out.as<float>(), rows, ne1, ne1};
  give_part_scratch(*d.ctx, a, wv, mode == 3, d.part_ws);
  Status st = ok_status();
  if (mode == 3) {
    st = cuda::launch_q8_mma_gated(ov, a, wv, wv, cuda::GatedAct::kSilu, d.ctx->stream());
  } else {
    const cuda::Q8MatvecOut m{wv, ov, mode == 1 ? d.bias.as<float>() : nullptr};
    st = cuda::launch_q8_mma(a, m, mode == 2, d.ctx->stream());
  }
  EXPECT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(cudaStreamSynchronize(d.ctx->stream()), cudaSuccess);
  std::vector<float> got(init.size());
  EXPECT_EQ(
      cudaMemcpy(got.data(), d.out.data(), got.size() * sizeof(float), cudaMemcpyDeviceToHost),
      cudaSuccess);
  return got;
}

TEST(Q8Mma, EveryOutputEqualsTheReferenceBitwiseAtEveryBatchSize) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  const std::int64_t ne1 = 77;
  for (GgmlType t : kTypes) {
    for (bool q16 : {false, true}) {
      for (std::int64_t k : {256, 1024, 4864}) {  // 1-2, 4-8 and 8 parts
        const std::int64_t rows = 64;
        const Problem p = make_problem(t, q16, k, ne1, rows, 5);
        // Reference for every (row, output) once; each batch size uses the first `n` rows.
        std::vector<float> want(static_cast<std::size_t>(rows * ne1));
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t j = 0; j < ne1; ++j) want[r * ne1 + j] = reference(t, p, j, r);
        for (std::int64_t n : {1, 3, 8, 9, 16, 17, 40, 64}) {
          for (int kernel : kKernels) {
            SCOPED_TRACE(std::string(quant::type_name(t)) + (q16 ? " q16" : " q8") +
                         " k=" + std::to_string(k) + " rows=" + std::to_string(n) + " " +
                         kKernelNames[kernel]);
            cuda::set_q8_mma_kernel(kernel);
            const std::vector<float> init(static_cast<std::size_t>(n * ne1), std::nanf(""));
            const std::vector<float> got = run(d, t, p, ne1, n, 0, init, {0.0f});
            cuda::set_q8_mma_kernel(-1);
            int bad = 0;
            for (std::size_t i = 0; i < got.size(); ++i) {
              if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && ++bad <= 3) {
                ADD_FAILURE() << "row " << i / ne1 << " out " << i % ne1 << ": " << got[i] << " vs "
                              << want[i];
              }
            }
            ASSERT_EQ(bad, 0);
          }
        }
      }
    }
  }
}

// The lane-a-half-block kernel (vec-block: one Q16 activation row times Q4_K / Q5_K / Q6_K
// weights) and the lane-a-block kernel (Q8_0) where the tests above do not take them: K from one
// super-block to 74 (several 32-half-block passes; 18944 columns: the largest activation row its
// shared-memory staging holds), 77 weight rows (the last block's warps partly idle), the gated pair
// with a different up matrix, and a stack of three matrices in one launch (launch_q8_mma_each, the
// second with a bias, as Q/K/V): bit for bit the vec kernel's outputs, which the tests above hold
// to the reference.
TEST(Q8Mma, VecBlockOneRowEqualsTheVecKernelPlainGatedAndStacked) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  constexpr std::int64_t kNe1 = 77;
  // Q8_0: the lane-a-block kernel (q8_mma_vecleg.cu), which the same setting picks.
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_0}) {
    for (std::int64_t k : {256, 1024, 3584, 18944}) {
      SCOPED_TRACE(std::string(quant::type_name(t)) + " k=" + std::to_string(k));
      const Problem p = make_problem(t, true, k, 3 * kNe1, 1, 11);
      const std::size_t rs = quant::row_size(t, k);
      // Each matrix from a 256-byte boundary, as a GGUF file's tensors are aligned (77 rows of
      // 210-byte Q6_K blocks would put the second matrix off the 16-byte alignment the launch
      // functions require).
      const std::size_t mat_bytes = static_cast<std::size_t>(kNe1) * rs;
      const std::size_t mat_stride = (mat_bytes + 255) / 256 * 256;
      std::vector<std::uint8_t> padded(3 * mat_stride, 0);
      for (std::size_t m = 0; m < 3; ++m) {
        std::memcpy(padded.data() + m * mat_stride, p.w.data() + m * mat_bytes, mat_bytes);
      }
      cuda::DeviceBuffer w = testing::device_bytes(*d.ctx, padded.data(), padded.size());
      cuda::DeviceBuffer act = testing::device_bytes(*d.ctx, p.act.data(), p.act.size());
      const auto bias = testing::random_floats(static_cast<std::size_t>(kNe1), 5);
      cuda::DeviceBuffer b =
          testing::device_bytes(*d.ctx, bias.data(), bias.size() * sizeof(float));
      cuda::Q8Act a;
      a.data = static_cast<const std::uint8_t*>(act.data());
      a.layout = p.layout;
      a.rows = 1;
      auto slice = [&](int m) {
        return cuda::QuantMatrixView{
            t, k, kNe1,
            static_cast<const std::uint8_t*>(w.data()) + static_cast<std::size_t>(m) * mat_stride};
      };
      // Outputs [plain, gated, stack 0, stack 1, stack 2] with one kernel setting.
      auto outputs = [&](int kernel) {
        const std::vector<float> zero(static_cast<std::size_t>(5 * kNe1), 0.0f);
        cuda::DeviceBuffer o = testing::device_bytes(*d.ctx, zero.data(), zero.size() * 4);
        auto view = [&](int i) {
          return cuda::MatrixView{o.as<float>() + i * kNe1, 1, kNe1, kNe1};
        };
        cuda::set_q8_mma_kernel(kernel);
        EXPECT_TRUE(
            cuda::launch_q8_mma(a, {slice(0), view(0), nullptr}, false, d.ctx->stream()).ok());
        EXPECT_TRUE(cuda::launch_q8_mma_gated(view(1), a, slice(0), slice(1), cuda::GatedAct::kSilu,
                                              d.ctx->stream())
                        .ok());
        const cuda::Q8MatvecOut mats[3] = {{slice(0), view(2), nullptr},
                                           {slice(1), view(3), b.as<float>()},
                                           {slice(2), view(4), nullptr}};
        EXPECT_TRUE(cuda::launch_q8_mma_each(a, mats, 3, false, d.ctx->stream()).ok());
        cuda::set_q8_mma_kernel(-1);
        EXPECT_EQ(cudaStreamSynchronize(d.ctx->stream()), cudaSuccess);
        std::vector<float> got(zero.size());
        EXPECT_EQ(cudaMemcpy(got.data(), o.data(), got.size() * 4, cudaMemcpyDeviceToHost),
                  cudaSuccess);
        return got;
      };
      const std::vector<float> vec = outputs(cuda::kMmaVec);
      const std::vector<float> block = outputs(cuda::kMmaVecBlock);
      ASSERT_EQ(vec.size(), block.size());
      for (std::size_t i = 0; i < vec.size(); ++i) {
        ASSERT_EQ(std::memcmp(&vec[i], &block[i], sizeof(float)), 0)
            << "output " << i % kNe1 << " of product " << i / kNe1
            << " (plain, gated, stack 0-2): " << vec[i] << " vs " << block[i];
      }
      // The plain product is the reference's too.
      for (std::int64_t j = 0; j < kNe1; ++j) {
        EXPECT_EQ(block[static_cast<std::size_t>(j)], reference(t, p, j, 0)) << j;
      }
    }
  }
}

TEST(Q8Mma, EpiloguesBiasAccumulateAndGated) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  const std::int64_t ne1 = 45, rows = 19, k = 1024;
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ8_0, GgmlType::kQ6_K, GgmlType::kQ5_1}) {
    for (bool q16 : {false, true}) {
      SCOPED_TRACE(std::string(quant::type_name(t)) + (q16 ? " q16" : " q8"));
      const Problem p = make_problem(t, q16, k, ne1, rows, 9);
      const auto bias = testing::random_floats(static_cast<std::size_t>(ne1), 3);
      const auto init = testing::random_floats(static_cast<std::size_t>(rows * ne1), 4);
      for (int kernel : kKernels) {
        SCOPED_TRACE(kKernelNames[kernel]);
        cuda::set_q8_mma_kernel(kernel);
        const auto with_bias = run(d, t, p, ne1, rows, 1, init, bias);
        const auto accumulated = run(d, t, p, ne1, rows, 2, init, bias);
        const auto gated = run(d, t, p, ne1, rows, 3, init, bias);
        cuda::set_q8_mma_kernel(-1);
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t j = 0; j < ne1; ++j) {
            const float v = reference(t, p, j, r);
            const std::size_t i = static_cast<std::size_t>(r * ne1 + j);
            EXPECT_EQ(with_bias[i], v + bias[static_cast<std::size_t>(j)]) << r << "," << j;
            EXPECT_EQ(accumulated[i], init[i] + v) << r << "," << j;
            const float g = v / (1.0f + std::exp(-v)) * v;  // gate and up are the same matrix
            EXPECT_NEAR(gated[i], g, 2e-6f * (std::fabs(g) + 1.0f)) << r << "," << j;
          }
        }
      }
    }
  }
}

// The staged Q16 tiles at the shapes the shared tests do not reach: several row and column
// tiles, 128-row tiles (>= 2048 weight rows), a partial last stage (K = 896 with 32-element
// blocks: 28 blocks, 7 parts), weight rows off 16-byte alignment (Q6_K, legacy at K = 896);
// plain and gated (a different up matrix), bit for bit; whole and split over K's parts.
TEST(Q8Mma, TileShapesEqualTheReferenceBitwise) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  struct Shape {
    std::int64_t ne1, rows;
  };
  for (GgmlType t : kTypes) {
    const bool kquant = quant::traits(t).block_size == 256;
    const std::int64_t k = kquant ? 768 : 896;
    for (const auto& [kernel, sh] :
         {std::pair{cuda::kMmaTile, Shape{300, 130}}, std::pair{cuda::kMmaTile, Shape{2100, 40}},
          std::pair{cuda::kMmaTileParts, Shape{300, 130}},
          std::pair{cuda::kMmaTileParts, Shape{2100, 40}},
          // The 8- and 16-column tiles (q8_mma_tile_small.cu), whole and split.
          std::pair{cuda::kMmaTile, Shape{2100, 13}}, std::pair{cuda::kMmaTile, Shape{300, 7}},
          std::pair{cuda::kMmaTileParts, Shape{300, 16}},
          std::pair{cuda::kMmaTileParts, Shape{2100, 5}}}) {
      SCOPED_TRACE(std::string(quant::type_name(t)) + " k=" + std::to_string(k) +
                   " ne1=" + std::to_string(sh.ne1) + " rows=" + std::to_string(sh.rows) + " " +
                   kKernelNames[kernel]);
      const Problem p = make_problem(t, true, k, sh.ne1, sh.rows, 13);
      const Problem up = make_problem(t, true, k, sh.ne1, sh.rows, 14);  // its weights only
      cuda::set_q8_mma_kernel(kernel);
      const std::vector<float> init(static_cast<std::size_t>(sh.rows * sh.ne1), std::nanf(""));
      const std::vector<float> got = run(d, t, p, sh.ne1, sh.rows, 0, init, {0.0f});
      // Gated: gate = p's weights, up = up's weights, the same activations.
      auto wg = testing::device_bytes(*d.ctx, p.w.data(), p.w.size());
      auto wu = testing::device_bytes(*d.ctx, up.w.data(), up.w.size());
      auto act = testing::device_bytes(*d.ctx, p.act.data(), p.act.size());
      auto out = testing::device_bytes(*d.ctx, init.data(), init.size() * sizeof(float));
      cuda::Q8Act a;
      a.data = static_cast<const std::uint8_t*>(act.data());
      a.layout = p.layout;
      a.rows = sh.rows;
      const cuda::QuantMatrixView gv{t, k, sh.ne1, wg.data()}, uv{t, k, sh.ne1, wu.data()};
      const cuda::MatrixView ov{out.as<float>(), sh.rows, sh.ne1, sh.ne1};
      cuda::DeviceBuffer ws;
      give_part_scratch(*d.ctx, a, gv, true, ws);
      const Status st =
          cuda::launch_q8_mma_gated(ov, a, gv, uv, cuda::GatedAct::kSilu, d.ctx->stream());
      cuda::set_q8_mma_kernel(-1);
      ASSERT_TRUE(st.ok()) << st.error().message;
      // The ops' stream does not wait for the legacy stream's copies, nor they for it.
      ASSERT_EQ(cudaStreamSynchronize(d.ctx->stream()), cudaSuccess);
      std::vector<float> gated(init.size());
      ASSERT_EQ(cudaMemcpy(gated.data(), out.data(), gated.size() * sizeof(float),
                           cudaMemcpyDeviceToHost),
                cudaSuccess);
      Problem upw = up;
      upw.act = p.act;  // the reference of the up matrix on p's activations
      int bad = 0;
      for (std::int64_t r = 0; r < sh.rows; ++r) {
        for (std::int64_t j = 0; j < sh.ne1; ++j) {
          const std::size_t i = static_cast<std::size_t>(r * sh.ne1 + j);
          const float want = reference(t, p, j, r);
          const float u = reference(t, upw, j, r);
          const float g = want / (1.0f + std::exp(-want)) * u;
          const bool ok = std::memcmp(&got[i], &want, sizeof(float)) == 0 &&
                          std::fabs(gated[i] - g) <= 2e-6f * (std::fabs(g) + 1.0f);
          if (!ok && ++bad <= 3) {
            ADD_FAILURE() << "row " << r << " out " << j << ": " << got[i] << " vs " << want
                          << ", gated " << gated[i] << " vs " << g;
          }
        }
      }
      ASSERT_EQ(bad, 0);
    }
  }
}

// One activation row handed over as f32 (Q8Act::src), quantized — after an RMSNorm, or not —
// in each block of the lane kernel: the same outputs, bit for bit, as quantizing into a buffer
// first (the quantize kernels), plain and gated.
TEST(Q8Mma, LanePrologueEqualsTheQuantizedBuffer) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  const std::int64_t k = 1024, ne1 = 45;
  const std::vector<float> x = testing::random_floats(static_cast<std::size_t>(k), 21, 1.5f);
  const std::vector<float> nw = testing::random_floats(static_cast<std::size_t>(k), 22, 1.0f);
  auto dx = testing::device_bytes(*d.ctx, x.data(), x.size() * sizeof(float));
  auto dnw = testing::device_bytes(*d.ctx, nw.data(), nw.size() * sizeof(float));
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kQ6_K}) {
    for (bool q16 : {false, true}) {
      for (bool norm : {false, true}) {
        SCOPED_TRACE(std::string(quant::type_name(t)) + (q16 ? " q16" : " q8") +
                     (norm ? " norm" : ""));
        const Problem p = make_problem(t, q16, k, ne1, 1, 23);
        auto w = testing::device_bytes(*d.ctx, p.w.data(), p.w.size());
        auto buf = testing::device_bytes(*d.ctx, p.act.data(), p.layout.row_bytes);
        const cuda::MatrixView xv{dx.as<float>(), 1, k, k};
        const Status q =
            norm ? cuda::launch_rms_norm_quantize_act(p.layout, xv, dnw.as<float>(), 1e-6f,
                                                      static_cast<std::uint8_t*>(buf.data()),
                                                      d.ctx->stream())
                 : cuda::launch_quantize_act(p.layout, xv, static_cast<std::uint8_t*>(buf.data()),
                                             d.ctx->stream());
        ASSERT_TRUE(q.ok()) << q.error().message;
        const cuda::QuantMatrixView wv{t, k, ne1, w.data()};
        std::vector<float> got[2][2];  // [prologue][gated]
        for (int pro = 0; pro < 2; ++pro) {
          cuda::Q8Act a;
          a.layout = p.layout;
          a.rows = 1;
          if (pro == 1) {
            a.src = dx.as<float>();
            a.norm = norm;
            a.norm_w = norm ? dnw.as<float>() : nullptr;
            a.eps = 1e-6f;
          } else {
            a.data = static_cast<const std::uint8_t*>(buf.data());
          }
          for (int gated = 0; gated < 2; ++gated) {
            std::vector<float> init(static_cast<std::size_t>(ne1), std::nanf(""));
            auto out = testing::device_bytes(*d.ctx, init.data(), init.size() * sizeof(float));
            const cuda::MatrixView ov{out.as<float>(), 1, ne1, ne1};
            cuda::set_q8_mma_kernel(cuda::kMmaLane);
            const Status st =
                gated == 1 ? cuda::launch_q8_mma_gated(ov, a, wv, wv, cuda::GatedAct::kSilu,
                                                       d.ctx->stream())
                           : cuda::launch_q8_mma(a, {wv, ov, nullptr}, false, d.ctx->stream());
            cuda::set_q8_mma_kernel(-1);
            ASSERT_TRUE(st.ok()) << st.error().message;
            ASSERT_EQ(cudaStreamSynchronize(d.ctx->stream()), cudaSuccess);
            got[pro][gated].resize(init.size());
            ASSERT_EQ(cudaMemcpy(got[pro][gated].data(), out.data(), init.size() * sizeof(float),
                                 cudaMemcpyDeviceToHost),
                      cudaSuccess);
          }
        }
        for (int gated = 0; gated < 2; ++gated) {
          EXPECT_EQ(std::memcmp(got[0][gated].data(), got[1][gated].data(),
                                got[0][gated].size() * sizeof(float)),
                    0)
              << (gated == 1 ? "gated" : "plain");
        }
      }
    }
  }
}

// Q, K and V as one launch (launch_q8_mma_each: the lane kernel for 1 and 3 rows; past four
// rows the choice by shape — the tiles as one stack where they take it whole or split over K,
// else three launches): each matrix's outputs, with its bias, equal its own launch's bit for
// bit.
TEST(Q8Mma, StackedMatricesEqualTheirOwnLaunches) {
  ZINFER_REQUIRE_GPU();
  Device d;
  ASSERT_TRUE(d.open());
  const std::int64_t k = 1024, ne[3] = {64, 16, 16};
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ5_0, GgmlType::kQ6_K}) {
    for (std::int64_t rows : {1, 3, 13, 40}) {
      SCOPED_TRACE(std::string(quant::type_name(t)) + " rows=" + std::to_string(rows));
      std::vector<Problem> ps;
      std::vector<cuda::DeviceBuffer> w, bias, out_one, out_each;
      for (int m = 0; m < 3; ++m) {
        ps.push_back(make_problem(t, true, k, ne[m], rows, 30 + static_cast<std::uint64_t>(m)));
        w.push_back(testing::device_bytes(*d.ctx, ps.back().w.data(), ps.back().w.size()));
        const auto b = testing::random_floats(static_cast<std::size_t>(ne[m]), 40 + m);
        bias.push_back(testing::device_bytes(*d.ctx, b.data(), b.size() * sizeof(float)));
        const std::vector<float> init(static_cast<std::size_t>(rows * ne[m]), std::nanf(""));
        out_one.push_back(testing::device_bytes(*d.ctx, init.data(), init.size() * sizeof(float)));
        out_each.push_back(testing::device_bytes(*d.ctx, init.data(), init.size() * sizeof(float)));
      }
      auto act = testing::device_bytes(*d.ctx, ps[0].act.data(), ps[0].act.size());
      cuda::Q8Act a;
      a.data = static_cast<const std::uint8_t*>(act.data());
      a.layout = ps[0].layout;
      a.rows = rows;
      std::vector<cuda::Q8MatvecOut> one, each;
      for (std::size_t m = 0; m < 3; ++m) {
        const cuda::QuantMatrixView wv{t, k, ne[m], w[m].data()};
        one.push_back({wv, {out_one[m].as<float>(), rows, ne[m], ne[m]}, bias[m].as<float>()});
        each.push_back({wv, {out_each[m].as<float>(), rows, ne[m], ne[m]}, bias[m].as<float>()});
      }
      // The tiles split over K take scratch (the stack's or the largest matrix's, whichever is
      // larger), as CudaOps gives it.
      std::int64_t need = cuda::q8_mma_part_ws_floats(a, one.data(), 3, false);
      for (const auto& m : each) need = std::max(need, cuda::q8_mma_part_ws_floats(a, m.w, false));
      cuda::DeviceBuffer ws;
      if (need > 0) {
        const std::vector<float> poison(static_cast<std::size_t>(need), std::nanf(""));
        ws = testing::device_bytes(*d.ctx, poison.data(), poison.size() * sizeof(float));
        a.part_ws = ws.as<float>();
        a.part_ws_floats = need;
      }
      if (rows <= 4) cuda::set_q8_mma_kernel(cuda::kMmaLane);
      const Status st = cuda::launch_q8_mma_each(a, one.data(), 3, false, d.ctx->stream());
      Status st_each = ok_status();
      for (std::size_t m = 0; m < 3 && st_each.ok(); ++m)
        st_each = cuda::launch_q8_mma(a, each[m], false, d.ctx->stream());
      cuda::set_q8_mma_kernel(-1);
      ASSERT_TRUE(st.ok()) << st.error().message;
      ASSERT_TRUE(st_each.ok()) << st_each.error().message;
      ASSERT_EQ(cudaStreamSynchronize(d.ctx->stream()), cudaSuccess);
      for (std::size_t m = 0; m < 3; ++m) {
        std::vector<float> g1(static_cast<std::size_t>(rows * ne[m])), g2(g1.size());
        ASSERT_EQ(cudaMemcpy(g1.data(), out_one[m].data(), g1.size() * 4, cudaMemcpyDeviceToHost),
                  cudaSuccess);
        ASSERT_EQ(cudaMemcpy(g2.data(), out_each[m].data(), g2.size() * 4, cudaMemcpyDeviceToHost),
                  cudaSuccess);
        EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * 4), 0) << "matrix " << m;
      }
    }
  }
}

TEST(Q8Mma, RejectsMismatchedShapes) {
  ZINFER_REQUIRE_GPU();
  auto ctx = cuda::CudaContext::create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  const std::int64_t k = 256, ne1 = 16;
  Problem p = make_problem(GgmlType::kQ4_K, false, k, ne1, 2, 1);
  auto w = testing::device_bytes(**ctx, p.w.data(), p.w.size());
  auto act = testing::device_bytes(**ctx, p.act.data(), p.act.size());
  std::vector<float> host(static_cast<std::size_t>(2 * ne1));
  auto out = testing::device_bytes(**ctx, host.data(), host.size() * sizeof(float));
  cuda::Q8Act a;
  a.data = static_cast<const std::uint8_t*>(act.data());
  a.layout = p.layout;
  a.rows = 2;
  const cuda::QuantMatrixView wrong_k{GgmlType::kQ4_K, 512, ne1, w.data()};
  const cuda::MatrixView ov{out.as<float>(), 2, ne1, ne1};
  EXPECT_FALSE(cuda::launch_q8_mma(a, {wrong_k, ov, nullptr}, false, (*ctx)->stream()).ok());
  const cuda::QuantMatrixView wrong_type{GgmlType::kQ8_0, k, ne1, w.data()};  // wants Q8_0 acts
  EXPECT_FALSE(cuda::launch_q8_mma(a, {wrong_type, ov, nullptr}, false, (*ctx)->stream()).ok());
  const cuda::MatrixView short_out{out.as<float>(), 1, ne1, ne1};
  const cuda::QuantMatrixView wv{GgmlType::kQ4_K, k, ne1, w.data()};
  EXPECT_FALSE(cuda::launch_q8_mma(a, {wv, short_out, nullptr}, false, (*ctx)->stream()).ok());
}

}  // namespace
}  // namespace zinfer
