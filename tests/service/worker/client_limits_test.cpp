// ClientLimits alone: the byte bucket refills at the configured rate and holds at least one
// largest frame; live-job counting per client; clients are independent.
#include "service/worker/client_limits.h"

#include <gtest/gtest.h>

namespace zinfer::worker {
namespace {

using C = ClientLimits::Clock;

C::time_point at(C::time_point t0, double s) {
  return t0 + std::chrono::duration_cast<C::duration>(std::chrono::duration<double>(s));
}

TEST(ClientLimits, ByteBucketRefillsAtTheRateAndHoldsOneLargestFrame) {
  ClientLimits l(0, 1000.0, 4096);  // 1 kB/s, but a 4 kB frame must be able to pass
  const C::time_point t0 = C::now();
  EXPECT_FALSE(l.charge_bytes("a", 4096, t0).has_value()) << "a full bucket takes one big frame";
  auto over = l.charge_bytes("a", 10, t0);
  ASSERT_TRUE(over.has_value());
  EXPECT_EQ(over->code, ErrorCode::kQueueFull);
  EXPECT_NE(over->message.find("--max-client-bytes-per-s"), std::string::npos);
  EXPECT_FALSE(l.charge_bytes("b", 4096, t0).has_value()) << "clients have their own buckets";
  EXPECT_TRUE(l.charge_bytes("a", 600, at(t0, 0.5)).has_value()) << "500 bytes refilled";
  EXPECT_FALSE(l.charge_bytes("a", 500, at(t0, 0.5)).has_value());
  EXPECT_FALSE(l.charge_bytes("a", 4096, at(t0, 100)).has_value()) << "refill stops at capacity";
  EXPECT_TRUE(l.charge_bytes("a", 1, at(t0, 100)).has_value());
}

TEST(ClientLimits, LiveJobsPerClient) {
  ClientLimits l(2, 0.0, 4096);
  EXPECT_FALSE(l.check_job("a").has_value());
  l.job_accepted(1, "a");
  l.job_accepted(2, "a");
  auto full = l.check_job("a");
  ASSERT_TRUE(full.has_value());
  EXPECT_NE(full->message.find("--max-jobs-per-client 2"), std::string::npos) << full->message;
  EXPECT_FALSE(l.check_job("b").has_value());
  l.job_ended(1);
  EXPECT_FALSE(l.check_job("a").has_value());
  l.job_ended(1);  // twice, or an unknown handle: no effect
  l.job_ended(99);
  l.job_accepted(3, "a");
  EXPECT_TRUE(l.check_job("a").has_value());
  ClientLimits off(0, 0.0, 4096);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.charge_bytes("a", 1u << 30, C::now()).has_value());
}

}  // namespace
}  // namespace zinfer::worker
