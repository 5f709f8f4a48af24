// WallClock: epoch time in milliseconds for kmsd (token, import-token, key
// deletion and material expiry). Injected so the store and the service can be
// tested at chosen instants instead of by waiting.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_WALL_CLOCK_H_
#define KMSFS_KMS_SERVER_WALL_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace kmsfs::kms::server {

class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t NowMs() const = 0;
  int64_t NowSec() const { return NowMs() / 1000; }
  // The system clock (CLOCK_REALTIME).
  static const WallClock* Real();
};

// Test clock: time moves only when Set()/Advance() is called.
class FakeWallClock : public WallClock {
 public:
  explicit FakeWallClock(int64_t start_ms = 1'700'000'000'000) : ms_(start_ms) {}
  int64_t NowMs() const override { return ms_.load(); }
  void Set(int64_t ms) { ms_.store(ms); }
  void AdvanceMs(int64_t ms) { ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> ms_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_WALL_CLOCK_H_
