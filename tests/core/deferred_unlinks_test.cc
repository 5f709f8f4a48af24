// DeferredUnlinks: what Settle waits for, the queue bound, failures, shutdown,
// and the real unlinkat against a directory.
#include "fs/core/deferred_unlinks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;

// A removal that records names and blocks while the gate is closed.
class GatedRemove {
 public:
  DeferredUnlinks::Remove Fn(int result = 0) {
    return [this, result](const std::string& rel) {
      std::unique_lock<std::mutex> lock(mu_);
      started_.push_back(rel);
      cv_.notify_all();
      cv_.wait(lock, [&] { return open_; });
      removed_.push_back(rel);
      return result;
    };
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Waits until `n` removals have started.
  void AwaitStarted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return started_.size() >= n; });
  }
  // In name order: the worker and a settling caller remove side by side.
  std::vector<std::string> removed() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out = removed_;
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::vector<std::string> started_;
  std::vector<std::string> removed_;
};

TEST(DeferredUnlinksTest, SettleWaitsForEveryRemovalQueuedBeforeIt) {
  GatedRemove gate;
  DeferredUnlinks unlinks(DeferredUnlinksOptions{}, gate.Fn());
  ASSERT_TRUE(unlinks.Defer("a"));
  ASSERT_TRUE(unlinks.Defer("b"));
  gate.AwaitStarted(1);

  std::atomic<bool> settled{false};
  std::thread waiter([&] {
    unlinks.Settle();
    settled = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(settled) << "Settle returned while removals were still queued";
  gate.Open();
  waiter.join();
  EXPECT_EQ(gate.removed(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(unlinks.stats().deferred, 2u);
  EXPECT_EQ(unlinks.stats().failed, 0u);
}

TEST(DeferredUnlinksTest, SettleWithNothingQueuedReturnsAtOnce) {
  GatedRemove gate;  // never opened: a Settle that waited would hang
  DeferredUnlinks unlinks(DeferredUnlinksOptions{}, gate.Fn());
  unlinks.Settle();
  EXPECT_TRUE(gate.removed().empty());
  gate.Open();
}

TEST(DeferredUnlinksTest, SettleDoesNotWaitForRemovalsQueuedAfterIt) {
  // The first removal blocks until the test has queued a second one while
  // a Settle waits; that Settle must return once the first is done.
  std::mutex mu;
  std::condition_variable cv;
  bool release_first = false;
  bool release_second = false;
  std::atomic<int> calls{0};
  DeferredUnlinks unlinks(DeferredUnlinksOptions{}, [&](const std::string&) {
    const int n = ++calls;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return n == 1 ? release_first : release_second; });
    return 0;
  });
  ASSERT_TRUE(unlinks.Defer("first"));
  std::atomic<bool> settled{false};
  std::thread waiter([&] {
    unlinks.Settle();
    settled = true;
  });
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(unlinks.Defer("second"));
  {
    std::lock_guard<std::mutex> lock(mu);
    release_first = true;
  }
  cv.notify_all();
  waiter.join();  // would hang if Settle waited for "second"
  EXPECT_TRUE(settled);
  {
    std::lock_guard<std::mutex> lock(mu);
    release_second = true;
  }
  cv.notify_all();
}

TEST(DeferredUnlinksTest, SettleRemovesItselfWhatTheWorkerHasNotStarted) {
  // "slow" holds the worker; the names queued behind it must not wait for it.
  std::mutex mu;
  std::condition_variable cv;
  bool slow_started = false;
  bool release_slow = false;
  std::vector<std::pair<std::string, std::thread::id>> by;
  DeferredUnlinks unlinks(DeferredUnlinksOptions{}, [&](const std::string& rel) {
    std::unique_lock<std::mutex> lock(mu);
    by.emplace_back(rel, std::this_thread::get_id());
    if (rel == "slow") {
      slow_started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release_slow; });
    }
    cv.notify_all();
    return 0;
  });
  ASSERT_TRUE(unlinks.Defer("slow"));
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return slow_started; });
  }
  ASSERT_TRUE(unlinks.Defer("b"));
  ASSERT_TRUE(unlinks.Defer("c"));
  std::thread::id settler;
  std::thread waiter([&] {
    settler = std::this_thread::get_id();
    unlinks.Settle();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return by.size() == 3; });  // b and c, while "slow" still holds the worker
    release_slow = true;
  }
  cv.notify_all();
  waiter.join();
  ASSERT_EQ(by.size(), 3u);
  EXPECT_EQ(by[1].first, "b");
  EXPECT_EQ(by[2].first, "c");
  EXPECT_EQ(by[1].second, settler);
  EXPECT_EQ(by[2].second, settler);
}

TEST(DeferredUnlinksTest, RefusesBeyondTheBoundAndWhenOff) {
  GatedRemove gate;
  DeferredUnlinksOptions options;
  options.max_pending = 2;
  DeferredUnlinks unlinks(options, gate.Fn());
  ASSERT_TRUE(unlinks.Defer("a"));
  gate.AwaitStarted(1);  // "a" is being removed: no longer waiting
  EXPECT_TRUE(unlinks.Defer("b"));
  EXPECT_TRUE(unlinks.Defer("c"));
  EXPECT_FALSE(unlinks.Defer("d")) << "two names wait already";
  gate.Open();
  unlinks.Settle();
  EXPECT_EQ(gate.removed(), (std::vector<std::string>{"a", "b", "c"}));

  DeferredUnlinks off(DeferredUnlinksOptions{0}, gate.Fn());
  EXPECT_FALSE(off.Defer("e"));
  off.Settle();
  EXPECT_EQ(off.stats().deferred, 0u);
}

TEST(DeferredUnlinksTest, FailuresAreCountedButAVanishedNameIsNot) {
  std::vector<int> results = {EPERM, ENOENT, 0};
  std::atomic<size_t> next{0};
  DeferredUnlinks unlinks(DeferredUnlinksOptions{}, [&](const std::string&) { return results[next++]; });
  for (const char* name : {"append-only", "removed-beside", "plain"}) ASSERT_TRUE(unlinks.Defer(name));
  unlinks.Settle();
  EXPECT_EQ(unlinks.stats().deferred, 3u);
  EXPECT_EQ(unlinks.stats().failed, 1u);
}

TEST(DeferredUnlinksTest, DestructorFinishesWhatIsQueued) {
  GatedRemove gate;
  std::vector<std::string> expected;
  {
    DeferredUnlinks unlinks(DeferredUnlinksOptions{}, gate.Fn());
    for (int i = 0; i < 50; ++i) {
      expected.push_back("f" + std::to_string(i));
      ASSERT_TRUE(unlinks.Defer(expected.back()));
    }
    gate.Open();
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(gate.removed(), expected);
}

TEST(DeferredUnlinksTest, RemovesRealFilesRelativeToTheRoot) {
  kmsfs::testing::TempDir dir;
  std::filesystem::create_directory(dir.Join("sub"));
  for (const char* name : {"top", "sub/inner"}) std::ofstream(dir.Join(name)) << "x";
  const int root = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  {
    DeferredUnlinks unlinks(root, DeferredUnlinksOptions{});
    ASSERT_TRUE(unlinks.Defer("top"));
    ASSERT_TRUE(unlinks.Defer("sub/inner"));
    ASSERT_TRUE(unlinks.Defer("sub"));  // a directory: unlinkat fails, counted
    unlinks.Settle();
    EXPECT_FALSE(std::filesystem::exists(dir.Join("top")));
    EXPECT_FALSE(std::filesystem::exists(dir.Join("sub/inner")));
    EXPECT_TRUE(std::filesystem::is_directory(dir.Join("sub")));
    EXPECT_EQ(unlinks.stats().failed, 1u);
  }
  close(root);
}

}  // namespace
}  // namespace kmsfs::core
