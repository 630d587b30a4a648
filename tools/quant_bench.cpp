// Micro-benchmark of the CPU dot-product kernels on one core: GB/s of weight bytes streamed by
// vec_dot_rows (one matrix-vector product) per weight type, for the AVX2 and scalar kernels and
// for the exact path vec_dot_f32, plus the cost of quantizing the activation row. Weights are
// random valid blocks.
//
//   quant_bench [--n 576] [--mb 64] [--type Q4_1] [--seconds 0.3] [--no-scalar]
//
// --mb sets the matrix size: above the last-level cache the number is the DRAM streaming rate
// that bounds decode speed; a small --mb (e.g. 1) shows the in-cache compute rate.
// Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy shared machine slows the
// run down without skewing the rates much.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/quant_ops.h"

namespace {

using zinfer::quant::GgmlType;

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Options {
  std::int64_t n = 576;
  double mb = 64;
  double seconds = 0.3;
  std::string type;  // empty: all
  bool scalar = true;
};

// Random bytes with finite, moderate scale fields, so no kernel sees NaN/Inf.
std::vector<std::uint8_t> random_matrix(GgmlType type, std::int64_t n, std::int64_t rows,
                                        std::mt19937& rng) {
  using zinfer::quant::f32_to_bf16;
  using zinfer::quant::f32_to_fp16;
  const auto& tr = zinfer::quant::traits(type);
  std::vector<std::uint8_t> m(zinfer::quant::row_size(type, n) * static_cast<std::size_t>(rows));
  for (auto& b : m) b = static_cast<std::uint8_t>(rng());
  std::uniform_real_distribution<float> u(0.001f, 0.02f);
  auto put16 = [&](std::size_t at, std::uint16_t v) { std::memcpy(&m[at], &v, 2); };
  for (std::size_t b = 0; b < m.size() / tr.type_size; ++b) {
    const std::size_t o = b * tr.type_size;
    switch (type) {
      case GgmlType::kF32: {
        const float v = u(rng);
        std::memcpy(&m[o], &v, 4);
        break;
      }
      case GgmlType::kF16:
        put16(o, f32_to_fp16(u(rng)));
        break;
      case GgmlType::kBF16:
        put16(o, f32_to_bf16(u(rng)));
        break;
      case GgmlType::kMXFP4:
        m[o] = 120;
        break;
      case GgmlType::kQ2_K:
        put16(o + 80, f32_to_fp16(u(rng)));
        put16(o + 82, f32_to_fp16(u(rng)));
        break;
      case GgmlType::kQ3_K:
        put16(o + 108, f32_to_fp16(u(rng)));
        break;
      case GgmlType::kQ6_K:
        put16(o + 208, f32_to_fp16(u(rng)));
        break;
      case GgmlType::kQ4_1:
      case GgmlType::kQ5_1:
      case GgmlType::kQ4_K:
      case GgmlType::kQ5_K:
        put16(o, f32_to_fp16(u(rng)));
        put16(o + 2, f32_to_fp16(u(rng)));
        break;
      default:
        put16(o, f32_to_fp16(u(rng)));
        break;
    }
  }
  return m;
}

// Runs fn repeatedly for about `seconds`; returns seconds per call.
template <typename Fn>
double time_per_call(double seconds, Fn&& fn) {
  fn();  // warm-up
  std::int64_t calls = 0;
  const double start = thread_seconds();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = thread_seconds() - start;
  } while (elapsed < seconds);
  return elapsed / static_cast<double>(calls);
}

void bench_type(GgmlType type, const Options& opt) {
  const auto& tr = zinfer::quant::traits(type);
  std::int64_t n = opt.n;
  if (n % tr.block_size != 0) n = (n / tr.block_size + 1) * tr.block_size;
  const std::size_t row_bytes = zinfer::quant::row_size(type, n);
  const auto rows = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(opt.mb * 1024 * 1024 / static_cast<double>(row_bytes)));
  std::mt19937 rng(static_cast<unsigned>(type) + 11u);
  const auto w = random_matrix(type, n, rows, rng);
  std::vector<float> x(static_cast<std::size_t>(n));
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  const GgmlType vt = tr.vec_dot_type;
  std::vector<std::uint8_t> act(zinfer::quant::act_row_size(vt, n));
  std::vector<float> out(static_cast<std::size_t>(rows));

  const double t_act = time_per_call(
      opt.seconds / 4, [&] { zinfer::quant::quantize_act_row(vt, x.data(), act.data(), n); });
  const double t_simd = time_per_call(opt.seconds, [&] {
    zinfer::quant::vec_dot_rows(type, n, w.data(), row_bytes, rows, act.data(), out.data());
  });
  const double bytes = static_cast<double>(w.size());
  std::printf("%-6s n=%-5lld rows=%-7lld %7.2f GB/s  %8.1f ns/row", std::string(tr.name).c_str(),
              static_cast<long long>(n), static_cast<long long>(rows), bytes / t_simd / 1e9,
              t_simd / static_cast<double>(rows) * 1e9);
  if (opt.scalar) {
    const double t_scalar = time_per_call(opt.seconds, [&] {
      for (std::int64_t r = 0; r < rows; ++r) {
        out[r] = zinfer::quant::vec_dot_scalar(type, n, w.data() + r * row_bytes, act.data());
      }
    });
    std::printf("   scalar %6.2f GB/s", bytes / t_scalar / 1e9);
  }
  const double t_f32 = time_per_call(opt.seconds, [&] {
    for (std::int64_t r = 0; r < rows; ++r)
      out[r] = zinfer::quant::vec_dot_f32(type, n, w.data() + r * row_bytes, x.data());
  });
  std::printf("   vec_dot_f32 %6.2f GB/s", bytes / t_f32 / 1e9);
  std::printf("   act %s %.2f us\n", std::string(zinfer::quant::type_name(vt)).c_str(),
              t_act * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--n")
      opt.n = std::atoll(next());
    else if (a == "--mb")
      opt.mb = std::atof(next());
    else if (a == "--seconds")
      opt.seconds = std::atof(next());
    else if (a == "--type")
      opt.type = next();
    else if (a == "--no-scalar")
      opt.scalar = false;
    else {
      std::fprintf(stderr,
                   "usage: quant_bench [--n N] [--mb MB] [--type T] [--seconds S] [--no-scalar]\n");
      return 2;
    }
  }
  if (opt.n <= 0 || opt.mb <= 0 || opt.seconds <= 0) {
    std::fprintf(stderr, "--n, --mb and --seconds must be positive\n");
    return 2;
  }
  std::printf("vec_dot on one core, kernels: %s, matrix %.0f MB\n",
              zinfer::quant::vec_dot_uses_avx2() ? "AVX2" : "scalar", opt.mb);
  const GgmlType all[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                          GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                          GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
                          GgmlType::kQ6_K, GgmlType::kMXFP4};
  if (!opt.type.empty()) {
    const auto t = zinfer::quant::type_from_name(opt.type);
    if (!t || !zinfer::quant::is_vec_dot_supported(*t)) {
      std::fprintf(stderr, "--type %s: not a supported weight type\n", opt.type.c_str());
      return 2;
    }
    bench_type(*t, opt);
    return 0;
  }
  for (GgmlType t : all) bench_type(t, opt);
  return 0;
}
