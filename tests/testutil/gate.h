// Gate: a point where test threads (fake KMS calls, queued jobs, warm
// functions) block until the test opens it; the test sees how many wait
// inside. Every wait has a deadline.
//
// Thread-safety: thread-safe.
#ifndef KMSFS_TESTS_TESTUTIL_GATE_H_
#define KMSFS_TESTS_TESTUTIL_GATE_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kmsfs::testing {

class Gate {
 public:
  // A bound for waits that end far sooner.
  static constexpr std::chrono::seconds kPatience{20};

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Waits while the gate is closed.
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --inside_;
  }
  // Blocks until `n` callers wait inside (or kPatience passed); returns whether they do.
  bool AwaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return inside_ >= n; });
  }
  int max_inside() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inside_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int inside_ = 0;
  int max_inside_ = 0;
};

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_GATE_H_
