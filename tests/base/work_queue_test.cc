// WorkQueue: order, turns between scopes, bounds and drop counts, delayed
// jobs on a fake and on the real clock, closing a scope, idle waits.
#include "base/work_queue.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/gate.h"

namespace kmsfs {
namespace {

using namespace std::chrono_literals;

constexpr auto kPatience = 20s;  // a bound for waits that end far sooner

using kmsfs::testing::Gate;

// What ran, in order.
class Log {
 public:
  void Add(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(std::move(what));
    cv_.notify_all();
  }
  bool AwaitSize(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return entries_.size() >= n; });
  }
  std::vector<std::string> entries() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> entries_;
};

std::string ThisThreadName() {
  std::ifstream in("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

TEST(WorkQueueTest, RunsJobsOnItsOwnNamedThreads) {
  WorkQueue queue({.threads = 2, .thread_name = "kmsfs-test-wq"});
  WorkQueue::Scope scope(&queue);
  Log log;
  const std::thread::id caller = std::this_thread::get_id();
  ASSERT_TRUE(scope.Post([&] { log.Add(std::this_thread::get_id() == caller ? "caller" : ThisThreadName()); }));
  ASSERT_TRUE(log.AwaitSize(1));
  EXPECT_EQ(log.entries()[0], "kmsfs-test-wq");
  EXPECT_EQ(queue.threads(), 2u);
}

TEST(WorkQueueTest, AScopesJobsStartInTheOrderPosted) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Log log;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(scope.Post([&, i] { log.Add(std::to_string(i)); }));
  ASSERT_TRUE(log.AwaitSize(50));
  const std::vector<std::string> got = log.entries();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], std::to_string(i));
}

// One owner's flood waits its turn: another scope's job runs after at most
// one more of the flood's, not after all of them.
TEST(WorkQueueTest, ScopesTakeTurnsSoAFloodDoesNotHoldBackAnother) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope flood(&queue);
  WorkQueue::Scope tick(&queue);
  Gate gate;
  Log log;
  gate.Close();
  ASSERT_TRUE(flood.Post([&] {
    gate.Pass();
    log.Add("flood");
  }));
  ASSERT_TRUE(gate.AwaitInside(1));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(flood.Post([&] { log.Add("flood"); }));
  ASSERT_TRUE(tick.Post([&] { log.Add("tick"); }));
  gate.Open();
  ASSERT_TRUE(log.AwaitSize(102));
  const std::vector<std::string> got = log.entries();
  size_t at = 0;
  while (at < got.size() && got[at] != "tick") ++at;
  EXPECT_LE(at, 2u) << "the other scope's job waited behind the flood";
}

TEST(WorkQueueTest, MaxRunningCapsAScopesJobsAtOnce) {
  WorkQueue queue({.threads = 4});
  WorkQueue::Scope capped(&queue, {.max_running = 2});
  WorkQueue::Scope other(&queue);
  Gate gate;
  gate.Close();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(capped.Post([&] { gate.Pass(); }));
  ASSERT_TRUE(gate.AwaitInside(2));
  // The threads the cap leaves free still serve other scopes.
  Log log;
  ASSERT_TRUE(other.Post([&] { log.Add("other"); }));
  ASSERT_TRUE(log.AwaitSize(1));
  // Done with the other job (it counts as running until it has returned).
  ASSERT_TRUE(other.WaitIdle(kPatience));
  EXPECT_EQ(queue.stats().running, 2u);
  gate.Open();
  ASSERT_TRUE(capped.WaitIdle(kPatience));
  EXPECT_EQ(gate.max_inside(), 2);
  EXPECT_EQ(queue.stats().done, 11u);
}

TEST(WorkQueueTest, JobsBeyondTheScopesBoundAreDroppedAndCounted) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue, {.max_queued = 3});
  Gate gate;
  gate.Close();
  ASSERT_TRUE(scope.Post([&] { gate.Pass(); }));
  ASSERT_TRUE(gate.AwaitInside(1));  // running: no longer counts as waiting
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += scope.Post([] {}) ? 1 : 0;
  EXPECT_EQ(accepted, 3);
  EXPECT_FALSE(scope.PostAfter(1h, [] {})) << "delayed jobs count against the bound too";
  WorkQueueStats s = queue.stats();
  EXPECT_EQ(s.queued, 4u);
  EXPECT_EQ(s.dropped, 8u);
  EXPECT_EQ(s.waiting, 3u);
  gate.Open();
  ASSERT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_EQ(queue.stats().done, 4u);
}

TEST(WorkQueueTest, JobsBeyondTheQueuesBoundAreDroppedWhateverTheScope) {
  WorkQueue queue({.threads = 1, .max_queued = 2});
  WorkQueue::Scope a(&queue);
  WorkQueue::Scope b(&queue);
  Gate gate;
  gate.Close();
  ASSERT_TRUE(a.Post([&] { gate.Pass(); }));
  ASSERT_TRUE(gate.AwaitInside(1));
  EXPECT_TRUE(a.Post([] {}));
  EXPECT_TRUE(b.PostAfter(1h, [] {}));
  EXPECT_FALSE(b.Post([] {}));
  EXPECT_FALSE(a.Post([] {}));
  EXPECT_EQ(queue.stats().dropped, 2u);
  gate.Open();
}

TEST(WorkQueueTest, ARefusedJobIsDestroyedAtOnce) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue, {.max_queued = 0});
  auto held = std::make_shared<int>(1);
  EXPECT_FALSE(scope.Post([held] {}));
  EXPECT_EQ(held.use_count(), 1);
}

// On a fake clock an idle queue moves time forward to its next delayed job,
// exactly, and runs delayed jobs in the order they fall due.
TEST(WorkQueueTest, OnAFakeClockDelayedJobsRunInDueOrderAfterExactlyTheirDelay) {
  FakeClock clock;
  const Clock::TimePoint start = clock.Now();
  WorkQueue queue({.threads = 1}, &clock);
  WorkQueue::Scope scope(&queue);
  Log log;
  std::mutex mu;
  std::vector<std::chrono::nanoseconds> when;
  auto job = [&](const char* name) {
    return [&, name] {
      {
        std::lock_guard<std::mutex> lock(mu);
        when.push_back(clock.Now() - start);
      }
      log.Add(name);
    };
  };
  // Posted while the only thread is held, so the queue has all three before
  // it lets time move.
  Gate gate;
  gate.Close();
  ASSERT_TRUE(scope.Post([&] { gate.Pass(); }));
  ASSERT_TRUE(gate.AwaitInside(1));
  ASSERT_TRUE(scope.PostAfter(3s, job("three")));
  ASSERT_TRUE(scope.PostAfter(1s, job("one")));
  ASSERT_TRUE(scope.PostAfter(2s, job("two")));
  gate.Open();
  ASSERT_TRUE(log.AwaitSize(3));
  EXPECT_EQ(log.entries(), (std::vector<std::string>{"one", "two", "three"}));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(when, (std::vector<std::chrono::nanoseconds>{1s, 2s, 3s}));
}

TEST(WorkQueueTest, OnTheRealClockADelayedJobWaitsItsDelay) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Log log;
  const auto posted = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point ran{};
  ASSERT_TRUE(scope.PostAfter(50ms, [&] {
    ran = std::chrono::steady_clock::now();
    log.Add("ran");
  }));
  ASSERT_TRUE(log.AwaitSize(1));
  EXPECT_GE(ran - posted, 50ms);
}

// A job due soon, posted while a worker waits for one due in an hour, is not
// held behind it.
TEST(WorkQueueTest, AnEarlierDelayedJobIsNotHeldBehindALaterOne) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Log log;
  ASSERT_TRUE(scope.PostAfter(1h, [&] { log.Add("late"); }));
  ASSERT_TRUE(scope.PostAfter(10ms, [&] { log.Add("soon"); }));
  ASSERT_TRUE(log.AwaitSize(1));
  EXPECT_EQ(log.entries(), std::vector<std::string>{"soon"});
  EXPECT_EQ(queue.stats().delayed, 1u);
}

TEST(WorkQueueTest, CloseDropsWaitingAndDelayedJobsAndWaitsForTheRunningOne) {
  WorkQueue queue({.threads = 1});
  auto scope = std::make_unique<WorkQueue::Scope>(&queue);
  Gate gate;
  gate.Close();
  std::atomic<bool> finished{false};
  ASSERT_TRUE(scope->Post([&] {
    gate.Pass();
    finished = true;
  }));
  ASSERT_TRUE(gate.AwaitInside(1));
  auto held = std::make_shared<int>(1);
  std::atomic<int> ran{0};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(scope->Post([held, &ran] { ++ran; }));
  ASSERT_TRUE(scope->PostAfter(1h, [held, &ran] { ++ran; }));
  EXPECT_EQ(held.use_count(), 7);

  std::atomic<bool> closed{false};
  std::thread closer([&] {
    scope->Close();
    closed = true;
  });
  // Close drops what waits at once, but returns only after the running job.
  while (held.use_count() > 1) std::this_thread::yield();
  EXPECT_FALSE(closed.load());
  gate.Open();
  closer.join();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(ran.load(), 0);
  EXPECT_FALSE(scope->Post([] {})) << "a closed scope takes no new job";
  const WorkQueueStats s = queue.stats();
  EXPECT_EQ(s.dropped, 7u);
  EXPECT_EQ(s.delayed, 0u);
  EXPECT_EQ(s.waiting, 0u);
  scope.reset();  // closing twice is harmless
}

TEST(WorkQueueTest, AJobMayPostToItsOwnScope) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Log log;
  std::function<void(int)> step = [&](int left) {
    log.Add(std::to_string(left));
    if (left > 0) {
      ASSERT_TRUE(scope.Post([&, left] { step(left - 1); }));
    }
  };
  ASSERT_TRUE(scope.Post([&] { step(3); }));
  ASSERT_TRUE(log.AwaitSize(4));
  EXPECT_EQ(log.entries(), (std::vector<std::string>{"3", "2", "1", "0"}));
}

TEST(WorkQueueTest, AThrowingJobIsCountedAndTheQueueGoesOn) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Log log;
  ASSERT_TRUE(scope.Post([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(scope.Post([&] { log.Add("after"); }));
  ASSERT_TRUE(log.AwaitSize(1));
  ASSERT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_EQ(queue.stats().done, 2u);
}

TEST(WorkQueueTest, WaitIdleGivesUpAtItsDeadline) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  Gate gate;
  gate.Close();
  ASSERT_TRUE(scope.Post([&] { gate.Pass(); }));
  ASSERT_TRUE(gate.AwaitInside(1));
  EXPECT_FALSE(queue.WaitIdle(20ms));
  EXPECT_FALSE(scope.WaitIdle(20ms));
  gate.Open();
  EXPECT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_TRUE(scope.WaitIdle(kPatience));
}

TEST(WorkQueueTest, DelayedJobsNotYetDueDoNotKeepTheQueueBusy) {
  WorkQueue queue({.threads = 1});
  WorkQueue::Scope scope(&queue);
  ASSERT_TRUE(scope.PostAfter(1h, [] {}));
  EXPECT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_EQ(queue.stats().delayed, 1u);
}

}  // namespace
}  // namespace kmsfs
