// The device sampler (kernels/sample_rows.cu through engine/backend/cuda/device_sampler) against
// the host Sampler on fixed logits: the same token for greedy (ties included) and seeded
// sampling over many seeds and positions × temperature, top-k, top-p, min-p, penalties, logit
// bias and top_logprobs; vocabularies 1 to 262,144; 1 to 64 rows per launch, each row's
// result the same alone and batched; NaN / +inf / all-masked / overflow rows failing with the
// host's error codes while their batch-mates succeed. Logprobs within 1e-5 of the host's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backend/cuda/device_sampler.h"
#include "engine/sample/sampler.h"
#include "kernels/cuda_context.h"
#include "kernels/device_buffer.h"
#include "tests/kernels/gpu_test_util.h"

namespace zinfer {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kLogprobTol = 1e-5;

// Logprobs agree: equal (both -inf for a masked token) or within kLogprobTol.
bool logprob_close(float got, float want) {
  return got == want || std::fabs(static_cast<double>(got) - want) <= kLogprobTol;
}

// One row to sample: its logits, parameters, history and position.
struct Case {
  std::vector<float> logits;
  sample::SamplingParams params;
  std::vector<std::int32_t> history;
  std::int64_t position = 0;
};

std::string describe(const Case& c) {
  const sample::SamplingParams& p = c.params;
  std::ostringstream os;
  os << "vocab " << c.logits.size() << ", T=" << p.temperature << " top_k=" << p.top_k
     << " top_p=" << p.top_p << " min_p=" << p.min_p << " rep=" << p.repetition_penalty
     << " pres=" << p.presence_penalty << " freq=" << p.frequency_penalty
     << " last_n=" << p.penalty_last_n << " bias=" << p.logit_bias.size()
     << " top_logprobs=" << p.top_logprobs << " seed=" << p.seed << " position=" << c.position
     << " history=" << c.history.size();
  return os.str();
}

// The host Sampler's answer (the oracle).
Result<sample::SampleResult> host_sample(const Case& c) {
  std::vector<float> row = c.logits;
  return sample::sample_logits(c.params, row, c.history, c.position);
}

// Rank of a token under the processed logits, for messages: how many ids beat it.
std::string token_context(const Case& c, std::int32_t token) {
  if (token < 0 || static_cast<std::size_t>(token) >= c.logits.size()) return "out of range";
  const float x = c.logits[static_cast<std::size_t>(token)];
  std::size_t above = 0;
  for (const float y : c.logits) above += y > x ? 1 : 0;
  std::ostringstream os;
  os << "raw logit " << x << ", " << above << " raw logits above it";
  return os.str();
}

class DeviceSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::cuda_device_available()) return;
    auto ctx = cuda::CudaContext::create(0);
    ASSERT_TRUE(ctx.ok()) << ctx.error().message;
    ctx_ = std::move(*ctx);
    sampler_ = std::make_unique<cuda::DeviceSampler>(ctx_->ledger());
  }

  // Samples the cases as rows of one matrix (all the same vocabulary) in one launch. The
  // row stride is padded (odd_stride: not a multiple of 4 floats) and rows are laid out in
  // reverse order of the cases, so logit_row differs from the case index.
  std::vector<Result<sample::SampleResult>> device_sample(const std::vector<Case>& cases,
                                                          bool odd_stride = false) {
    std::vector<Result<sample::SampleResult>> none;
    if (cases.empty()) return none;
    const std::int64_t vocab = static_cast<std::int64_t>(cases[0].logits.size());
    const std::int64_t stride = odd_stride ? vocab + 3 : (vocab + 15) / 16 * 16;
    const auto n = static_cast<std::int64_t>(cases.size());
    std::vector<float> host(static_cast<std::size_t>(n * stride), std::nanf(""));
    std::vector<model::SampleRow> rows;
    for (std::int64_t i = 0; i < n; ++i) {
      const Case& c = cases[static_cast<std::size_t>(i)];
      EXPECT_EQ(static_cast<std::int64_t>(c.logits.size()), vocab);
      const std::int64_t r = n - 1 - i;
      std::copy(c.logits.begin(), c.logits.end(), host.begin() + r * stride);
      rows.push_back(model::SampleRow{static_cast<std::int32_t>(r),
                                      sample::SampleRequest{&c.params, c.history, c.position}});
    }
    auto buf = cuda::DeviceBuffer::allocate(ctx_->ledger(), host.size() * sizeof(float), "logits");
    EXPECT_TRUE(buf.ok());
    if (!buf.ok()) return none;
    EXPECT_EQ(
        cudaMemcpy(buf->data(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
        cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const cuda::MatrixView view{buf->as<float>(), n, vocab, stride};
    auto out = sampler_->sample(view, rows, ctx_->stream());
    EXPECT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    if (!out.ok()) return none;
    EXPECT_EQ(out->size(), cases.size());
    return std::move(*out);
  }

  // Device results equal the host's: same token / same error code, logprobs within 1e-5,
  // the same top ids in the same order. Returns the number of mismatching rows.
  int expect_matches_host(const std::vector<Case>& cases, const std::string& label,
                          bool odd_stride = false) {
    const auto got = device_sample(cases, odd_stride);
    if (got.size() != cases.size()) {
      ADD_FAILURE() << label << ": no device results";
      return static_cast<int>(cases.size());
    }
    int bad = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      const auto want = host_sample(c);
      const auto& have = got[i];
      const std::string where = label + " row " + std::to_string(i) + " (" + describe(c) + ")";
      if (want.ok() != have.ok()) {
        ADD_FAILURE() << where << ": host " << (want.ok() ? "ok" : want.error().message)
                      << ", device " << (have.ok() ? "ok" : have.error().message);
        ++bad;
        continue;
      }
      if (!want.ok()) {
        EXPECT_EQ(have.error().code, want.error().code)
            << where << ": host '" << want.error().message << "', device '" << have.error().message
            << "'";
        bad += have.error().code == want.error().code ? 0 : 1;
        continue;
      }
      bool row_ok = true;
      if (have->token != want->token) {
        ADD_FAILURE() << where << ": token " << have->token << " (" << token_context(c, have->token)
                      << ") but the host draws " << want->token << " ("
                      << token_context(c, want->token) << ")";
        row_ok = false;
      }
      if (!logprob_close(have->logprob, want->logprob)) {
        ADD_FAILURE() << where << ": logprob " << have->logprob << ", host " << want->logprob;
        row_ok = false;
      }
      if (have->top_logprobs.size() != want->top_logprobs.size()) {
        ADD_FAILURE() << where << ": " << have->top_logprobs.size() << " top logprobs, host "
                      << want->top_logprobs.size();
        row_ok = false;
      } else {
        for (std::size_t k = 0; k < want->top_logprobs.size(); ++k) {
          const auto& [hid, hlp] = have->top_logprobs[k];
          const auto& [wid, wlp] = want->top_logprobs[k];
          if (hid != wid || !logprob_close(hlp, wlp)) {
            ADD_FAILURE() << where << ": top_logprobs[" << k << "] = (" << hid << ", " << hlp
                          << "), host (" << wid << ", " << wlp << ")";
            row_ok = false;
            break;
          }
        }
      }
      bad += row_ok ? 0 : 1;
    }
    return bad;
  }

  std::unique_ptr<cuda::CudaContext> ctx_;
  std::unique_ptr<cuda::DeviceSampler> sampler_;
};

// Logits like a model's: normal noise with a few strong candidates, some exact ties (values
// on a coarse grid) and, when masked, a share of -inf.
std::vector<float> model_like_logits(std::size_t vocab, std::uint32_t seed, float scale, bool ties,
                                     bool masked) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, scale);
  std::uniform_int_distribution<std::size_t> pick(0, vocab - 1);
  std::vector<float> v(vocab);
  for (float& x : v) x = noise(rng);
  if (ties) {
    for (float& x : v) x = std::round(x * 4.0f) / 4.0f;  // many equal values
  }
  for (int k = 0; k < 8 && vocab > 1; ++k) v[pick(rng)] += 3.0f * scale;
  if (masked) {
    for (std::size_t i = 0; i < vocab; i += 3) v[i] = -kInf;
    v[pick(rng)] = 2.0f * scale;  // at least one finite logit
  }
  return v;
}

const std::vector<std::size_t>& vocab_sizes() {
  static const std::vector<std::size_t> sizes = {1, 7, 733, 32000, 151936, 262144};
  return sizes;
}

sample::SamplingParams greedy() {
  sample::SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

TEST_F(DeviceSamplerTest, GreedyTakesTheArgmaxWithLowestIdOnTies) {
  ZINFER_REQUIRE_GPU();
  for (const std::size_t vocab : vocab_sizes()) {
    std::vector<Case> cases;
    for (int r = 0; r < 8; ++r) {
      Case c;
      c.logits = model_like_logits(vocab, 100 + static_cast<std::uint32_t>(r), 2.0f,
                                   /*ties=*/r % 2 == 0, /*masked=*/r % 4 == 3);
      if (r == 0 && vocab > 5) {
        // The maximum shared by several ids, the lowest not at index 0.
        const float top = 1000.0f;
        c.logits[vocab - 1] = top;
        c.logits[vocab / 2] = top;
        c.logits[3] = top;
      }
      if (r == 1) {  // every logit equal: id 0
        std::fill(c.logits.begin(), c.logits.end(), -1.5f);
      }
      if (r == 2 && vocab > 3) {  // -0 and +0 tie as the maximum: the lower id wins
        std::fill(c.logits.begin(), c.logits.end(), -1.0f);
        c.logits[2] = 0.0f;
        c.logits[1] = -0.0f;
      }
      c.params = greedy();
      c.position = r;
      cases.push_back(std::move(c));
    }
    EXPECT_EQ(expect_matches_host(cases, "greedy vocab " + std::to_string(vocab)), 0);
  }
}

// Parameter combinations of the seeded chain (and greedy with bias / penalties).
sample::SamplingParams seeded_chain(float t, std::int32_t k, float p, float min_p) {
  sample::SamplingParams s;
  s.temperature = t;
  s.top_k = k;
  s.top_p = p;
  s.min_p = min_p;
  return s;
}

std::vector<sample::SamplingParams> param_grid(std::size_t vocab) {
  std::vector<sample::SamplingParams> grid;
  const auto add = [&](float t, std::int32_t k, float p, float min_p) {
    grid.push_back(seeded_chain(t, k, p, min_p));
    return &grid.back();
  };
  add(1.0f, 0, 1.0f, 0.0f);
  add(0.7f, 40, 1.0f, 0.0f);
  add(1.2f, 0, 0.9f, 0.0f);
  add(0.9f, 0, 1.0f, 0.05f);
  add(1.0f, 200, 0.8f, 0.02f);
  add(2.0f, 5000, 0.99f, 0.0f);
  add(0.3f, 1, 1.0f, 0.0f);
  add(1.5f, 3, 0.5f, 0.3f);
  add(0.05f, 0, 0.95f, 0.0f);
  add(5.0f, 0, 0.999f, 0.0f);
  add(1.0f, static_cast<std::int32_t>(vocab), 0.7f, 0.0f);  // top-k = vocab: off
  add(1.0f, 0, 1e-6f, 0.0f);                                // top-p keeps one token
  add(0.8f, 0, 1.0f, 1.0f);                                 // min-p 1: only the maxima
  {
    sample::SamplingParams* s = add(1.1f, 50, 0.95f, 0.01f);
    s->repetition_penalty = 1.3f;
    s->presence_penalty = 0.4f;
    s->frequency_penalty = 0.25f;
    s->top_logprobs = 5;
  }
  {
    sample::SamplingParams* s = add(0.0f, 0, 1.0f, 0.0f);  // greedy with bias and penalties
    s->repetition_penalty = 1.7f;
    s->frequency_penalty = 0.6f;
    s->top_logprobs = 20;
  }
  {
    sample::SamplingParams* s = add(0.9f, 0, 0.9f, 0.0f);
    s->penalty_last_n = -1;  // the whole history
    s->presence_penalty = -0.5f;
    s->top_logprobs = 1;
  }
  // Logit bias on ids spread over the vocabulary, one repeated (biases add in turn).
  for (std::size_t g = 0; g < grid.size(); g += 3) {
    const auto id = [&](std::size_t k) { return static_cast<std::int32_t>((k * 7919) % vocab); };
    grid[g].logit_bias = {{id(1), 4.0f}, {id(2), -100.0f}, {id(3), 0.75f}, {id(1), 1.5f}};
  }
  return grid;
}

TEST_F(DeviceSamplerTest, SeededMatchesHostOverSeedsPositionsAndParameters) {
  ZINFER_REQUIRE_GPU();
  int total = 0;
  int mismatched = 0;
  for (const std::size_t vocab : vocab_sizes()) {
    const auto grid = param_grid(vocab);
    for (std::size_t g = 0; g < grid.size(); ++g) {
      // One launch of up to 24 rows: several seeds and positions, logit shapes varied.
      const int n_rows = vocab >= 151936 ? 8 : 24;
      std::vector<Case> cases;
      for (int r = 0; r < n_rows; ++r) {
        Case c;
        const auto salt = static_cast<std::uint32_t>(g * 131 + static_cast<std::size_t>(r));
        c.logits = model_like_logits(vocab, salt, r % 3 == 0 ? 1.0f : 3.0f, r % 4 == 1, r % 5 == 2);
        c.params = grid[g];
        c.params.seed = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(r + 1) + g;
        c.position = (r * 37 + static_cast<int>(g)) % 1000;
        for (int h = 0; h < 80; ++h) {
          c.history.push_back(static_cast<std::int32_t>((salt * 2654435761u + h * 7u) % vocab));
        }
        cases.push_back(std::move(c));
      }
      const std::string label = "vocab " + std::to_string(vocab) + " params " + std::to_string(g);
      mismatched += expect_matches_host(cases, label, /*odd_stride=*/g % 2 == 1);
      total += n_rows;
    }
  }
  std::printf("device sampler: %d of %d seeded/greedy rows equal to the host Sampler\n",
              total - mismatched, total);
}

// The cuts' slow path (sample_rank_cut.cuh): when the bin of 1/64 below the top that holds
// the cut has more than 2,048 items, its levels run as passes over the row instead of on the
// shared-memory list. Near-flat rows put every item in the first bins; a few strong logits
// above them, or a normal spread with its crossing bin crowded, vary where the cut falls.
TEST_F(DeviceSamplerTest, CutsInCrowdedBinsMatchHost) {
  ZINFER_REQUIRE_GPU();
  const std::vector<sample::SamplingParams> grid = {
      seeded_chain(1.0f, 0, 0.5f, 0.0f),
      seeded_chain(1.0f, 0, 0.97f, 0.0f),
      seeded_chain(0.8f, 10000, 1.0f, 0.0f),
      seeded_chain(0.8f, 3000, 0.9f, 0.0f),
      seeded_chain(0.8f, 40, 0.95f, 0.05f),
      seeded_chain(20.0f, 0, 0.95f, 0.0f),  // a high temperature squeezes a normal spread
  };
  int mismatched = 0;
  for (const std::size_t vocab : {std::size_t{32000}, std::size_t{151936}}) {
    for (std::size_t g = 0; g < grid.size(); ++g) {
      std::vector<Case> cases;
      for (int r = 0; r < 6; ++r) {
        Case c;
        std::mt19937 rng(static_cast<std::uint32_t>(977 * g + 31 * static_cast<std::size_t>(r)));
        std::uniform_real_distribution<float> flat(0.0f, 0.004f);
        std::normal_distribution<float> spread(0.0f, 1.0f);
        c.logits.resize(vocab);
        for (float& x : c.logits) x = r < 3 ? 1.0f + flat(rng) : spread(rng);
        if (r == 1) {
          for (std::size_t i = 0; i < 6; ++i) c.logits[i * 4999 % vocab] = 1.5f;
        }
        if (r == 2) {
          for (float& x : c.logits) x = std::round(x * 1000.0f) / 1000.0f;  // runs of ties
        }
        c.params = grid[g];
        c.params.seed = 4242 + static_cast<std::uint64_t>(r * 17) + g;
        c.position = r * 3 + static_cast<int>(g);
        cases.push_back(std::move(c));
      }
      mismatched += expect_matches_host(
          cases, "crowded vocab " + std::to_string(vocab) + " params " + std::to_string(g));
    }
  }
  EXPECT_EQ(mismatched, 0);
}

// A row's result does not depend on its batch-mates: each of 64 mixed rows sampled alone
// equals the same row in one 64-row launch, bitwise (token, logprob, top logprobs).
TEST_F(DeviceSamplerTest, RowsAreBatchInvariant) {
  ZINFER_REQUIRE_GPU();
  const std::size_t vocab = 32000;
  const auto grid = param_grid(vocab);
  std::vector<Case> cases;
  for (int r = 0; r < 64; ++r) {
    Case c;
    c.logits = model_like_logits(vocab, 7000 + static_cast<std::uint32_t>(r), 2.5f, r % 3 == 0,
                                 r % 7 == 0);
    c.params = grid[static_cast<std::size_t>(r) % grid.size()];
    c.params.seed = 12345 + static_cast<std::uint64_t>(r);
    c.position = r;
    for (int h = 0; h < 30; ++h) c.history.push_back((r * 101 + h * 13) % 32000);
    cases.push_back(std::move(c));
  }
  const auto batched = device_sample(cases);
  ASSERT_EQ(batched.size(), cases.size());
  EXPECT_EQ(expect_matches_host(cases, "64 mixed rows"), 0);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto alone = device_sample({cases[i]});
    ASSERT_EQ(alone.size(), 1u);
    ASSERT_TRUE(alone[0].ok() && batched[i].ok()) << "row " << i;
    EXPECT_EQ(alone[0]->token, batched[i]->token)
        << "row " << i << " (" << describe(cases[i]) << ")";
    EXPECT_EQ(alone[0]->logprob, batched[i]->logprob) << "row " << i;
    EXPECT_EQ(alone[0]->top_logprobs, batched[i]->top_logprobs) << "row " << i;
  }
  // Rows 1..64 in one launch, each count once: the prefix of the cases.
  for (const std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{17}}) {
    const std::vector<Case> head(cases.begin(), cases.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(expect_matches_host(head, std::to_string(n) + " rows"), 0);
  }
}

// Rows whose logits or parameters fail get the host's error; the other rows of the launch
// are sampled normally.
TEST_F(DeviceSamplerTest, BrokenRowsFailLikeTheHostAndSpareTheirBatchMates) {
  ZINFER_REQUIRE_GPU();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const std::size_t vocab : {std::size_t{7}, std::size_t{733}, std::size_t{151936}}) {
    std::vector<Case> cases;
    const auto good = [&](std::uint32_t seed) {
      Case c;
      c.logits = model_like_logits(vocab, seed, 2.0f, false, false);
      c.params.temperature = 0.8f;
      c.params.top_p = 0.9f;
      c.params.seed = seed;
      c.position = seed % 17;
      return c;
    };
    cases.push_back(good(1));
    {
      Case c = good(2);  // NaN: kInferenceFailed
      c.logits[vocab / 2] = nan;
      c.logits[vocab - 1] = nan;
      cases.push_back(c);
    }
    {
      Case c = good(3);  // +inf: kInferenceFailed
      c.logits[vocab - 1] = kInf;
      cases.push_back(c);
    }
    {
      Case c = good(4);  // all -inf: kInferenceFailed
      std::fill(c.logits.begin(), c.logits.end(), -kInf);
      cases.push_back(c);
    }
    {
      Case c = good(5);  // bias overflows to +inf: kInvalidParameter
      c.logits[2] = 3.0e38f;
      c.params.logit_bias = {{2, 3.0e38f}};
      cases.push_back(c);
    }
    {
      Case c = good(6);  // the only finite logit penalized to -inf: kInferenceFailed when seeded
      std::fill(c.logits.begin(), c.logits.end(), -kInf);
      c.logits[1] = -3.0e38f;
      c.params.repetition_penalty = 10.0f;
      c.history = {1, 1};
      cases.push_back(c);
      c.params.temperature = 0.0f;  // greedy over all -inf: id 0, like the host
      cases.push_back(c);
    }
    {
      Case c = good(7);  // a history id outside the vocabulary: kInvalidParameter
      c.params.frequency_penalty = 0.5f;
      c.history = {0, static_cast<std::int32_t>(vocab) + 5};
      cases.push_back(c);
    }
    cases.push_back(good(8));
    EXPECT_EQ(expect_matches_host(cases, "broken rows, vocab " + std::to_string(vocab)), 0);
    const auto got = device_sample(cases);
    ASSERT_EQ(got.size(), cases.size());
    EXPECT_TRUE(got.front().ok() && got.back().ok()) << "healthy rows must still be sampled";
    ASSERT_FALSE(got[1].ok());
    EXPECT_EQ(got[1].error().message, "logits[" + std::to_string(vocab / 2) + "] is nan");
    ASSERT_FALSE(got[2].ok());
    EXPECT_EQ(got[2].error().message, "logits[" + std::to_string(vocab - 1) + "] is +inf");
  }
}

// Tie-heavy logits (37 distinct values over 30000 ids, some masked) put every top-k and
// top-p cut inside a run of equal logits, which must resolve to the lower ids as on the host.
TEST_F(DeviceSamplerTest, CutsInsideRunsOfTiesMatchTheHost) {
  ZINFER_REQUIRE_GPU();
  std::vector<float> logits(30000);
  for (std::size_t i = 0; i < logits.size(); ++i) {
    logits[i] = i % 101 == 0 ? -kInf : static_cast<float>((i * 7919) % 37) * 0.25f - 3.0f;
  }
  std::vector<Case> cases;
  int r = 0;
  for (const std::int32_t k : {0, 1, 5, 811, 812, 813, 5000, 29000, 29999}) {
    for (const float p : {1.0f, 0.01f, 0.3f, 0.77f, 0.999f}) {
      Case c;
      c.logits = logits;
      c.params.temperature = r % 2 ? 0.6f : 1.7f;
      c.params.top_k = k;
      c.params.top_p = p;
      c.params.min_p = r % 3 == 0 ? 0.01f : 0.0f;
      c.params.top_logprobs = 20;  // the top-20 raw logits tie too
      c.params.seed = 77 + static_cast<std::uint64_t>(r);
      c.position = r;
      cases.push_back(std::move(c));
      ++r;
    }
  }
  EXPECT_EQ(expect_matches_host(cases, "ties"), 0);
}

}  // namespace
}  // namespace zinfer
