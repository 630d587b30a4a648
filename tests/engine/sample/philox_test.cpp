// Philox4x32-10 against the published Random123 known answers and against randomgen's
// independent implementation (fixture: tests/data/sample/philox4x32_kat.txt).
#include "engine/sample/philox.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>

#include "tests/test_util.h"

namespace zinfer::sample {
namespace {

struct Kat {
  Philox4x32Block ctr;
  std::uint32_t key0, key1;
  Philox4x32Block out;
};

void expect_block(const Kat& k) {
  const Philox4x32Block got = philox4x32_10(k.ctr, k.key0, k.key1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got.v[i], k.out.v[i])
        << "word " << i << " for key " << std::hex << k.key0 << " " << k.key1;
  }
}

// The three philox4x32 10 lines of Random123's kat_vectors file.
TEST(Philox, PublishedKnownAnswers) {
  expect_block({{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}});
  expect_block({{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
                0xffffffff,
                0xffffffff,
                {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}});
  expect_block({{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
                0xa4093822,
                0x299f31d0,
                {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}});
}

TEST(Philox, MatchesRandomgenFixture) {
  const std::string text = testing::read_file(testing::data_path("sample/philox4x32_kat.txt"));
  ASSERT_FALSE(text.empty()) << "missing fixture";
  std::istringstream in(text);
  std::string line;
  int blocks = 0;
  int uniforms = 0;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string tag;
    ls >> tag;
    if (tag == "block") {
      Kat k{};
      ls >> std::hex >> k.ctr.v[0] >> k.ctr.v[1] >> k.ctr.v[2] >> k.ctr.v[3] >> k.key0 >> k.key1 >>
          k.out.v[0] >> k.out.v[1] >> k.out.v[2] >> k.out.v[3];
      ASSERT_FALSE(ls.fail()) << line;
      expect_block(k);
      ++blocks;
    } else if (tag == "uniform") {
      std::uint64_t seed = 0, counter = 0, stream = 0;
      std::uint32_t numerator = 0;  // word0 >> 8 from randomgen
      ls >> seed >> counter >> stream >> numerator;
      ASSERT_FALSE(ls.fail()) << line;
      EXPECT_EQ(philox_bits(seed, counter, stream) >> 8, numerator) << line;
      EXPECT_EQ(philox_uniform(seed, counter, stream), static_cast<float>(numerator) / 16777216.0f)
          << line;
      ++uniforms;
    }
  }
  EXPECT_EQ(blocks, 27);
  EXPECT_EQ(uniforms, 16);
}

TEST(Philox, UniformStaysInHalfOpenUnitInterval) {
  double sum = 0.0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const float u = philox_uniform(12345, static_cast<std::uint64_t>(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  // Mean of U[0,1) has sd 1/sqrt(12 n) ~ 0.0009; 5 sd.
  EXPECT_NEAR(sum / kDraws, 0.5, 0.0046);
}

TEST(Philox, StreamAndSeedSelectDistinctSequences) {
  int same_stream = 0;
  int same_seed = 0;
  for (std::uint64_t pos = 0; pos < 1000; ++pos) {
    same_stream += philox_bits(7, pos, 0) == philox_bits(7, pos, 1);
    same_seed += philox_bits(7, pos) == philox_bits(8, pos);
  }
  EXPECT_EQ(same_stream, 0);
  EXPECT_EQ(same_seed, 0);
}

}  // namespace
}  // namespace zinfer::sample
