#include "base/clock.h"

namespace kmsfs {
namespace {

class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WallNowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

void Clock::WaitFor(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                    std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return;
  cv.wait_for(lock, d);
}

Clock* Clock::Real() {
  static RealClock clock;  // stateless
  return &clock;
}

void FakeClock::WaitFor(std::condition_variable& /*cv*/, std::unique_lock<std::mutex>& /*lock*/,
                        std::chrono::nanoseconds d) {
  if (d > std::chrono::nanoseconds::zero()) Advance(d);
}

}  // namespace kmsfs
