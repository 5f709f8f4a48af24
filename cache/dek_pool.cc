#include "cache/dek_pool.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <optional>
#include <utility>
#include <vector>

namespace kmsfs::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

milliseconds MinBackoff(const DekPoolOptions& o) { return std::max(o.min_backoff, milliseconds(1)); }
milliseconds MaxBackoff(const DekPoolOptions& o) { return std::max(o.max_backoff, MinBackoff(o)); }

}  // namespace

DekPool::DekPool(DekPoolOptions options, WrapFn wrap, WorkQueue* queue)
    : options_(options),
      wrap_(std::move(wrap)),
      clock_(queue != nullptr ? queue->clock() : Clock::Real()),
      max_in_flight_(std::max<size_t>(options.refill_concurrency, 1)),
      batch_(std::clamp<size_t>(options.refill_batch, 1, std::max<size_t>(std::min(options.target, max_in_flight_), 1))) {
  EnsureSodiumInitialized();
  // One refill job at a time: it only starts wraps, which answer elsewhere.
  if (options_.target > 0 && queue != nullptr) {
    jobs_ = std::make_unique<WorkQueue::Scope>(queue, WorkQueue::ScopeOptions{.max_running = 1});
  }
  MutexLock lock(&mu_);
  jitter_.seed((uint64_t{randombytes_random()} << 32) | randombytes_random());
  MaybeRefillLocked(clock_->Now());
}

DekPool::~DekPool() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    ++generation_;
  }
  ready_cv_.notify_all();
  // Drops a pending refill or backoff; waits for a refill that is starting wraps.
  if (jobs_) jobs_->Close();
  {
    MutexLock lock(&mu_);
    while (in_flight_ > 0) lock.Wait(idle_cv_);
  }
  Drain();
}

bool DekPool::IsStale(Clock::TimePoint made, Clock::TimePoint now) const {
  return options_.max_age.count() > 0 && now - made >= options_.max_age;
}

size_t DekPool::FreshCountLocked(Clock::TimePoint now) const {
  return static_cast<size_t>(
      std::count_if(ready_.begin(), ready_.end(), [&](const Ready& r) { return !IsStale(r.made, now); }));
}

std::deque<DekPool::Ready> DekPool::TakeStaleLocked(Clock::TimePoint now) {
  std::deque<Ready> stale;
  if (options_.max_age.count() == 0) return stale;
  // Entries are only roughly ordered by start time (wraps finish out of
  // order), so look at all of them; there are at most `target`.
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (IsStale(it->made, now)) {
      stale.push_back(std::move(*it));
      it = ready_.erase(it);
    } else {
      ++it;
    }
  }
  stats_.expired += stale.size();
  return stale;
}

void DekPool::BackOffLocked(Clock::TimePoint now) {
  ++failures_;
  const nanoseconds lo_limit = MinBackoff(options_);
  const nanoseconds hi_limit = MaxBackoff(options_);
  nanoseconds base = lo_limit;
  for (uint32_t i = 1; i < failures_ && base < hi_limit; ++i) base *= 2;
  base = std::min(base, hi_limit);
  const nanoseconds lo = std::max(lo_limit, base / 2);
  std::uniform_int_distribution<int64_t> pick(lo.count(), base.count());
  retry_at_ = now + nanoseconds(pick(jitter_));
  if (backoff_posted_ || stop_ || !jobs_) return;
  backoff_posted_ = jobs_->PostAfter(retry_at_ - now, [this] { Refill(/*after_backoff=*/true); });
}

void DekPool::ResetBackoffLocked() {
  failures_ = 0;
  retry_at_ = Clock::TimePoint{};
}

void DekPool::MaybeRefillLocked(Clock::TimePoint now) {
  if (stop_ || !jobs_ || refill_posted_ || now < retry_at_) return;
  const size_t room = options_.target - std::min(options_.target, ready_.size() + in_flight_);
  if (room == 0) return;
  // A batch at a time: one wake-up of the refill job, of the KMS executor
  // and of the KMS per batch instead of per file. A refill the concurrency
  // cut short goes on as slots free up, so the pool still reaches its target.
  if (room < batch_ && !cut_short_) return;
  const size_t free_slots = max_in_flight_ - std::min(max_in_flight_, in_flight_);
  if (free_slots < std::min(batch_, room)) return;
  refill_posted_ = jobs_->Post([this] { Refill(/*after_backoff=*/false); });
}

PooledDek DekPool::NewEntry() const {
  PooledDek out;
  out.dek = SecretBytes::Random(options_.dek_size);
  randombytes_buf(out.file_id.data(), out.file_id.size());
  return out;
}

void DekPool::Refill(bool after_backoff) {
  std::deque<Ready> stale;  // wiped after the lock is released
  size_t start = 0;
  uint64_t generation = 0;
  {
    MutexLock lock(&mu_);
    (after_backoff ? backoff_posted_ : refill_posted_) = false;
    const Clock::TimePoint now = clock_->Now();
    stale = TakeStaleLocked(now);
    if (stop_ || now < retry_at_) return;
    const size_t room = options_.target - std::min(options_.target, ready_.size() + in_flight_);
    start = std::min(room, max_in_flight_ - std::min(max_in_flight_, in_flight_));
    cut_short_ = start < room;
    in_flight_ += start;
    generation = generation_;
  }
  for (size_t i = 0; i < start; ++i) {
    auto entry = std::make_shared<PooledDek>(NewEntry());
    const Clock::TimePoint started = clock_->Now();
    // A wrap is accounted for exactly once, even by a wrap function that
    // throws after (or instead of) calling back.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    WrapDone done = [this, entry, generation, started, answered](StatusOr<std::string> wrapped) {
      if (!answered->exchange(true)) OnRefillWrapped(entry, generation, started, std::move(wrapped));
    };
    WrapDone fallback = done;
    try {
      if (!wrap_) throw std::invalid_argument("no wrap function");
      wrap_(entry->dek, entry->file_id, WrapKind::kRefill, std::move(done));
    } catch (...) {
      fallback(Status::Internal("DEK pool: wrap function failed to start a wrap"));
    }
  }
}

void DekPool::OnRefillWrapped(std::shared_ptr<PooledDek> entry, uint64_t generation, Clock::TimePoint started,
                              StatusOr<std::string> wrapped) {
  std::deque<Ready> stale;  // wiped after the lock is released
  MutexLock lock(&mu_);
  const Clock::TimePoint now = clock_->Now();
  --in_flight_;
  if (!wrapped.ok()) {
    ++stats_.wrap_errors;
    BackOffLocked(now);
  } else {
    ResetBackoffLocked();
    if (!stop_ && generation == generation_ && !IsStale(started, now)) {
      entry->wrapped_dek = std::move(wrapped).value();
      ready_.push_back(Ready{std::move(*entry), started});
      ready_cv_.notify_all();
    }
    stale = TakeStaleLocked(now);
    MaybeRefillLocked(now);
  }
  // Failed, drained, stopping or already too old: wiped now, not whenever
  // the wrap function lets go of its callback.
  entry->dek = SecretBytes();
  if (stop_ && in_flight_ == 0) idle_cv_.notify_all();
}

StatusOr<PooledDek> DekPool::WrapDirectly() {
  PooledDek entry = NewEntry();
  if (!wrap_) return Status::Internal("DEK pool: no wrap function given");
  std::mutex mu;
  std::condition_variable cv;
  std::optional<StatusOr<std::string>> result;
  try {
    wrap_(entry.dek, entry.file_id, WrapKind::kDirect, [&](StatusOr<std::string> wrapped) {
      std::lock_guard<std::mutex> lock(mu);
      result = std::move(wrapped);
      cv.notify_all();
    });
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu);
    if (!result.has_value()) result = Status::Internal("DEK pool: wrap function threw an exception");
  }
  std::unique_lock<std::mutex> lock(mu);
  // The wrap function's own timeouts bound this wait (the KMS client's).
  cv.wait(lock, [&] { return result.has_value(); });
  if (!result->ok()) return result->status();
  entry.wrapped_dek = std::move(*result).value();
  return entry;
}

StatusOr<PooledDek> DekPool::Take() {
  std::deque<Ready> stale;  // wiped after the lock is released
  std::optional<PooledDek> taken;
  {
    MutexLock lock(&mu_);
    const Clock::TimePoint now = clock_->Now();
    while (!ready_.empty() && !taken.has_value()) {
      Ready r = std::move(ready_.front());
      ready_.pop_front();
      if (IsStale(r.made, now)) {
        ++stats_.expired;
        stale.push_back(std::move(r));
      } else {
        ++stats_.taken;
        taken = std::move(r.dek);
      }
    }
    if (!taken.has_value()) ++stats_.direct;
    MaybeRefillLocked(now);
  }
  stale.clear();
  if (taken.has_value()) return std::move(*taken);

  StatusOr<PooledDek> made = WrapDirectly();
  MutexLock lock(&mu_);
  if (!made.ok()) {
    ++stats_.wrap_errors;
  } else {
    // The KMS answers again: refills need not wait out their backoff.
    ResetBackoffLocked();
    MaybeRefillLocked(clock_->Now());
  }
  return made;
}

void DekPool::Drain() {
  std::deque<Ready> dropped;  // wiped after the lock is released
  MutexLock lock(&mu_);
  ++generation_;
  dropped.swap(ready_);
  MaybeRefillLocked(clock_->Now());
  lock.Unlock();
}

void DekPool::Tick() {
  std::deque<Ready> stale;  // wiped after the lock is released
  MutexLock lock(&mu_);
  const Clock::TimePoint now = clock_->Now();
  stale = TakeStaleLocked(now);
  MaybeRefillLocked(now);
  lock.Unlock();
}

DekPoolStats DekPool::stats() const {
  MutexLock lock(&mu_);
  DekPoolStats out = stats_;
  out.ready = FreshCountLocked(clock_->Now());
  return out;
}

bool DekPool::WaitForReady(size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (FreshCountLocked(clock_->Now()) < count) {
    if (stop_ || std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(ready_cv_, deadline);
  }
  return true;
}

}  // namespace kmsfs::cache
