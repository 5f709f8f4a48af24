#include "cache/dek_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/hex.h"
#include "tests/cache/free_recorder.h"

namespace kmsfs::cache {
namespace {

using namespace std::chrono_literals;
using testing::FreeRecorder;
using FileId = std::array<uint8_t, 16>;

// Generous bound for background work, so a broken pool fails instead of hanging.
constexpr auto kPatience = 60s;
constexpr size_t kOddDekSize = 47;  // unusual, so the free hook can pick out pool DEKs

std::string WrappedFor(const FileId& id) { return "wrapped-" + HexEncode(id); }

// A wrap function that records every call, can fail on demand and can be
// held at a gate (except for one chosen thread) until the test opens it.
class FakeWrapper {
 public:
  struct Call {
    std::thread::id thread;
    FileId file_id{};
    Clock::TimePoint time{};
    SecretBytes dek;  // a copy, only with record_deks
  };

  explicit FakeWrapper(Clock* clock = nullptr, bool record_deks = false)
      : clock_(clock), record_deks_(record_deks) {}
  ~FakeWrapper() {
    Open();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(async_);
    }
    for (std::thread& t : threads) t.join();
  }

  // A direct wrap answers in the caller's thread, as the KMS client's
  // synchronous call does; a refill wrap answers from a thread of its own,
  // as the client's executor does, so the test sees several in flight.
  DekPool::WrapFn fn() {
    return [this](const SecretBytes& dek, const FileId& id, DekPool::WrapKind kind, DekPool::WrapDone done) {
      if (kind == DekPool::WrapKind::kDirect) {
        done(Wrap(dek, id));
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      ++refills_started_;
      // The pool keeps `dek` and `id` alive until `done` has run.
      async_.emplace_back([this, &dek, &id, done = std::move(done)] { done(Wrap(dek, id)); });
    };
  }

  // Each call moves `clock` on by `latency` first, as a KMS round trip would.
  void AdvanceClockOnEachCall(FakeClock* clock, std::chrono::nanoseconds latency) {
    std::lock_guard<std::mutex> lock(mu_);
    advance_clock_ = clock;
    latency_ = latency;
  }
  void FailNext(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_ = n;
  }
  // Holds every wrap except those from `bypass` until Open().
  void Close(std::thread::id bypass = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
    bypass_ = bypass;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void WaitForCalls(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return calls_.size() >= n; });
  }
  // Like WaitForCalls, but gives up after kPatience; returns whether they came.
  bool WaitForCallsOrGiveUp(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return calls_.size() >= n; });
  }
  size_t call_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }
  size_t max_in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_in_flight_;
  }
  // Wraps waiting at the gate or running now.
  size_t in_flight() {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
  }
  // Refill wraps the pool has started (counted as they start, before their
  // thread records the call).
  size_t refills_started() {
    std::lock_guard<std::mutex> lock(mu_);
    return refills_started_;
  }
  std::vector<FileId> file_ids() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<FileId> out;
    for (const Call& c : calls_) out.push_back(c.file_id);
    return out;
  }
  std::vector<Clock::TimePoint> times() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Clock::TimePoint> out;
    for (const Call& c : calls_) out.push_back(c.time);
    return out;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::thread::id> out;
    for (const Call& c : calls_) out.push_back(c.thread);
    return out;
  }
  // The DEK that was wrapped for `id` matches `dek` (needs record_deks).
  bool WrappedDekMatches(const FileId& id, const SecretBytes& dek) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Call& c : calls_) {
      if (c.file_id == id) return c.dek.Equals(dek);
    }
    return false;
  }

 private:
  StatusOr<std::string> Wrap(const SecretBytes& dek, const FileId& id) {
    std::unique_lock<std::mutex> lock(mu_);
    const std::thread::id self = std::this_thread::get_id();
    calls_.push_back(Call{self, id, clock_ != nullptr ? clock_->Now() : Clock::TimePoint{},
                          record_deks_ ? dek.Clone() : SecretBytes()});
    if (advance_clock_ != nullptr) advance_clock_->Advance(latency_);
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_ || self == bypass_; });
    --in_flight_;
    if (fail_next_ > 0) {
      --fail_next_;
      return Status::Unavailable("KMS unreachable");
    }
    return WrappedFor(id);
  }

  Clock* const clock_;
  const bool record_deks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
  int fail_next_ = 0;
  bool open_ = true;
  std::thread::id bypass_;
  size_t in_flight_ = 0;
  size_t max_in_flight_ = 0;
  size_t refills_started_ = 0;
  FakeClock* advance_clock_ = nullptr;
  std::chrono::nanoseconds latency_{0};
  std::vector<std::thread> async_;
};

TEST(DekPoolTest, FillsToTargetInTheBackground) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 8, .refill_concurrency = 2}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  EXPECT_EQ(pool.stats().ready, 8u);
  EXPECT_EQ(wrapper.call_count(), 8u);  // a full pool makes no further calls
  const auto threads = wrapper.threads();
  EXPECT_TRUE(std::none_of(threads.begin(), threads.end(),
                           [](std::thread::id t) { return t == std::this_thread::get_id(); }));
}

TEST(DekPoolTest, TakeFromFullPoolDoesNotWrapInCallerThread) {
  FakeClock clock;
  FakeWrapper wrapper(&clock, /*record_deks=*/true);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 6, .refill_concurrency = 2, .dek_size = 64}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(6, kPatience));

  std::set<FileId> seen;
  for (int i = 0; i < 6; ++i) {
    auto entry = pool.Take();
    ASSERT_TRUE(entry.ok()) << entry.status().ToString();
    EXPECT_EQ(entry->dek.size(), 64u);
    EXPECT_EQ(entry->wrapped_dek, WrappedFor(entry->file_id));
    EXPECT_TRUE(wrapper.WrappedDekMatches(entry->file_id, entry->dek));
    EXPECT_TRUE(seen.insert(entry->file_id).second) << "file id handed out twice";
  }
  const DekPoolStats s = pool.stats();
  EXPECT_EQ(s.taken, 6u);
  EXPECT_EQ(s.direct, 0u);
  const auto threads = wrapper.threads();
  EXPECT_TRUE(std::none_of(threads.begin(), threads.end(),
                           [](std::thread::id t) { return t == std::this_thread::get_id(); }));
}

TEST(DekPoolTest, PoolOfTargetZeroWrapsInCallerThread) {
  FakeWrapper wrapper;
  WorkQueue queue;
  DekPool pool({.target = 0, .dek_size = 32}, wrapper.fn(), &queue);
  auto entry = pool.Take();
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->dek.size(), 32u);
  EXPECT_EQ(entry->wrapped_dek, WrappedFor(entry->file_id));
  EXPECT_EQ(wrapper.threads(), std::vector<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(pool.stats().direct, 1u);
  EXPECT_EQ(pool.stats().taken, 0u);
}

TEST(DekPoolTest, TakeWrapsDirectlyWhileRefillIsSlow) {
  FakeWrapper wrapper;
  wrapper.Close(/*bypass=*/std::this_thread::get_id());
  WorkQueue queue;
  DekPool pool({.target = 2, .refill_concurrency = 2}, wrapper.fn(), &queue);
  wrapper.WaitForCalls(2);  // both workers stuck in the KMS

  auto entry = pool.Take();
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->wrapped_dek, WrappedFor(entry->file_id));
  EXPECT_EQ(pool.stats().direct, 1u);
  EXPECT_EQ(wrapper.threads().back(), std::this_thread::get_id());
  wrapper.Open();
}

TEST(DekPoolTest, DirectWrapErrorIsReturned) {
  FakeWrapper wrapper;
  wrapper.FailNext(1);
  WorkQueue queue;
  DekPool pool({.target = 0}, wrapper.fn(), &queue);
  auto entry = pool.Take();
  ASSERT_FALSE(entry.ok());
  EXPECT_EQ(entry.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(pool.stats().wrap_errors, 1u);
  EXPECT_TRUE(pool.Take().ok());
}

TEST(DekPoolTest, RefillKeepsAtMostConcurrencyWrapsInFlight) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  wrapper.Close();
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 8, .refill_concurrency = 3}, wrapper.fn(), &queue);
  wrapper.WaitForCalls(3);
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  EXPECT_EQ(wrapper.max_in_flight(), 3u);
  EXPECT_EQ(wrapper.call_count(), 8u);
}

// Takes from a full pool wake one sleeping worker, which wakes the next while
// there is room, so refills again run refill_concurrency wraps at once.
TEST(DekPoolTest, RefillAfterTakesFansOutToAllWorkers) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 8, .refill_concurrency = 3}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  wrapper.Close();
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.Take().ok());
  EXPECT_EQ(pool.stats().direct, 0u);
  EXPECT_TRUE(wrapper.WaitForCallsOrGiveUp(8 + 3));
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  EXPECT_EQ(wrapper.max_in_flight(), 3u);
}

// A batched refill leaves the pool alone until a batch of room has opened
// up, then wraps the whole batch at once.
TEST(DekPoolTest, ABatchedRefillWaitsForABatchOfRoomThenWrapsItAllAtOnce) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 8, .refill_concurrency = 8, .refill_batch = 4}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  ASSERT_EQ(wrapper.refills_started(), 8u);
  wrapper.Close();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Take().ok());
  ASSERT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_EQ(wrapper.refills_started(), 8u) << "three Takes are less than a batch";
  EXPECT_EQ(pool.stats().ready, 5u);
  ASSERT_TRUE(pool.Take().ok());
  EXPECT_TRUE(wrapper.WaitForCallsOrGiveUp(12));
  EXPECT_EQ(wrapper.in_flight(), 4u) << "the batch is wrapped at once";
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(8, kPatience));
  EXPECT_EQ(wrapper.call_count(), 12u);
  EXPECT_EQ(pool.stats().direct, 0u);
}

// Against a slow KMS, each batch of room starts its wraps while earlier
// batches are still in flight, up to refill_concurrency in all.
TEST(DekPoolTest, ASlowKmsGetsBatchAfterBatchInFlightUpToTheConcurrency) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  wrapper.AdvanceClockOnEachCall(&clock, 20ms);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 16, .refill_concurrency = 8, .refill_batch = 4}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(16, kPatience));
  wrapper.Close();
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(pool.Take().ok());
  EXPECT_EQ(pool.stats().direct, 0u);
  // Every refill the Takes posted has run; its wraps wait at the gate. How
  // many depends on when the refill job ran between the Takes (5 to 8), but
  // always more than one batch and never more than the concurrency.
  ASSERT_TRUE(queue.WaitIdle(kPatience));
  const size_t started = wrapper.refills_started() - 16;
  EXPECT_GT(started, 4u) << "a second batch went out while the first was in flight";
  EXPECT_LE(started, 8u) << "no more than refill_concurrency in flight";
  EXPECT_TRUE(wrapper.WaitForCallsOrGiveUp(16 + started));
  EXPECT_EQ(wrapper.in_flight(), started);
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(16, kPatience));
}

// A batch larger than the pool or the concurrency acts as the smaller of the
// two: here one wrap at a time, and the pool is refilled whole.
TEST(DekPoolTest, ARefillBatchLargerThanThePoolOrTheConcurrencyActsAsTheSmaller) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 4, .refill_concurrency = 1, .refill_batch = 100}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.Take().ok());
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  EXPECT_EQ(wrapper.call_count(), 8u);
  EXPECT_EQ(pool.stats().direct, 0u);
}

// A refill with more room than free slots starts what fits and goes on as
// wraps return, down to a remainder smaller than a batch: the pool reaches
// its target (10, not a multiple of the batch of 4).
TEST(DekPoolTest, ARefillTheConcurrencyCutShortGoesOnUntilThePoolIsFull) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  wrapper.Close();
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 10, .refill_concurrency = 8, .refill_batch = 4}, wrapper.fn(), &queue);
  EXPECT_TRUE(wrapper.WaitForCallsOrGiveUp(8));
  ASSERT_TRUE(queue.WaitIdle(kPatience));
  EXPECT_EQ(wrapper.refills_started(), 8u) << "the concurrency cut the first refill short";
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(10, kPatience));
  EXPECT_EQ(wrapper.call_count(), 10u);
  EXPECT_LE(wrapper.max_in_flight(), 8u);
}

// With one worker and a FakeClock, the fake time between two calls is
// exactly the backoff the worker waited.
TEST(DekPoolTest, FailedWrapsBackOffExponentiallyAndRecover) {
  constexpr auto kMin = 10ms;
  constexpr auto kMax = 80ms;
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  wrapper.FailNext(7);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 4, .refill_concurrency = 1, .min_backoff = kMin, .max_backoff = kMax},
               wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  ASSERT_EQ(wrapper.call_count(), 11u);  // 7 failures, then 4 successes
  EXPECT_EQ(pool.stats().wrap_errors, 7u);

  auto t = wrapper.times();
  std::vector<std::chrono::nanoseconds> waits;
  for (size_t i = 0; i + 1 < t.size(); ++i) waits.push_back(t[i + 1] - t[i]);
  EXPECT_EQ(waits[0], kMin);  // first failure: exactly min_backoff
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_GE(waits[i], kMin) << i;
    EXPECT_LE(waits[i], kMax) << i;
  }
  // Until the cap, each wait is at least the previous one (bases 10, 20, 40, 80 ms).
  for (size_t i = 1; i < 4; ++i) EXPECT_GE(waits[i], waits[i - 1]) << i;
  EXPECT_GE(waits[3], kMax / 2);
  for (size_t i = 7; i < 10; ++i) EXPECT_EQ(waits[i].count(), 0) << "successes do not wait";

  // Success reset the backoff: a new failure waits min_backoff again.
  wrapper.FailNext(1);
  ASSERT_TRUE(pool.Take().ok());
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  ASSERT_EQ(wrapper.call_count(), 13u);
  t = wrapper.times();
  EXPECT_EQ(t[12] - t[11], kMin);
  EXPECT_EQ(pool.stats().wrap_errors, 8u);
  EXPECT_EQ(pool.stats().direct, 0u);
}

TEST(DekPoolTest, StaleEntriesAreDiscardedAndWipedInsteadOfReturned) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  FreeRecorder frees(kOddDekSize);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 4, .refill_concurrency = 2, .dek_size = kOddDekSize, .max_age = 60s},
               wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  const std::vector<FileId> old_ids = wrapper.file_ids();
  // A worker may wake (even spuriously) and start refilling once the entries
  // are stale: hold its wraps so the Take below must wrap directly.
  wrapper.Close(/*bypass=*/std::this_thread::get_id());

  clock.Advance(61s);
  EXPECT_EQ(pool.stats().ready, 0u);
  auto entry = pool.Take();
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(std::count(old_ids.begin(), old_ids.end(), entry->file_id), 0);
  DekPoolStats s = pool.stats();
  EXPECT_EQ(s.expired, 4u);
  EXPECT_EQ(s.direct, 1u);
  EXPECT_EQ(s.taken, 0u);
  EXPECT_EQ(frees.count(), 4u);
  EXPECT_TRUE(frees.all_zero());

  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));  // refilled with fresh entries
  ASSERT_TRUE(pool.Take().ok());
  EXPECT_EQ(pool.stats().taken, 1u);
}

TEST(DekPoolTest, MaxAgeZeroKeepsEntriesForever) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 2, .refill_concurrency = 1, .max_age = 0s}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(2, kPatience));
  clock.Advance(std::chrono::hours(24 * 365));
  ASSERT_TRUE(pool.Take().ok());
  EXPECT_EQ(pool.stats().taken, 1u);
  EXPECT_EQ(pool.stats().expired, 0u);
}

TEST(DekPoolTest, DrainWipesReadyEntries) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  FreeRecorder frees(kOddDekSize);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 4, .refill_concurrency = 2, .dek_size = kOddDekSize}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
  wrapper.Close();  // the refill after Drain stays in flight
  pool.Drain();
  EXPECT_EQ(pool.stats().ready, 0u);
  EXPECT_EQ(frees.count(), 4u);
  EXPECT_TRUE(frees.all_zero());
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(4, kPatience));
}

TEST(DekPoolTest, DrainAlsoDiscardsWrapInFlight) {
  FakeClock clock;
  FakeWrapper wrapper(&clock);
  WorkQueue queue({}, &clock);
  DekPool pool({.target = 1, .refill_concurrency = 1}, wrapper.fn(), &queue);
  ASSERT_TRUE(pool.WaitForReady(1, kPatience));
  wrapper.Close();
  ASSERT_TRUE(pool.Take().ok());
  wrapper.WaitForCalls(2);  // the refill is now in flight
  pool.Drain();
  wrapper.Open();
  ASSERT_TRUE(pool.WaitForReady(1, kPatience));
  auto entry = pool.Take();
  ASSERT_TRUE(entry.ok());
  const auto ids = wrapper.file_ids();
  ASSERT_GE(ids.size(), 3u);
  EXPECT_NE(entry->file_id, ids[1]);  // wrapped before the Drain: discarded
  EXPECT_EQ(entry->file_id, ids[2]);
}

// Shutdown waits for wraps already in flight (they may use their owner's
// objects) but starts no new one; their keys are wiped.
TEST(DekPoolTest, DestructorWaitsOnlyForWrapsInFlightAndWipesTheirKeys) {
  FakeWrapper wrapper;
  FreeRecorder frees(kOddDekSize);
  wrapper.Close();
  WorkQueue queue;
  auto pool = std::make_unique<DekPool>(
      DekPoolOptions{.target = 2, .refill_concurrency = 2, .dek_size = kOddDekSize}, wrapper.fn(), &queue);
  wrapper.WaitForCalls(2);
  std::thread destroyer([&] { pool.reset(); });
  wrapper.Open();
  destroyer.join();
  EXPECT_EQ(wrapper.call_count(), 2u);
  EXPECT_EQ(frees.count(), 2u);
  EXPECT_TRUE(frees.all_zero());
}

// A worker waiting out a one-hour backoff on the real clock: the destructor
// must wake it (if it slept the hour out, the test would time out).
TEST(DekPoolTest, DestructorInterruptsBackoff) {
  FakeWrapper wrapper;
  wrapper.FailNext(1'000'000);
  WorkQueue queue;
  auto pool = std::make_unique<DekPool>(
      DekPoolOptions{.target = 1, .refill_concurrency = 1, .min_backoff = 1h, .max_backoff = 1h},
      wrapper.fn(), &queue);
  while (pool->stats().wrap_errors == 0) std::this_thread::yield();
  pool.reset();
  EXPECT_EQ(wrapper.call_count(), 1u);
}

TEST(DekPoolTest, DirectSuccessEndsBackoff) {
  FakeWrapper wrapper;
  wrapper.FailNext(1);
  WorkQueue queue;
  DekPool pool({.target = 1, .refill_concurrency = 1, .min_backoff = 1h, .max_backoff = 1h},
               wrapper.fn(), &queue);
  while (pool.stats().wrap_errors == 0) std::this_thread::yield();
  // The worker now waits an hour; a successful direct wrap shows the KMS is
  // back and wakes it, so the pool refills without waiting the hour out.
  ASSERT_TRUE(pool.Take().ok());
  EXPECT_TRUE(pool.WaitForReady(1, kPatience));
}

}  // namespace
}  // namespace kmsfs::cache
