// Clock: an injectable time source, so that expiry, backoff and delayed jobs
// are tested without sleeping.
//
// Now() is monotonic time. WaitFor() is the one place code blocks for a
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
  // Blocks for up to `d` with `lock` released, or until `cv` is notified
  // (or wakes spuriously); `lock` is held again on return. Callers re-check
  // their condition and Now() afterwards.
  virtual void WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                       std::chrono::nanoseconds d);
  // The process-wide steady clock.
  static Clock* Real();
};

// Test clock: time moves only when Advance() or WaitFor() is called. Thread-safe.
class FakeClock : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }
  // Does not block: advances the clock by `d` (when positive) and returns.
  void WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
               std::chrono::nanoseconds d) override;

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

}  // namespace kmsfs

#endif  // KMSFS_BASE_CLOCK_H_
