// Philox4x32-10 counter-based RNG (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11), usable from host code and CUDA device code alike.
//
// Why counter-based: a job's draw for its n-th generated token is a pure function of
// (seed, n). It never depends on which jobs share the batch, on how many draws other
// jobs made, or on whether the draw happens on the CPU or in a CUDA kernel.
//
// Layout (matches Random123's philox4x32 and its kat_vectors file):
//   counter = 4 x uint32 words, key = 2 x uint32 words, output = 4 x uint32 words.
// philox_uniform(seed, counter, stream) uses key = {lo32(seed), hi32(seed)} and
// counter words = {lo32(counter), hi32(counter), lo32(stream), hi32(stream)}.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ZINFER_HD __host__ __device__ __forceinline__
#else
#define ZINFER_HD inline
#endif

namespace zinfer::sample {

struct Philox4x32Block {
  std::uint32_t v[4];
};

namespace philox_detail {

// Multipliers and Weyl key increments from the Philox paper (Random123 defaults).
constexpr std::uint32_t kMul0 = 0xD2511F53u;
constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

ZINFER_HD std::uint32_t mul_hi(std::uint32_t a, std::uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(a) * b) >> 32);
#endif
}

ZINFER_HD void round(std::uint32_t (&c)[4], std::uint32_t k0, std::uint32_t k1) {
  const std::uint32_t hi0 = mul_hi(kMul0, c[0]);
  const std::uint32_t lo0 = kMul0 * c[0];
  const std::uint32_t hi1 = mul_hi(kMul1, c[2]);
  const std::uint32_t lo1 = kMul1 * c[2];
  const std::uint32_t n0 = hi1 ^ c[1] ^ k0;
  const std::uint32_t n2 = hi0 ^ c[3] ^ k1;
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

}  // namespace philox_detail

// One Philox4x32 block with 10 rounds: the key is bumped by the Weyl constants
// before each round after the first.
ZINFER_HD Philox4x32Block philox4x32_10(const Philox4x32Block& counter, std::uint32_t key0,
                                        std::uint32_t key1) {
  std::uint32_t c[4] = {counter.v[0], counter.v[1], counter.v[2], counter.v[3]};
  std::uint32_t k0 = key0;
  std::uint32_t k1 = key1;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += philox_detail::kWeyl0;
      k1 += philox_detail::kWeyl1;
    }
    philox_detail::round(c, k0, k1);
  }
  return Philox4x32Block{{c[0], c[1], c[2], c[3]}};
}

// The first 32-bit output word for (seed, counter, stream).
ZINFER_HD std::uint32_t philox_bits(std::uint64_t seed, std::uint64_t counter,
                                    std::uint64_t stream = 0) {
  const Philox4x32Block ctr{
      {static_cast<std::uint32_t>(counter), static_cast<std::uint32_t>(counter >> 32),
       static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}};
  return philox4x32_10(ctr, static_cast<std::uint32_t>(seed),
                       static_cast<std::uint32_t>(seed >> 32))
      .v[0];
}

// Uniform float in [0, 1): the top 24 bits of output word 0 times 2^-24, so every
// value is exactly representable and 1.0 is never produced.
ZINFER_HD float philox_uniform(std::uint64_t seed, std::uint64_t counter,
                               std::uint64_t stream = 0) {
  return static_cast<float>(philox_bits(seed, counter, stream) >> 8) * (1.0f / 16777216.0f);
}

}  // namespace zinfer::sample
