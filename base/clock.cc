#include "base/clock.h"

namespace kmsfs {
namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace

void Clock::WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                    std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return;
  cv.wait_for(lock, d);
}

Clock* Clock::Real() {
  static SteadyClock clock;  // stateless
  return &clock;
}

void FakeClock::WaitFor(std::condition_variable& /*cv*/, std::unique_lock<std::mutex>& /*lock*/,
                        std::chrono::nanoseconds d) {
  if (d > std::chrono::nanoseconds::zero()) Advance(d);
}

}  // namespace kmsfs
