// Clock: injectable time source so cache expiry is tested without sleeping.
#ifndef KMSFS_CACHE_CLOCK_H_
#define KMSFS_CACHE_CLOCK_H_

#include <atomic>
#include <chrono>

namespace kmsfs::cache {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // The process-wide steady clock.
  static Clock* Real();
};

// Test clock: time moves only when Advance() is called. Thread-safe.
class FakeClock : public Clock {
 public:
  TimePoint Now() const override { return TimePoint(std::chrono::nanoseconds(ns_.load())); }
  void Advance(std::chrono::nanoseconds d) { ns_.fetch_add(d.count()); }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

}  // namespace kmsfs::cache

#endif  // KMSFS_CACHE_CLOCK_H_
