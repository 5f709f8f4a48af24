// ConcurrencyLimit: 1 + mean latency / interval, between 1 and max; the
// mean follows new latencies within a few calls.
#include "cache/concurrency_limit.h"

#include <gtest/gtest.h>

namespace kmsfs::cache {
namespace {

using namespace std::chrono_literals;

TEST(ConcurrencyLimitTest, NoIntervalAlwaysAllowsMax) {
  ConcurrencyLimit limit(24, 0us);
  EXPECT_EQ(limit.Allowed(), 24u);
  limit.NoteLatency(1us);
  EXPECT_EQ(limit.Allowed(), 24u);
}

TEST(ConcurrencyLimitTest, OneCallUntilTheFirstLatencyIsKnown) {
  ConcurrencyLimit limit(24, 500us);
  EXPECT_EQ(limit.Allowed(), 1u);
}

TEST(ConcurrencyLimitTest, EnoughCallsForOnePerIntervalUpToMax) {
  const std::pair<std::chrono::nanoseconds, size_t> cases[] = {
      {100us, 1}, {499us, 1}, {500us, 2}, {2ms, 5}, {11ms, 23}, {20ms, 24}, {10s, 24}};
  for (const auto& [latency, allowed] : cases) {
    ConcurrencyLimit limit(24, 500us);
    limit.NoteLatency(latency);
    EXPECT_EQ(limit.Allowed(), allowed) << latency.count() << " ns";
  }
}

TEST(ConcurrencyLimitTest, FollowsAKmsThatSlowsDownOrRecoversWithinAFewCalls) {
  ConcurrencyLimit limit(24, 500us);
  limit.NoteLatency(200us);
  ASSERT_EQ(limit.Allowed(), 1u);
  for (int i = 0; i < 8; ++i) limit.NoteLatency(30ms);
  EXPECT_EQ(limit.Allowed(), 24u) << "slow: all calls in flight after 8 slow answers";
  for (int i = 0; i < 40; ++i) limit.NoteLatency(100us);
  EXPECT_EQ(limit.Allowed(), 1u) << "fast again: back to one call";
}

TEST(ConcurrencyLimitTest, MaxZeroActsAsOne) {
  ConcurrencyLimit limit(0, 500us);
  limit.NoteLatency(1s);
  EXPECT_EQ(limit.Allowed(), 1u);
}

}  // namespace
}  // namespace kmsfs::cache
