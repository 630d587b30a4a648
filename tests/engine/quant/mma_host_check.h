// Shared by the CPU tests of the tensor-core kernel bodies (q8_mma_tile_host_test,
// q8_mma_lane_host_test, q8_mma_host_test): 16-byte aligned host buffers, synthetic weight
// matrices and quantized activation rows, the outputs an emulated kernel stores, and their
// check against mma_reference — bit for bit, each stored exactly once.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engine/quant/act_quant.h"
#include "engine/quant/ggml_type.h"
#include "engine/synthetic/synthetic_weights.h"
#include "kernels/q8_act_layout.h"
#include "kernels/q8_mma.cuh"
#include "tests/engine/quant/cuda_block_emulator.h"

namespace zinfer::cuda::q8mma {

// A 16-byte aligned byte buffer of n bytes (device allocations are; 16-byte loads need it).
struct Aligned {
  std::vector<std::uint8_t> buf;
  std::uint8_t* p = nullptr;
  std::size_t size = 0;
  explicit Aligned(std::size_t n) : buf(n + 16), size(n) {
    p = buf.data() + (16 - reinterpret_cast<std::uintptr_t>(buf.data()) % 16) % 16;
  }
};

// ne1 synthetic weight rows of type T and k elements at w.
template <GgmlType T>
void fill_weights(std::uint8_t* w, std::int64_t k, std::int64_t ne1, std::uint64_t seed) {
  const std::size_t rs = quant::row_size(T, k);
  model::SynthRng rng(seed);
  for (std::int64_t r = 0; r < ne1; ++r)
    model::synth_fill_row(T, model::InitKind::kWeight, 0.05f, k, rng, w + rs * r);
}

// rows random activation rows quantized into layout l (Q16, or T's Q8 type).
template <GgmlType T>
Aligned act_rows(const q8::Q8ActLayout& l, std::int64_t rows, std::uint64_t seed) {
  Aligned act(l.row_bytes * static_cast<std::size_t>(rows));
  const GgmlType at = quant::traits(T).vec_dot_type;
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  std::normal_distribution<float> dist(0.0f, 1.5f);
  std::vector<float> x(static_cast<std::size_t>(l.k));
  std::vector<std::uint8_t> blocks(quant::act_row_size(at, l.k));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = dist(rng);
    std::uint8_t* dst = act.p + l.row_bytes * static_cast<std::size_t>(r);
    if (l.q16) {
      q8::quantize_q16_row(l, x.data(), dst);
    } else {
      quant::quantize_act_row(at, x.data(), blocks.data(), l.k);
      q8::pack_act_row(l, blocks.data(), dst);
    }
  }
  return act;
}

// The kernel bodies' arguments for weight matrices w0 / w1 of ne1 rows and the activation rows
// in act (layout l).
template <GgmlType T>
MmaArgs host_args(const Aligned& act, const q8::Q8ActLayout& l, std::int64_t rows,
                  const std::uint8_t* w0, const std::uint8_t* w1, std::int64_t ne1) {
  MmaArgs a;
  a.act = act.p;
  a.layout = l;
  a.rows = rows;
  a.w[0] = w0;
  a.w[1] = w1;
  a.row_bytes = quant::row_size(T, l.k);
  a.ne1 = ne1;
  a.parts = mma_parts(l.k / MmaTraits<T>::kBlockElems, MmaTraits<T>::kBlockElems);
  return a;
}

// What an emulated kernel stored: output j of activation row n (v1: the up matrix's sum when
// gated), and how often.
struct Outputs {
  std::int64_t rows = 0, ne1 = 0;
  std::vector<float> v0, v1;
  std::vector<int> stores;
  Outputs(std::int64_t r, std::int64_t n)
      : rows(r), ne1(n), v0(static_cast<std::size_t>(r * n)), v1(v0.size()), stores(v0.size()) {}
  void store(std::int64_t n, std::int64_t j, float a, float b) {
    const std::size_t i = static_cast<std::size_t>(n * ne1 + j);
    v0[i] = a;
    v1[i] = b;
    ++stores[i];
  }
};

// What the host thread contexts of the kernel bodies share: the emulated thread, its block's
// indices, shared memory and barrier, and the outputs it stores.
struct HostBlockCtx {
  testing::BlockEmulator* e;
  int tid;
  std::int64_t bx, by;
  Outputs* out;
  int thread() const { return tid; }
  std::int64_t block_x() const { return bx; }
  std::int64_t block_y() const { return by; }
  std::uint8_t* smem() const { return e->smem(); }
  void sync() const { e->sync(); }
  void store(std::int64_t n, std::int64_t j, float v0, float v1) const { out->store(n, j, v0, v1); }
  // cp.async, deferred by the emulator until the thread waits for its group.
  void cp16(void* dst, const void* src) const { e->cp16(tid, dst, src); }
  void commit() const { e->commit(tid); }
  void wait_prior() const { e->wait_groups(tid, 1); }
  void wait_all() const { e->wait_groups(tid, 0); }
  // The emulated threads copy the row between them, 16 bytes each, as the device's do.
  void stage_act(std::uint8_t* dst, const std::uint8_t* row, std::size_t bytes) const {
    for (std::size_t i = 16 * static_cast<std::size_t>(tid); i < bytes;
         i += 16 * static_cast<std::size_t>(e->threads()))
      std::memcpy(dst + i, row + i, 16);
  }
};

// Every output against mma_reference of its weight row (w0, and w1 for v1 when gated) and
// activation row, bit for bit and stored once; reports the first three that are not.
template <GgmlType T>
void expect_reference_outputs(const Outputs& out, const MmaArgs& a, bool gated) {
  int bad = 0;
  for (std::int64_t n = 0; n < out.rows; ++n) {
    const std::uint8_t* arow = a.act + a.layout.row_bytes * static_cast<std::size_t>(n);
    for (std::int64_t j = 0; j < out.ne1; ++j) {
      const std::size_t i = static_cast<std::size_t>(n * out.ne1 + j);
      Aligned w0(a.row_bytes), w1(a.row_bytes);  // aligned copies, as the GPU's rows
      std::memcpy(w0.p, stack_row(a, 0, j), a.row_bytes);
      std::memcpy(w1.p, stack_row(a, 1, j), a.row_bytes);
      const float want0 = mma_reference<T>(w0.p, arow, a.layout);
      const float want1 = gated ? mma_reference<T>(w1.p, arow, a.layout) : want0;
      const bool ok = out.stores[i] == 1 && std::memcmp(&out.v0[i], &want0, 4) == 0 &&
                      std::memcmp(&out.v1[i], &want1, 4) == 0;
      if (!ok && ++bad <= 3) {
        ADD_FAILURE() << "row " << n << " out " << j << ": stores " << out.stores[i] << ", "
                      << out.v0[i] << " / " << out.v1[i] << " vs " << want0 << " / " << want1;
      }
    }
  }
  EXPECT_EQ(bad, 0);
}

// Three matrices of type T (40, 8 and 24 rows of k, separate buffers) as one Q/K/V stack, and
// one contiguous copy of them for the reference: row j of the stack is row j of the copy.
template <GgmlType T>
struct HostStack {
  static constexpr std::int64_t kRows[3] = {40, 8, 24};
  std::vector<Aligned> ws;
  Aligned all;
  HostStack(std::int64_t k, std::uint64_t seed)
      : all(quant::row_size(T, k) * static_cast<std::size_t>(kRows[0] + kRows[1] + kRows[2])) {
    const std::size_t rs = quant::row_size(T, k);
    std::size_t off = 0;
    for (int m = 0; m < 3; ++m) {
      ws.emplace_back(rs * static_cast<std::size_t>(kRows[m]));
      fill_weights<T>(ws.back().p, k, kRows[m], seed + static_cast<std::uint64_t>(m));
      std::memcpy(all.p + off, ws.back().p, ws.back().size);
      off += ws.back().size;
    }
  }
  // a made a stack of the three (ne1 = their rows); reference(a): a on the contiguous copy.
  void apply(MmaArgs& a) const {
    a.n_stack = 3;
    for (int m = 0; m < 3; ++m) {
      a.stack[m] = ws[static_cast<std::size_t>(m)].p;
      a.stack_end[m] = (m == 0 ? 0 : a.stack_end[m - 1]) + kRows[m];
    }
    a.ne1 = a.stack_end[2];
  }
  MmaArgs reference(const MmaArgs& a) const {
    MmaArgs ref = a;
    ref.n_stack = 1;
    ref.w[0] = ref.w[1] = all.p;
    return ref;
  }
};

}  // namespace zinfer::cuda::q8mma

// One test per weight type with tensor-core tiles: check<T>(seed) (check names a function
// template, which parentheses would break).
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ZINFER_MMA_TYPE_TESTS(suite, check)               \
  TEST(suite, Q4_0) { check<quant::GgmlType::kQ4_0>(1); } \
  TEST(suite, Q4_1) { check<quant::GgmlType::kQ4_1>(2); } \
  TEST(suite, Q5_0) { check<quant::GgmlType::kQ5_0>(3); } \
  TEST(suite, Q5_1) { check<quant::GgmlType::kQ5_1>(4); } \
  TEST(suite, Q8_0) { check<quant::GgmlType::kQ8_0>(5); } \
  TEST(suite, Q4_K) { check<quant::GgmlType::kQ4_K>(6); } \
  TEST(suite, Q5_K) { check<quant::GgmlType::kQ5_K>(7); } \
  TEST(suite, Q6_K) { check<quant::GgmlType::kQ6_K>(8); }
// NOLINTEND(bugprone-macro-parentheses)
