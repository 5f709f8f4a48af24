#include "cache/dek_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "tests/cache/free_recorder.h"

namespace kmsfs::cache {
namespace {

using namespace std::chrono_literals;
using testing::FreeRecorder;

constexpr size_t kKeySize = 41;  // unusual, so the free hook can pick out cache keys

SecretBytes Filled(uint8_t fill, size_t size = kKeySize) {
  SecretBytes key(size);
  std::memset(key.data(), fill, size);
  return key;
}

// Compares without making a SecretBytes, which would show up in FreeRecorder counts.
bool IsFilled(const SecretBytes& key, uint8_t fill, size_t size = kKeySize) {
  const std::vector<uint8_t> expected(size, fill);
  return key.Equals(expected);
}

// A loader that returns a key filled with `fill` and counts its calls.
DekCache::Loader FillLoader(uint8_t fill, std::atomic<int>* calls) {
  return [fill, calls]() -> StatusOr<SecretBytes> {
    calls->fetch_add(1);
    return Filled(fill);
  };
}

TEST(DekCacheTest, SecondGetHitsWithoutLoading) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};

  auto first = cache.Get("a", FillLoader(1, &calls));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->valid());
  EXPECT_TRUE(IsFilled(first->key(), 1));
  auto second = cache.Get("a", FillLoader(2, &calls));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(IsFilled(second->key(), 1));
  EXPECT_EQ(&first->key(), &second->key());
  EXPECT_EQ(calls.load(), 1);

  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.load_errors, 0u);
  EXPECT_EQ(s.evictions, 0u);
}

TEST(DekCacheTest, UnusedEntryExpiresAfterTtl) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());

  clock.Advance(299s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 1u);
  clock.Advance(1s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().evictions, 1u);

  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  EXPECT_EQ(calls.load(), 2);
}

TEST(DekCacheTest, GetExpiresLazilyWithoutSweeper) {
  FakeClock clock;
  DekCache cache({.ttl = 10s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  ASSERT_TRUE(cache.Get("b", FillLoader(2, &calls)).ok());
  clock.Advance(10s);
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  EXPECT_EQ(calls.load(), 3);
  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);  // "b" went too
  EXPECT_EQ(s.evictions, 2u);
}

TEST(DekCacheTest, HitRestartsTtl) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  clock.Advance(200s);
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  clock.Advance(200s);  // 400 s after the load, 200 s after the last use
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(cache.stats().hits, 2u);

  clock.Advance(300s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(DekCacheTest, ContainsNeitherCountsAHitNorRestartsTtl) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  EXPECT_FALSE(cache.Contains("a"));
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  clock.Advance(200s);
  EXPECT_TRUE(cache.Contains("a"));
  EXPECT_EQ(cache.stats().hits, 0u);
  clock.Advance(100s);  // 300 s after the last use: asking did not extend it
  EXPECT_FALSE(cache.Contains("a"));
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(calls.load(), 1);
}

TEST(DekCacheTest, EvictsLeastRecentlyUsedWhenFull) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 3}, &clock);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  ASSERT_TRUE(cache.Get("b", FillLoader(2, &calls)).ok());
  ASSERT_TRUE(cache.Get("c", FillLoader(3, &calls)).ok());
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());  // "b" is now least recently used
  ASSERT_TRUE(cache.Get("d", FillLoader(4, &calls)).ok());
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(calls.load(), 4);

  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  ASSERT_TRUE(cache.Get("c", FillLoader(3, &calls)).ok());
  ASSERT_TRUE(cache.Get("d", FillLoader(4, &calls)).ok());
  EXPECT_EQ(calls.load(), 4);  // all hits
  ASSERT_TRUE(cache.Get("b", FillLoader(2, &calls)).ok());
  EXPECT_EQ(calls.load(), 5);  // "b" was the one evicted
  EXPECT_EQ(cache.stats().entries, 3u);
}

TEST(DekCacheTest, InsertCountsTowardsCapacity) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 2}, &clock);
  std::atomic<int> calls{0};
  { DekCache::Handle h = cache.Insert("a", Filled(1)); }
  { DekCache::Handle h = cache.Insert("b", Filled(2)); }
  { DekCache::Handle h = cache.Insert("c", Filled(3)); }
  EXPECT_EQ(cache.stats().entries, 2u);
  auto c = cache.Get("c", FillLoader(9, &calls));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(IsFilled(c->key(), 3));
  EXPECT_EQ(calls.load(), 0);
}

TEST(DekCacheTest, PinnedEntrySurvivesTtlAndCapacityPressure) {
  FakeClock clock;
  DekCache cache({.ttl = 10s, .max_entries = 2}, &clock);
  std::atomic<int> calls{0};
  auto pinned = cache.Get("a", FillLoader(1, &calls));
  ASSERT_TRUE(pinned.ok());

  clock.Advance(1000s);
  cache.EvictExpired();
  for (uint8_t i = 2; i < 10; ++i) {
    ASSERT_TRUE(cache.Get("k" + std::to_string(i), FillLoader(i, &calls)).ok());
  }
  EXPECT_EQ(cache.stats().entries, 2u);  // "a" plus the newest unpinned entry
  auto again = cache.Get("a", FillLoader(7, &calls));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(IsFilled(again->key(), 1));
  EXPECT_EQ(calls.load(), 9);
}

TEST(DekCacheTest, CacheFullOfPinnedEntriesExceedsMaxUntilHandlesGo) {
  FakeClock clock;
  DekCache cache({.ttl = 10s, .max_entries = 2}, &clock);
  std::atomic<int> calls{0};
  std::vector<DekCache::Handle> held;
  for (uint8_t i = 0; i < 4; ++i) {
    auto h = cache.Get("k" + std::to_string(i), FillLoader(i, &calls));
    ASSERT_TRUE(h.ok());
    held.push_back(*h);
  }
  EXPECT_EQ(cache.stats().entries, 4u);
  EXPECT_EQ(cache.stats().evictions, 0u);
  for (uint8_t i = 0; i < 4; ++i) EXPECT_TRUE(IsFilled(held[i].key(), i));
  held.clear();
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(cache.stats().evictions, 2u);
}

TEST(DekCacheTest, PinnedEntryExpiresTtlAfterLastHandleIsDropped) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  auto first = cache.Get("a", FillLoader(1, &calls));
  ASSERT_TRUE(first.ok());
  auto copy = std::make_unique<DekCache::Handle>(*first);
  clock.Advance(1000s);
  first = Status::NotFound("dropped");  // drops one copy
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 1u);

  copy.reset();  // the last handle: the TTL starts now
  clock.Advance(299s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 1u);
  clock.Advance(1s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(calls.load(), 1);
}

class DekCacheOffTest : public ::testing::TestWithParam<DekCacheOptions> {};

TEST_P(DekCacheOffTest, EveryGetLoadsAndHandlesKeepTheirKey) {
  FakeClock clock;
  DekCache cache(GetParam(), &clock);
  std::atomic<int> calls{0};
  auto first = cache.Get("a", FillLoader(1, &calls));
  auto second = cache.Get("a", FillLoader(2, &calls));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(IsFilled(first->key(), 1));
  EXPECT_TRUE(IsFilled(second->key(), 2));

  DekCache::Handle inserted = cache.Insert("b", Filled(3));
  EXPECT_TRUE(inserted.valid());
  EXPECT_TRUE(IsFilled(inserted.key(), 3));
  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.loads, 2u);
}

INSTANTIATE_TEST_SUITE_P(TtlOrMaxZero, DekCacheOffTest,
                         ::testing::Values(DekCacheOptions{.ttl = 0s, .max_entries = 16},
                                           DekCacheOptions{.ttl = 300s, .max_entries = 0}));

// Eight threads miss on one id at once: the loader holds until the other
// seven are blocked on its load (observed via stats().waiting), so every
// caller provably shares the one load.
class DekCacheSingleFlightTest : public ::testing::TestWithParam<DekCacheOptions> {};

TEST_P(DekCacheSingleFlightTest, ConcurrentMissesShareOneLoad) {
  constexpr int kThreads = 8;
  FakeClock clock;
  DekCache cache(GetParam(), &clock);
  std::latch arrived(kThreads);
  std::atomic<int> calls{0};
  DekCache::Loader loader = [&]() -> StatusOr<SecretBytes> {
    calls.fetch_add(1);
    arrived.wait();
    while (cache.stats().waiting < kThreads - 1) std::this_thread::yield();
    return SecretBytes::Random(kKeySize);
  };

  std::vector<DekCache::Handle> handles(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      arrived.count_down();
      auto h = cache.Get("file", loader);
      if (h.ok()) handles[i] = *h;
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(calls.load(), 1);
  for (const DekCache::Handle& h : handles) {
    ASSERT_TRUE(h.valid());
    EXPECT_EQ(h.key().size(), kKeySize);
    EXPECT_TRUE(h.key().Equals(handles[0].key()));
  }
  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.misses, static_cast<uint64_t>(kThreads));
  EXPECT_EQ(s.coalesced, static_cast<uint64_t>(kThreads - 1));
  EXPECT_EQ(s.waiting, 0u);
}

TEST_P(DekCacheSingleFlightTest, ConcurrentMissesAllGetTheLoadErrorAndNothingIsCached) {
  constexpr int kThreads = 8;
  FakeClock clock;
  DekCache cache(GetParam(), &clock);
  std::latch arrived(kThreads);
  std::atomic<int> calls{0};
  DekCache::Loader failing = [&]() -> StatusOr<SecretBytes> {
    calls.fetch_add(1);
    arrived.wait();
    while (cache.stats().waiting < kThreads - 1) std::this_thread::yield();
    return Status::PermissionDenied("no grant for decrypt-datakey");
  };

  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      arrived.count_down();
      results[i] = cache.Get("file", failing).status();
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(calls.load(), 1);
  for (const Status& st : results) {
    EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
    EXPECT_EQ(st.message(), "no grant for decrypt-datakey");
  }
  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.load_errors, 1u);

  std::atomic<int> later{0};
  auto next = cache.Get("file", FillLoader(5, &later));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(later.load(), 1);
  EXPECT_TRUE(IsFilled(next->key(), 5));
}

INSTANTIATE_TEST_SUITE_P(CachingOnAndOff, DekCacheSingleFlightTest,
                         ::testing::Values(DekCacheOptions{.ttl = 300s, .max_entries = 16},
                                           DekCacheOptions{.ttl = 0s, .max_entries = 16}));

TEST(DekCacheTest, EraseRemovesEntryButHandlesKeepTheKey) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  auto held = cache.Get("a", FillLoader(1, &calls));
  ASSERT_TRUE(held.ok());
  cache.Erase("a");
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_TRUE(IsFilled(held->key(), 1));

  auto reloaded = cache.Get("a", FillLoader(2, &calls));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE(IsFilled(reloaded->key(), 2));
  EXPECT_EQ(calls.load(), 2);
  cache.Erase("missing");  // no-op
  EXPECT_EQ(cache.stats().evictions, 0u);
}

TEST(DekCacheTest, ClearDropsUnpinnedEntriesOnly) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  auto pinned = cache.Get("a", FillLoader(1, &calls));
  ASSERT_TRUE(pinned.ok());
  ASSERT_TRUE(cache.Get("b", FillLoader(2, &calls)).ok());
  ASSERT_TRUE(cache.Get("c", FillLoader(3, &calls)).ok());
  cache.Clear();
  EXPECT_EQ(cache.stats().entries, 1u);
  ASSERT_TRUE(cache.Get("a", FillLoader(9, &calls)).ok());
  EXPECT_EQ(calls.load(), 3);
  ASSERT_TRUE(cache.Get("b", FillLoader(2, &calls)).ok());
  EXPECT_EQ(calls.load(), 4);
}

TEST(DekCacheTest, EraseDuringLoadHandsOutTheKeyButDoesNotCacheIt) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  // The loader runs with no lock held, so it may call back into the cache.
  auto loaded = cache.Get("a", [&]() -> StatusOr<SecretBytes> {
    calls.fetch_add(1);
    cache.Erase("a");
    return Filled(1);
  });
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(IsFilled(loaded->key(), 1));
  EXPECT_EQ(cache.stats().entries, 0u);
  ASSERT_TRUE(cache.Get("a", FillLoader(2, &calls)).ok());
  EXPECT_EQ(calls.load(), 2);
}

TEST(DekCacheTest, InsertReplacesEntryAndOldHandlesKeepOldKey) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  DekCache::Handle old_handle = cache.Insert("a", Filled(1));
  DekCache::Handle new_handle = cache.Insert("a", Filled(2));
  EXPECT_TRUE(IsFilled(old_handle.key(), 1));
  EXPECT_TRUE(IsFilled(new_handle.key(), 2));
  auto got = cache.Get("a", FillLoader(3, &calls));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(IsFilled(got->key(), 2));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(cache.stats().entries, 1u);
}

TEST(DekCacheTest, DefaultHandleIsInvalidWithEmptyKey) {
  DekCache::Handle h;
  EXPECT_FALSE(h.valid());
  EXPECT_TRUE(h.key().empty());
}

TEST(DekCacheTest, HandleOutlivesTheCache) {
  FakeClock clock;
  FreeRecorder frees(kKeySize);
  DekCache::Handle h;
  {
    DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
    h = cache.Insert("a", Filled(7));
    ASSERT_TRUE(cache.Get("b", [] { return StatusOr<SecretBytes>(Filled(8)); }).ok());
  }
  EXPECT_EQ(frees.count(), 1u);  // "b" went with the cache; "a" is held
  EXPECT_TRUE(IsFilled(h.key(), 7));
  h = DekCache::Handle();
  EXPECT_EQ(frees.count(), 2u);
  EXPECT_TRUE(frees.all_zero());
}

TEST(DekCacheTest, EvictedKeysAreZeroedWhenTheirLastHandleGoes) {
  FakeClock clock;
  FreeRecorder frees(kKeySize);
  {
    DekCache cache({.ttl = 10s, .max_entries = 2}, &clock);
    std::atomic<int> calls{0};
    for (uint8_t i = 1; i <= 5; ++i) {
      ASSERT_TRUE(cache.Get("k" + std::to_string(i), FillLoader(i, &calls)).ok());
    }
    EXPECT_EQ(cache.stats().evictions, 3u);  // capacity
    EXPECT_EQ(frees.count(), 3u);

    auto held = cache.Get("k5", FillLoader(5, &calls));
    ASSERT_TRUE(held.ok());
    clock.Advance(20s);
    cache.EvictExpired();  // "k4" expires, "k5" is pinned
    EXPECT_EQ(cache.stats().evictions, 4u);
    EXPECT_EQ(frees.count(), 4u);
    held = Status::NotFound("dropped");
    clock.Advance(10s);
    cache.EvictExpired();
    EXPECT_EQ(cache.stats().evictions, 5u);
    EXPECT_EQ(frees.count(), 5u);

    // Erased while held: freed when the handle goes, not before.
    auto erased = cache.Get("x", FillLoader(9, &calls));
    ASSERT_TRUE(erased.ok());
    cache.Erase("x");
    EXPECT_EQ(frees.count(), 5u);
    erased = Status::NotFound("dropped");
    EXPECT_EQ(frees.count(), 6u);

    ASSERT_TRUE(cache.Get("y", FillLoader(10, &calls)).ok());
    EXPECT_EQ(frees.count(), 6u);
  }
  EXPECT_EQ(frees.count(), 7u);  // the destructor wiped "y"
  EXPECT_TRUE(frees.all_zero());
}

// Eight threads do random Gets (holding some handles), Erases, Clears,
// sweeps and clock steps; every key must belong to its id and the counters
// must add up.
TEST(DekCacheTest, ConcurrentGetEraseAndSweepStayConsistent) {
  constexpr int kThreads = 8;
  constexpr int kIterations = 3000;
  constexpr int kIds = 24;
  constexpr uint8_t kFailingId = 13;
  FakeClock clock;
  DekCache cache({.ttl = 5s, .max_entries = 8}, &clock);
  std::atomic<uint64_t> gets{0}, failures{0}, wrong_keys{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      std::vector<std::pair<uint8_t, DekCache::Handle>> held;
      for (int i = 0; i < kIterations; ++i) {
        const int op = static_cast<int>(rng() % 100);
        const auto id = static_cast<uint8_t>(rng() % kIds);
        if (op < 65) {
          gets.fetch_add(1);
          auto h = cache.Get(std::to_string(id), [id]() -> StatusOr<SecretBytes> {
            if (id == kFailingId) return Status::Unavailable("KMS down");
            return Filled(id);
          });
          if (!h.ok()) {
            failures.fetch_add(1);
            if (id != kFailingId) wrong_keys.fetch_add(1);
            continue;
          }
          if (!IsFilled(h->key(), id)) wrong_keys.fetch_add(1);
          if (rng() % 4 == 0) held.emplace_back(id, *h);
        } else if (op < 75) {
          cache.Erase(std::to_string(id));
        } else if (op < 85) {
          cache.EvictExpired();
        } else if (op < 97) {
          clock.Advance(1s);
        } else {
          cache.Clear();
        }
        if (held.size() > 4) held.erase(held.begin() + static_cast<long>(rng() % held.size()));
        for (const auto& [held_id, h] : held) {
          if (!IsFilled(h.key(), held_id)) wrong_keys.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(wrong_keys.load(), 0u);
  DekCacheStats s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, gets.load());
  EXPECT_EQ(s.loads + s.coalesced, s.misses);
  EXPECT_GT(s.load_errors, 0u);
  EXPECT_LE(s.load_errors, failures.load());
  EXPECT_EQ(s.waiting, 0u);
  EXPECT_LE(s.entries, 8u);  // no handle is held any more
  clock.Advance(5s);
  cache.EvictExpired();
  EXPECT_EQ(cache.stats().entries, 0u);
}


// --- GetAsync: loads that call back instead of blocking.

// An async load the test finishes by hand; counts hurries.
class ManualLoad {
 public:
  DekCache::AsyncLoader Loader() {
    return [this](DekCache::LoadDone finish) -> std::function<void()> {
      ++starts;
      finish_ = std::move(finish);
      return [this] { ++hurries; };
    };
  }
  void Finish(StatusOr<SecretBytes> result) { finish_(std::move(result)); }

  std::atomic<int> starts{0};
  std::atomic<int> hurries{0};

 private:
  DekCache::LoadDone finish_;
};

// What an async Get answered.
struct AsyncResult {
  std::mutex mu;
  std::vector<StatusOr<DekCache::Handle>> got;
  DekCache::GetDone Done() {
    return [this](StatusOr<DekCache::Handle> h) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(std::move(h));
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

TEST(DekCacheTest, GetAsyncOnAHitAnswersAtOnceWithoutLoading) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::atomic<int> calls{0};
  ASSERT_TRUE(cache.Get("a", FillLoader(1, &calls)).ok());
  ManualLoad load;
  AsyncResult r;
  cache.GetAsync("a", load.Loader(), r.Done());
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r.got[0].ok());
  EXPECT_TRUE(IsFilled(r.got[0]->key(), 1));
  EXPECT_EQ(load.starts.load(), 0);
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(DekCacheTest, GetAsyncLoadsOnceForConcurrentAsyncCallersAndCaches) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  ManualLoad load;
  AsyncResult r;
  cache.GetAsync("a", load.Loader(), r.Done());
  cache.GetAsync("a", load.Loader(), r.Done());
  EXPECT_EQ(load.starts.load(), 1);
  EXPECT_EQ(r.size(), 0u) << "answered before the load finished";
  EXPECT_EQ(cache.stats().waiting, 1u) << "the second caller waits for the first one's load";
  load.Finish(Filled(7));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(cache.stats().waiting, 0u);
  for (auto& h : r.got) {
    ASSERT_TRUE(h.ok());
    EXPECT_TRUE(IsFilled(h->key(), 7));
  }
  EXPECT_EQ(&r.got[0]->key(), &r.got[1]->key());
  EXPECT_TRUE(cache.Contains("a"));
  const DekCacheStats s = cache.stats();
  EXPECT_EQ(s.loads, 1u);
  EXPECT_EQ(s.coalesced, 1u);
  EXPECT_EQ(load.hurries.load(), 0) << "nobody blocked, so nothing was hurried";
}

// An open (a blocking Get) that comes to wait for a prefetch's load shares
// it, and asks it to hurry exactly once however many wait.
TEST(DekCacheTest, ABlockingGetJoinsAnAsyncLoadAndHurriesItOnce) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  ManualLoad load;
  AsyncResult r;
  cache.GetAsync("a", load.Loader(), r.Done());
  std::atomic<int> sync_loads{0};
  std::vector<std::thread> openers;
  std::vector<StatusOr<DekCache::Handle>> opened(3, Status::Internal("not yet"));
  for (int i = 0; i < 3; ++i) {
    openers.emplace_back([&, i] { opened[static_cast<size_t>(i)] = cache.Get("a", FillLoader(9, &sync_loads)); });
  }
  while (cache.stats().waiting < 3) std::this_thread::yield();
  EXPECT_EQ(load.hurries.load(), 1);
  load.Finish(Filled(5));
  for (std::thread& t : openers) t.join();
  for (auto& h : opened) {
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_TRUE(IsFilled(h->key(), 5));
  }
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(IsFilled(r.got[0]->key(), 5));
  EXPECT_EQ(sync_loads.load(), 0);
  EXPECT_EQ(cache.stats().loads, 1u);
}

TEST(DekCacheTest, GetAsyncJoinsABlockingGetsLoad) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  std::latch loading(1);
  std::latch release(1);
  std::thread opener([&] {
    auto h = cache.Get("a", [&]() -> StatusOr<SecretBytes> {
      loading.count_down();
      release.wait();
      return Filled(3);
    });
    EXPECT_TRUE(h.ok());
  });
  loading.wait();
  ManualLoad load;
  AsyncResult r;
  cache.GetAsync("a", load.Loader(), r.Done());
  EXPECT_EQ(load.starts.load(), 0);
  release.count_down();
  opener.join();
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r.got[0].ok());
  EXPECT_TRUE(IsFilled(r.got[0]->key(), 3));
}

TEST(DekCacheTest, AFailedAsyncLoadAnswersEveryWaiterAndIsNotCached) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  ManualLoad load;
  AsyncResult r;
  cache.GetAsync("a", load.Loader(), r.Done());
  cache.GetAsync("a", load.Loader(), r.Done());
  load.Finish(Status::PermissionDenied("no"));
  ASSERT_EQ(r.size(), 2u);
  for (auto& h : r.got) EXPECT_EQ(h.status().code(), StatusCode::kPermissionDenied);
  EXPECT_FALSE(cache.Contains("a"));
  EXPECT_EQ(cache.stats().load_errors, 1u);
  cache.GetAsync("a", load.Loader(), r.Done());
  EXPECT_EQ(load.starts.load(), 2) << "errors are not cached";
  load.Finish(Filled(1));
}

// A loader without a queue of its own answers before it returns.
TEST(DekCacheTest, AnAsyncLoaderThatAnswersAtOnceWorks) {
  FakeClock clock;
  DekCache cache({.ttl = 300s, .max_entries = 16}, &clock);
  AsyncResult r;
  cache.GetAsync(
      "a", [](DekCache::LoadDone finish) -> std::function<void()> {
        finish(Filled(4));
        return [] {};
      },
      r.Done());
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r.got[0].ok());
  EXPECT_TRUE(IsFilled(r.got[0]->key(), 4));
  EXPECT_TRUE(cache.Contains("a"));
}

TEST(DekCacheTest, AnAsyncLoadOutlivingTheCacheStillAnswersAndWipesItsKey) {
  FreeRecorder frees(kKeySize);
  ManualLoad load;
  AsyncResult r;
  {
    DekCache cache({.ttl = 300s, .max_entries = 16});
    cache.GetAsync("a", load.Loader(), r.Done());
  }
  load.Finish(Filled(6));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_TRUE(r.got[0].ok());
  EXPECT_TRUE(IsFilled(r.got[0]->key(), 6));
  r.got.clear();  // the last handle: the key goes
  EXPECT_EQ(frees.count(), 1u);
  EXPECT_TRUE(frees.all_zero());
}

}  // namespace
}  // namespace kmsfs::cache
