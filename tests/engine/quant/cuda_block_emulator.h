// A CPU emulation of one CUDA thread block for kernel bodies written against a thread context
// (kernels/q8_mma_tile.cuh, q8_mma_lane.cuh): every thread is a fiber (ucontext) on this OS
// thread, switched at barriers; __syncthreads is a block barrier; mma.sync and __shfl_sync are
// a warp barrier around an exchange of the 32 lanes' operands (the mma emulated from the PTX
// fragment layout; warps drift apart by a few turns at each mma, so one warp can be many steps
// ahead of another); cp.async copies are deferred until the thread waits for their group (and
// their destination is filled with garbage when issued, so reading a stage before waiting for
// it, or overwriting one still in use, shows up as wrong results). A barrier that not all
// threads reach is reported as a deadlock.
#pragma once

#include <ucontext.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace zinfer::testing {

class BlockEmulator {
 public:
  struct Barrier {
    int arrived = 0;
    int generation = 0;
    int size = 0;
  };

  BlockEmulator(int threads, std::size_t smem_bytes)
      : threads_(threads), smem_(smem_bytes + 16), warps_(static_cast<std::size_t>(threads) / 32) {
    block_.size = threads;
    for (auto& w : warps_) w.bar.size = 32;
  }

  int threads() const { return threads_; }

  // Shared memory, 16-byte aligned.
  std::uint8_t* smem() {
    auto* p = smem_.data();
    return p + (16 - reinterpret_cast<std::uintptr_t>(p) % 16) % 16;
  }

  // Runs body(tid) for every thread of the block to completion; throws on a deadlock.
  void run(const std::function<void(int)>& body) {
    self() = this;
    std::vector<std::unique_ptr<Fiber>> fibers;
    for (int tid = 0; tid < threads_; ++tid)
      fibers.push_back(make_fiber([&body, tid] { body(tid); }));
    for (;;) {
      bool all_done = true;
      progress_ = false;
      for (auto& f : fibers) {
        if (f->done) continue;
        all_done = false;
        current() = f.get();
        swapcontext(&main_, &f->ctx);
      }
      if (all_done) return;
      if (!progress_) throw std::runtime_error("deadlock: a barrier not every thread reaches");
    }
  }

  void sync() { wait(block_); }

  // cp.async: the copy lands when this thread waits for its group.
  void cp16(int tid, void* dst, const void* src) {
    std::memset(dst, 0xa5, 16);
    pending(tid).current.push_back({dst, src});
  }
  void commit(int tid) {
    Pending& p = pending(tid);
    p.groups.push_back(std::move(p.current));
    p.current.clear();
  }
  void wait_groups(int tid, std::size_t keep) {  // all but the last `keep` committed groups
    Pending& p = pending(tid);
    while (p.groups.size() > keep) {
      for (const Copy& c : p.groups.front()) std::memcpy(c.dst, c.src, 16);
      p.groups.erase(p.groups.begin());
    }
  }

  // mma.sync.m16n8k{32,16}.s8.s8.s32 with C = 0 for the warp of lane tid.
  void mma(int tid, bool k32, int (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
           std::uint32_t b1) {
    Warp& w = warps_[static_cast<std::size_t>(tid / 32)];
    const int lane = tid % 32;
    // Warps drift apart: before each mma all lanes of a warp let the others run 0-3 turns
    // (the same count for every lane, from the warp's own mma count), so a warp can run many
    // steps ahead of another, as on the device.
    const std::uint64_t step = lane_steps(tid)++;
    std::uint64_t h = (static_cast<std::uint64_t>(tid / 32) << 32) + step;  // splitmix64
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    for (int i = 0; i < static_cast<int>(h % 4); ++i) {
      progress_ = true;
      yield();
    }
    Frag& mine = w.frags[lane];
    std::memcpy(mine.a, a, sizeof(mine.a));
    mine.b[0] = b0;
    mine.b[1] = b1;
    wait(w.bar);  // every lane's fragments are in
    const int g = lane >> 2, t = lane & 3, kk = k32 ? 32 : 16;
    for (int i = 0; i < 4; ++i) {
      const int r = g + 8 * (i >> 1), n = 2 * t + (i & 1);
      int sum = 0;
      for (int k = 0; k < kk; ++k) sum += a_at(w, r, k, k32) * b_at(w, k, n);
      c[i] = sum;
    }
    wait(w.bar);  // every lane has read them
  }

  // ldmatrix.sync.aligned.m8n8.x4.shared.b16 for the warp of lane tid, whose row address is p:
  // register i of lane l holds row l / 4 of matrix i (the rows lanes 8i..8i+7 point at),
  // its 16-bit elements 2·(l % 4) and 2·(l % 4) + 1.
  void ldmatrix_x4(int tid, std::uint32_t (&r)[4], const void* p) {
    Warp& w = warps_[static_cast<std::size_t>(tid / 32)];
    const int lane = tid % 32;
    w.rows[lane] = static_cast<const std::uint8_t*>(p);
    wait(w.bar);  // every lane's address is in
    for (int i = 0; i < 4; ++i) {
      std::memcpy(&r[i], w.rows[8 * i + lane / 4] + 4 * (lane % 4), 4);
    }
    wait(w.bar);  // every lane has read
  }

  // mma.sync.m16n8k16.row.col.f32.f16.f16.f32, d = a·b + d, for the warp of lane tid: each
  // output the sum of its 16 products (exact in double) and its C, rounded once to float — the
  // tensor cores' own rounding may differ in the last bits, so callers compare with tolerance.
  void mma_f16(int tid, float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
               std::uint32_t b1, float (*half_to_float)(std::uint16_t)) {
    Warp& w = warps_[static_cast<std::size_t>(tid / 32)];
    const int lane = tid % 32;
    Frag& mine = w.frags[lane];
    std::memcpy(mine.a, a, sizeof(mine.a));
    mine.b[0] = b0;
    mine.b[1] = b1;
    wait(w.bar);  // every lane's fragments are in
    // A (16 × 16): a0 (row g, k 2t..2t+1), a1 (row g + 8), a2 (row g, k + 8), a3 (row g + 8,
    // k + 8); B (16 × 8): b0 (k 2t..2t+1, column g), b1 (k + 8).
    auto a_at = [&](int r, int k) {
      const Frag& f = w.frags[4 * (r % 8) + (k % 8) / 2];
      const std::uint32_t word = f.a[(r / 8) + 2 * (k / 8)];
      return half_to_float(static_cast<std::uint16_t>(word >> (16 * (k % 2))));
    };
    auto b_at = [&](int k, int n) {
      const Frag& f = w.frags[4 * n + (k % 8) / 2];
      const std::uint32_t word = f.b[k / 8];
      return half_to_float(static_cast<std::uint16_t>(word >> (16 * (k % 2))));
    };
    const int g = lane >> 2, t = lane & 3;
    float out[4];
    for (int i = 0; i < 4; ++i) {
      const int r = g + 8 * (i >> 1), n = 2 * t + (i & 1);
      double sum = d[i];
      for (int k = 0; k < 16; ++k) sum += static_cast<double>(a_at(r, k)) * b_at(k, n);
      out[i] = static_cast<float>(sum);
    }
    wait(w.bar);  // every lane has read the fragments
    std::memcpy(d, out, sizeof(out));
  }

  // __shfl_sync(0xffffffff, v, src) for the warp of lane tid.
  float shfl(int tid, float v, int src) {
    Warp& w = warps_[static_cast<std::size_t>(tid / 32)];
    w.values[tid % 32] = v;
    wait(w.bar);  // every lane's value is in
    const float got = w.values[src & 31];
    wait(w.bar);  // every lane has read
    return got;
  }

 private:
  static constexpr std::size_t kStackBytes = 256 * 1024;
  struct Fiber {
    ucontext_t ctx{};
    std::vector<char> stack;
    std::function<void()> body;
    bool done = false;
  };
  struct Copy {
    void* dst;
    const void* src;
  };
  struct Pending {
    std::vector<Copy> current;
    std::vector<std::vector<Copy>> groups;
  };
  struct Frag {
    std::uint32_t a[4];
    std::uint32_t b[2];
  };
  struct Warp {
    Barrier bar;
    Frag frags[32];
    float values[32];
    const std::uint8_t* rows[32];
  };

  // getcontext returns twice: kept out of the caller's loop (-Wclobbered).
  [[gnu::noinline]] std::unique_ptr<Fiber> make_fiber(std::function<void()> body) {
    auto f = std::make_unique<Fiber>();
    f->stack.resize(kStackBytes);
    f->body = std::move(body);
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack.data();
    f->ctx.uc_stack.ss_size = f->stack.size();
    f->ctx.uc_link = &main_;
    makecontext(&f->ctx, &BlockEmulator::trampoline, 0);
    return f;
  }
  static Fiber*& current() {
    static thread_local Fiber* f = nullptr;
    return f;
  }
  static BlockEmulator*& self() {
    static thread_local BlockEmulator* e = nullptr;
    return e;
  }
  static void trampoline() {
    Fiber* f = current();
    f->body();
    f->done = true;
    self()->progress_ = true;
  }
  void yield() { swapcontext(&current()->ctx, &main_); }
  void wait(Barrier& b) {
    self() = this;
    progress_ = true;
    const int gen = b.generation;
    if (++b.arrived == b.size) {
      b.arrived = 0;
      ++b.generation;
      return;
    }
    while (b.generation == gen) {
      yield();
      self() = this;
    }
  }
  std::uint64_t& lane_steps(int tid) {
    if (steps_.size() < static_cast<std::size_t>(threads_))
      steps_.resize(static_cast<std::size_t>(threads_));
    return steps_[static_cast<std::size_t>(tid)];
  }
  Pending& pending(int tid) {
    if (pending_.size() < static_cast<std::size_t>(threads_))
      pending_.resize(static_cast<std::size_t>(threads_));
    return pending_[static_cast<std::size_t>(tid)];
  }
  static int byte_at(std::uint32_t w, int i) {
    return static_cast<std::int8_t>(static_cast<std::uint8_t>(w >> (8 * i)));
  }
  // A[r][k] and B[k][n] from the lanes' fragments (layout in kernels/q8_mma.cuh).
  static int a_at(const Warp& w, int r, int k, bool k32) {
    const int g = r & 7, hi_row = r >> 3, half = k >> 4, t = (k & 15) >> 2;
    const Frag& f = w.frags[4 * g + t];
    const int reg = k32 ? hi_row + 2 * half : hi_row;  // a0 (g), a1 (g+8), a2, a3 (k + 16)
    return byte_at(f.a[reg], k & 3);
  }
  static int b_at(const Warp& w, int k, int n) {
    const int half = k >> 4, t = (k & 15) >> 2;
    return byte_at(w.frags[4 * n + t].b[half], k & 3);
  }

  int threads_;
  std::vector<std::uint8_t> smem_;
  std::vector<Warp> warps_;
  std::vector<Pending> pending_;
  std::vector<std::uint64_t> steps_;
  Barrier block_;
  ucontext_t main_{};
  bool progress_ = false;
};

}  // namespace zinfer::testing
