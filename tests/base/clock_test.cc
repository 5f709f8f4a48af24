#include "base/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace kmsfs {
namespace {

TEST(ClockTest, RealWallTimeIsTheSystemClock) {
  const auto ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = ms();
  const int64_t wall = Clock::Real()->WallNowMs();
  const int64_t after = ms();
  EXPECT_LE(before, wall);
  EXPECT_LE(wall, after);
  EXPECT_EQ(Clock::Real()->WallNowSec(), Clock::Real()->WallNowMs() / 1000);
}

TEST(FakeClockTest, AdvanceMovesSteadyAndWallTimeTogether) {
  FakeClock clock(5'000);
  const Clock::TimePoint start = clock.Now();
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(clock.Now() - start, std::chrono::seconds(2));
  EXPECT_EQ(clock.WallNowMs(), 7'000);
  clock.AdvanceMs(1);
  EXPECT_EQ(clock.WallNowMs(), 7'001);
  EXPECT_EQ(clock.WallNowSec(), 7);
  EXPECT_EQ(clock.Now() - start, std::chrono::milliseconds(2'001));
}

TEST(FakeClockTest, SetWallMsMovesOnlyWallTime) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  clock.SetWallMs(42);
  EXPECT_EQ(clock.WallNowMs(), 42);
  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, WaitForAdvancesInsteadOfBlocking) {
  FakeClock clock(0);
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  clock.WaitFor(cv, lock, std::chrono::milliseconds(250));
  EXPECT_EQ(clock.WallNowMs(), 250);
  clock.WaitFor(cv, lock, std::chrono::milliseconds(-5));  // a deadline already past: no change
  EXPECT_EQ(clock.WallNowMs(), 250);
}

}  // namespace
}  // namespace kmsfs
