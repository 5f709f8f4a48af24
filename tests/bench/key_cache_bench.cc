// key_cache_bench: the cost of the DEK cache's hit path (one and two threads)
// and of taking a DEK from a full pool, compared with wrapping directly.
//
//   build-cache-rel/tests/bench/key_cache_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/dek_cache.h"
#include "cache/dek_pool.h"
#include "base/work_queue.h"

namespace kmsfs::cache {
namespace {

using namespace std::chrono_literals;

constexpr int kIds = 1024;

std::vector<std::string> MakeIds() {
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back("0123456789abcdef0123456789ab" + std::to_string(1000 + i));
  return ids;
}

const std::vector<std::string>& Ids() {
  static const std::vector<std::string> ids = MakeIds();
  return ids;
}

// One cache for all threads of a run, filled before the first run starts.
DekCache& SharedCache() {
  static DekCache* cache = [] {
    static DekCache c({.ttl = 300s, .max_entries = 4096});
    for (const std::string& id : Ids()) (void)c.Insert(id, SecretBytes::Random(64));
    return &c;
  }();
  return *cache;
}

const DekCache::Loader& NoLoad() {
  static const DekCache::Loader loader = []() -> StatusOr<SecretBytes> {
    return Status::Internal("benchmark expects hits only");
  };
  return loader;
}

// Get on a cached, unpinned entry and drop the handle: what an open() costs
// when the DEK is cached (pin, then unpin and re-enter the LRU list).
void BM_CacheHit(benchmark::State& state) {
  DekCache& cache = SharedCache();
  const auto& ids = Ids();
  size_t i = static_cast<size_t>(state.thread_index()) * 7;
  for (auto _ : state) {
    auto h = cache.Get(ids[i++ % kIds], NoLoad());
    benchmark::DoNotOptimize(h.value().key().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheHit)->Threads(1)->Threads(2)->UseRealTime();

// Get on an entry another handle already pins (a second open of an open file).
void BM_CacheHitPinned(benchmark::State& state) {
  DekCache& cache = SharedCache();
  const std::string& id = Ids()[static_cast<size_t>(state.thread_index()) + 100];
  auto keep = cache.Get(id, NoLoad());
  for (auto _ : state) {
    auto h = cache.Get(id, NoLoad());
    benchmark::DoNotOptimize(h.value().key().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheHitPinned)->Threads(1)->Threads(2)->UseRealTime();

// Handle::key() on the read path: one pointer dereference.
void BM_HandleKey(benchmark::State& state) {
  auto h = SharedCache().Get(Ids()[0], NoLoad());
  const DekCache::Handle handle = h.value();
  for (auto _ : state) benchmark::DoNotOptimize(handle.key().data());
}
BENCHMARK(BM_HandleKey);

StatusOr<std::string> InstantWrap() {
  return std::string(188, 'w');  // about the size of a KMS cipher_text
}

// Wraps at once, as if the KMS answered instantly.
void InstantWrapFn(const SecretBytes& /*dek*/, const DekPool::FileId& /*id*/, DekPool::WrapKind /*kind*/,
                   DekPool::WrapDone done) {
  done(InstantWrap());
}

// Refill wraps that stand in for KMS calls still in flight: while the gate is
// closed they are held, and opening it answers them all.
class Gate {
 public:
  void Set(bool open) {
    std::vector<DekPool::WrapDone> release;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = open;
      if (open) release.swap(held_);
    }
    for (auto& done : release) done(InstantWrap());
  }
  DekPool::WrapFn fn() {
    return [this](const SecretBytes& /*dek*/, const DekPool::FileId& /*id*/, DekPool::WrapKind kind, DekPool::WrapDone done) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!open_ && kind == DekPool::WrapKind::kRefill) {
          held_.push_back(std::move(done));
          return;
        }
      }
      done(InstantWrap());
    };
  }

 private:
  std::mutex mu_;
  bool open_ = true;
  std::vector<DekPool::WrapDone> held_;
};

// Take() from a full pool. Each batch starts from a full pool; while it runs
// the refill wraps stay in flight (as they would during a KMS round trip), so
// the figure is Take() itself, not refills competing for the two cores.
void BM_PoolTakeFromFull(benchmark::State& state) {
  constexpr size_t kBatch = 32;
  Gate gate;
  WorkQueue queue;
  auto pool = std::make_unique<DekPool>(DekPoolOptions{.target = kBatch, .refill_concurrency = 4}, gate.fn(), &queue);
  std::vector<PooledDek> taken;
  taken.reserve(kBatch);
  while (state.KeepRunningBatch(kBatch)) {
    state.PauseTiming();
    taken.clear();
    gate.Set(true);
    if (!pool->WaitForReady(kBatch, 60s)) state.SkipWithError("pool did not fill");
    gate.Set(false);
    state.ResumeTiming();
    for (size_t i = 0; i < kBatch; ++i) taken.push_back(std::move(pool->Take().value()));
  }
  state.counters["direct"] = static_cast<double>(pool->stats().direct);
  gate.Set(true);  // answer the wraps in flight, so the pool can stop
  pool.reset();
}
BENCHMARK(BM_PoolTakeFromFull)->UseRealTime();

// Take() from a pool of size 0 with an instant wrap: generating the file id
// and DEK in locked memory, i.e. the floor of a direct wrap without the KMS.
void BM_PoolTakeDirect(benchmark::State& state) {
  DekPool pool({.target = 0}, InstantWrapFn, nullptr);
  for (auto _ : state) {
    auto entry = pool.Take();
    benchmark::DoNotOptimize(entry.value().dek.data());
  }
}
BENCHMARK(BM_PoolTakeDirect);

}  // namespace
}  // namespace kmsfs::cache

BENCHMARK_MAIN();
