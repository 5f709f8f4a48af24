#include "kms/retry.h"

#include <gtest/gtest.h>

#include <set>

namespace kmsfs::kms {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, RetriesOnly429And5xx) {
  for (int s : {429, 500, 502, 503, 504, 599}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (int s : {200, 204, 301, 400, 401, 403, 404, 405, 409, 428, 430, 600}) EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
}

TEST(RetryTest, BackoffStaysWithinTheExponentialBound) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(100);
  p.max_backoff = milliseconds(2000);
  p.multiplier = 2;
  for (int trial = 0; trial < 50; ++trial) {
    Backoff b(p);
    EXPECT_LE(b.Next().count(), 100);
    EXPECT_LE(b.Next().count(), 200);
    EXPECT_LE(b.Next().count(), 400);
    EXPECT_LE(b.Next().count(), 800);
    EXPECT_LE(b.Next().count(), 1600);
    for (int i = 0; i < 20; ++i) EXPECT_LE(b.Next().count(), 2000);
  }
}

TEST(RetryTest, BackoffIsJittered) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(1000);
  std::set<int64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(Backoff(p).Next().count());
  EXPECT_GT(seen.size(), 8u);  // uniform over 0..1000: all equal is practically impossible
}

TEST(RetryTest, RetryAfterHintIsUsedButCapped) {
  RetryPolicy p;
  p.max_backoff = milliseconds(2000);
  Backoff b(p);
  EXPECT_EQ(b.Next(1), milliseconds(1000));
  EXPECT_EQ(b.Next(60), milliseconds(2000));
  EXPECT_EQ(b.Next(0), milliseconds(0));
}

}  // namespace
}  // namespace kmsfs::kms
