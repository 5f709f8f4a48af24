// Clock: an injectable time source, so that expiry, backoff, delayed jobs and
// kmsd's dates are tested without sleeping.
//
// Now() is monotonic time, for timeouts and intervals. WallNowMs() is Unix
// epoch time in milliseconds, for dates that are stored or sent (kmsd's
// tokens, import tokens, key deletion and material expiry). WaitFor() is the one place code blocks for a
// duration (a backoff, the work queue's wait for its next delayed job): the
// real clock waits on the given condition variable; a FakeClock instead moves
// its own time forward by the duration and returns at once, so backoffs run
// at full speed in tests and the time between attempts can be read off the
// fake clock.
//
// Thread-safety: Real() and FakeClock are safe to use from any thread.
#ifndef KMSFS_BASE_CLOCK_H_
#define KMSFS_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace kmsfs {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual int64_t WallNowMs() const = 0;
  int64_t WallNowSec() const { return WallNowMs() / 1000; }
  // Blocks for up to `d` with `lock` released, or until `cv` is notified
  // (or wakes spuriously); `lock` is held again on return. Callers re-check
  // their condition and Now() afterwards.
  virtual void WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                       std::chrono::nanoseconds d);
  // The process-wide clock: steady_clock and system_clock (CLOCK_REALTIME).
  static Clock* Real();
};

// Test clock: time moves only when Advance(), AdvanceMs(), SetWallMs() or
// WaitFor() is called. Advancing moves both times; SetWallMs() moves only the
// wall time, as a real wall clock may jump. Thread-safe.
class FakeClock : public Clock {
 public:
  FakeClock() = default;
  explicit FakeClock(int64_t wall_start_ms) : wall_ms_(wall_start_ms) {}

  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(ns_.load())); }
  int64_t WallNowMs() const override { return wall_ms_.load(); }
  void Advance(std::chrono::nanoseconds d) {
    ns_.fetch_add(d.count());
    wall_ms_.fetch_add(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }
  void AdvanceMs(int64_t ms) { Advance(std::chrono::milliseconds(ms)); }
  void SetWallMs(int64_t ms) { wall_ms_.store(ms); }
  // Does not block: advances the clock by `d` (when positive) and returns.
  void WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
               std::chrono::nanoseconds d) override;

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
  std::atomic<int64_t> wall_ms_{1'700'000'000'000};  // 2023-11-14
};

}  // namespace kmsfs

#endif  // KMSFS_BASE_CLOCK_H_
