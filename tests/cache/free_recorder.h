// FreeRecorder: watches SecretBytes releases (SetSecretFreeHookForTesting) of
// one chosen size, so tests can prove that evicted keys were zeroed and count
// how many were released. One recorder at a time.
//
// Thread-safety: the hook may fire on any thread; the accessors are safe too.
#ifndef KMSFS_TESTS_CACHE_FREE_RECORDER_H_
#define KMSFS_TESTS_CACHE_FREE_RECORDER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "base/secret_bytes.h"

namespace kmsfs::cache::testing {

class FreeRecorder {
 public:
  // Records releases of buffers of exactly `size` bytes (pick an unusual size).
  explicit FreeRecorder(size_t size) {
    std::lock_guard<std::mutex> lock(State().mu);
    State().size = size;
    State().count = 0;
    State().nonzero = 0;
    SetSecretFreeHookForTesting(&Hook);
  }
  ~FreeRecorder() { SetSecretFreeHookForTesting(nullptr); }
  FreeRecorder(const FreeRecorder&) = delete;
  FreeRecorder& operator=(const FreeRecorder&) = delete;

  size_t count() const {
    std::lock_guard<std::mutex> lock(State().mu);
    return State().count;
  }
  // Whether every recorded buffer was all zero when it was released.
  bool all_zero() const {
    std::lock_guard<std::mutex> lock(State().mu);
    return State().nonzero == 0;
  }

 private:
  struct Shared {
    std::mutex mu;
    size_t size = 0;
    size_t count = 0;
    size_t nonzero = 0;
  };
  static Shared& State() {
    static Shared s;
    return s;
  }
  static void Hook(const uint8_t* data, size_t size) {
    std::lock_guard<std::mutex> lock(State().mu);
    if (size != State().size) return;
    ++State().count;
    if (!std::all_of(data, data + size, [](uint8_t b) { return b == 0; })) ++State().nonzero;
  }
};

}  // namespace kmsfs::cache::testing

#endif  // KMSFS_TESTS_CACHE_FREE_RECORDER_H_
