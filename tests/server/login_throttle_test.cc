#include "kms/server/login_throttle.h"

#include <gtest/gtest.h>

namespace kmsfs::kms::server {
namespace {

using std::chrono::milliseconds;
using ThrottleClock = LoginThrottle::Clock;

TEST(KmsdLoginThrottleTest, FreeFailuresThenDoublingDelaysUpToTheCap) {
  LoginThrottle::Options o;
  o.free_failures_per_user = 3;
  o.free_failures_per_peer = 1000;
  o.first_delay = milliseconds(1000);
  o.max_delay = milliseconds(8000);
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.WaitBeforeAttempt("1.2.3.4", "alice", now).count(), 0);
    t.RecordFailure("1.2.3.4", "alice", now);
  }
  EXPECT_EQ(t.WaitBeforeAttempt("1.2.3.4", "alice", now).count(), 0);
  std::vector<int64_t> waits;
  for (int i = 0; i < 6; ++i) {
    t.RecordFailure("1.2.3.4", "alice", now);
    waits.push_back(t.WaitBeforeAttempt("1.2.3.4", "alice", now).count());
    now += t.WaitBeforeAttempt("1.2.3.4", "alice", now);
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{1000, 2000, 4000, 8000, 8000, 8000}));
}

TEST(KmsdLoginThrottleTest, OtherAddressesAndOtherUsersAreNotDelayed) {
  LoginThrottle::Options o;
  o.free_failures_per_user = 0;
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  t.RecordFailure("1.2.3.4", "alice", now);
  EXPECT_GT(t.WaitBeforeAttempt("1.2.3.4", "alice", now).count(), 0);
  EXPECT_EQ(t.WaitBeforeAttempt("5.6.7.8", "alice", now).count(), 0);
  EXPECT_EQ(t.WaitBeforeAttempt("1.2.3.4", "bob", now).count(), 0);
}

TEST(KmsdLoginThrottleTest, ManyNamesFromOneAddressDelayThatAddress) {
  LoginThrottle::Options o;
  o.free_failures_per_peer = 5;
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  for (int i = 0; i < 6; ++i) t.RecordFailure("1.2.3.4", "user" + std::to_string(i), now);
  EXPECT_GT(t.WaitBeforeAttempt("1.2.3.4", "someone-new", now).count(), 0);
  EXPECT_EQ(t.WaitBeforeAttempt("5.6.7.8", "someone-new", now).count(), 0);
}

TEST(KmsdLoginThrottleTest, DelayEndsAndSuccessClearsTheCount) {
  LoginThrottle::Options o;
  o.free_failures_per_user = 1;
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  t.RecordFailure("p", "u", now);
  t.RecordFailure("p", "u", now);
  const milliseconds wait = t.WaitBeforeAttempt("p", "u", now);
  ASSERT_GT(wait.count(), 0);
  EXPECT_EQ(t.WaitBeforeAttempt("p", "u", now + wait).count(), 0);
  t.RecordSuccess("p", "u");
  t.RecordFailure("p", "u", now + wait);
  EXPECT_EQ(t.WaitBeforeAttempt("p", "u", now + wait).count(), 0) << "the count started again";
}

TEST(KmsdLoginThrottleTest, OldFailuresAreForgotten) {
  LoginThrottle::Options o;
  o.free_failures_per_user = 2;
  o.forget_after = milliseconds(60000);
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  t.RecordFailure("p", "u", now);
  t.RecordFailure("p", "u", now);
  now += milliseconds(60000);
  t.RecordFailure("p", "u", now);
  EXPECT_EQ(t.WaitBeforeAttempt("p", "u", now).count(), 0);
}

TEST(KmsdLoginThrottleTest, TableStaysBoundedUnderAFloodOfNames) {
  LoginThrottle::Options o;
  o.max_keys = 100;
  o.free_failures_per_peer = 1'000'000;
  LoginThrottle t(o);
  ThrottleClock::time_point now{};
  for (int i = 0; i < 10000; ++i) t.RecordFailure("p", "user" + std::to_string(i), now);
  EXPECT_LE(t.size(), 100u);
  // Keys over their limit are kept through the flood.
  for (int i = 0; i < 5; ++i) t.RecordFailure("p", "alice", now);
  for (int i = 0; i < 1000; ++i) t.RecordFailure("p", "other" + std::to_string(i), now);
  EXPECT_GT(t.WaitBeforeAttempt("p", "alice", now).count(), 0);
}

}  // namespace
}  // namespace kmsfs::kms::server
