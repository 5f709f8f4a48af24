// ConcurrencyLimit: 1 + lowest recent latency / interval, between 1 and max.
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

// The lowest recent latency counts: queueing behind our own calls does not
// raise the limit, a KMS that got slower does once a window of calls was
// slow, and one fast answer brings it back down.
TEST(ConcurrencyLimitTest, FollowsTheLowestRecentLatency) {
  ConcurrencyLimit limit(24, 500us);
  limit.NoteLatency(200us);
  for (int i = 0; i < 10; ++i) limit.NoteLatency(3ms);  // calls queued behind each other
  EXPECT_EQ(limit.Allowed(), 1u);
  for (size_t i = 0; i < ConcurrencyLimit::kWindow - 1; ++i) limit.NoteLatency(30ms);
  EXPECT_EQ(limit.Allowed(), 7u) << "the 3 ms calls are still in the window";
  limit.NoteLatency(30ms);
  limit.NoteLatency(30ms);
  for (size_t i = 0; i < ConcurrencyLimit::kWindow; ++i) limit.NoteLatency(30ms);
  EXPECT_EQ(limit.Allowed(), 24u) << "a whole window of slow answers";
  limit.NoteLatency(100us);
  EXPECT_EQ(limit.Allowed(), 1u) << "fast again";
}

TEST(ConcurrencyLimitTest, MaxZeroActsAsOne) {
  ConcurrencyLimit limit(0, 500us);
  limit.NoteLatency(1s);
  EXPECT_EQ(limit.Allowed(), 1u);
}

}  // namespace
}  // namespace kmsfs::cache
