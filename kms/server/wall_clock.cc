#include "kms/server/wall_clock.h"

#include <chrono>

namespace kmsfs::kms::server {
namespace {
class RealWallClock : public WallClock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace

const WallClock* WallClock::Real() {
  static const RealWallClock kClock;
  return &kClock;
}

}  // namespace kmsfs::kms::server
