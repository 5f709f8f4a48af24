#include "cache/dek_pool.h"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "fs/base/cpu_affinity.h"

namespace kmsfs::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

milliseconds MinBackoff(const DekPoolOptions& o) { return std::max(o.min_backoff, milliseconds(1)); }
milliseconds MaxBackoff(const DekPoolOptions& o) { return std::max(o.max_backoff, MinBackoff(o)); }

}  // namespace

DekPool::DekPool(DekPoolOptions options, WrapFn wrap, Clock* clock)
    : options_(options),
      wrap_(std::move(wrap)),
      clock_(clock),
      num_workers_(options.target == 0 ? 0 : std::max<size_t>(options.refill_concurrency, 1)),
      refill_limit_(num_workers_, options.refill_interval) {
  EnsureSodiumInitialized();
  {
    MutexLock lock(&mu_);
    jitter_.seed((uint64_t{randombytes_random()} << 32) | randombytes_random());
  }
  workers_.reserve(num_workers_);
  for (size_t i = 0; i < num_workers_; ++i) workers_.emplace_back([this] {
    BecomeBackgroundThread("kmsfs-dek-pool");
    WorkerLoop();
  });
}

DekPool::~DekPool() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    ++generation_;
  }
  room_cv_.notify_all();
  backoff_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  Drain();
}

bool DekPool::IsStale(Clock::TimePoint made, Clock::TimePoint now) const {
  return options_.max_age.count() > 0 && now - made >= options_.max_age;
}

size_t DekPool::FreshCountLocked(Clock::TimePoint now) const {
  return static_cast<size_t>(
      std::count_if(ready_.begin(), ready_.end(), [&](const Ready& r) { return !IsStale(r.made, now); }));
}

void DekPool::DiscardStaleLocked(Clock::TimePoint now) {
  if (options_.max_age.count() == 0) return;
  const size_t before = ready_.size();
  // Entries are only roughly ordered by start time (wraps finish out of
  // order), so look at all of them; there are at most `target`.
  std::erase_if(ready_, [&](const Ready& r) { return IsStale(r.made, now); });
  stats_.expired += before - ready_.size();
}

void DekPool::BackOffLocked() {
  ++failures_;
  const nanoseconds lo_limit = MinBackoff(options_);
  const nanoseconds hi_limit = MaxBackoff(options_);
  nanoseconds base = lo_limit;
  for (uint32_t i = 1; i < failures_ && base < hi_limit; ++i) base *= 2;
  base = std::min(base, hi_limit);
  const nanoseconds lo = std::max(lo_limit, base / 2);
  std::uniform_int_distribution<int64_t> pick(lo.count(), base.count());
  retry_at_ = clock_->Now() + nanoseconds(pick(jitter_));
}

void DekPool::ResetBackoffLocked() {
  if (failures_ == 0) return;
  failures_ = 0;
  retry_at_ = Clock::TimePoint{};
  backoff_cv_.notify_all();
}

bool DekPool::ClaimSleeperLocked(Clock::TimePoint now) {
  if (sleeping_ <= waking_ || now < retry_at_) return false;
  const size_t room = options_.target - std::min(options_.target, ready_.size() + in_flight_);
  const size_t allowed = refill_limit_.Allowed();
  // Batched refill, while one wrap at a time keeps up (a KMS that answers
  // fast): with nothing in flight and entries left, wait for a whole batch of
  // room. A slow KMS needs its wraps started at once; and once a wrap runs,
  // more workers join as below.
  if (in_flight_ == 0 && !ready_.empty() && room < options_.refill_batch && allowed == 1) return false;
  // Workers that are awake but not wrapping (just done, or just woken) will
  // look at the pool again by themselves; wake a sleeper only for the room
  // they will not fill, and only while more wraps may run.
  const size_t can_start = std::min(room, allowed - std::min(allowed, in_flight_));
  const size_t awake_idle = num_workers_ - sleeping_ - in_flight_;
  if (can_start <= awake_idle + waking_) return false;
  ++waking_;
  return true;
}

StatusOr<PooledDek> DekPool::MakeEntry() const {
  PooledDek out;
  out.dek = SecretBytes::Random(options_.dek_size);
  randombytes_buf(out.file_id.data(), out.file_id.size());
  StatusOr<std::string> wrapped = Status::Internal("DEK pool: no wrap function given");
  if (wrap_) {
    try {
      wrapped = wrap_(out.dek, out.file_id);
    } catch (...) {
      wrapped = Status::Internal("DEK pool: wrap function threw an exception");
    }
  }
  if (!wrapped.ok()) return wrapped.status();
  out.wrapped_dek = std::move(wrapped).value();
  return out;
}

void DekPool::WorkerLoop() {
  MutexLock lock(&mu_);
  while (!stop_) {
    const Clock::TimePoint now = clock_->Now();
    DiscardStaleLocked(now);
    const bool full = ready_.size() + in_flight_ >= options_.target;
    if (full || in_flight_ >= refill_limit_.Allowed()) {
      // Full: sleep until Take/Drain makes room or the oldest entry ages out.
      // Otherwise enough wraps run for the KMS's latency: sleep until a
      // sleeper is claimed for more (ClaimSleeperLocked) or the pool stops.
      ++sleeping_;
      if (full && options_.max_age.count() > 0 && !ready_.empty()) {
        Clock::TimePoint oldest = ready_.front().made;
        for (const Ready& r : ready_) oldest = std::min(oldest, r.made);
        const nanoseconds left = oldest + options_.max_age - now;
        lock.WaitUntil(room_cv_, std::chrono::steady_clock::now() + left);
      } else {
        lock.Wait(room_cv_);
      }
      --sleeping_;
      if (waking_ > 0) --waking_;
      continue;
    }
    if (now < retry_at_) {
      clock_->WaitFor(backoff_cv_, lock.native(), retry_at_ - now);
      continue;
    }

    ++in_flight_;
    const uint64_t generation = generation_;
    const bool wake_another = ClaimSleeperLocked(now);
    lock.Unlock();
    if (wake_another) room_cv_.notify_one();
    StatusOr<PooledDek> made = MakeEntry();
    const Clock::TimePoint done = clock_->Now();
    lock.Lock();
    --in_flight_;

    if (!made.ok()) {
      ++stats_.wrap_errors;
      BackOffLocked();
      continue;
    }
    ResetBackoffLocked();
    refill_limit_.NoteLatency(done - now);
    // Drained or stopping meanwhile, or already too old: `made` is wiped here.
    if (stop_ || generation != generation_ || IsStale(now, clock_->Now())) continue;
    ready_.push_back(Ready{std::move(made).value(), now});
    ready_cv_.notify_all();
  }
}

StatusOr<PooledDek> DekPool::Take() {
  std::deque<Ready> stale;  // wiped after the lock is released
  std::optional<PooledDek> taken;
  bool wake_one = false;
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
    wake_one = ClaimSleeperLocked(now);
  }
  if (!stale.empty()) {
    room_cv_.notify_all();
    stale.clear();
  } else if (wake_one) {
    room_cv_.notify_one();
  }
  if (taken.has_value()) return std::move(*taken);

  StatusOr<PooledDek> made = MakeEntry();
  MutexLock lock(&mu_);
  if (!made.ok()) {
    ++stats_.wrap_errors;
  } else {
    ResetBackoffLocked();  // the KMS answers again: workers need not wait out their backoff
  }
  return made;
}

void DekPool::Drain() {
  std::deque<Ready> dropped;  // wiped after the lock is released
  {
    MutexLock lock(&mu_);
    ++generation_;
    dropped.swap(ready_);
  }
  room_cv_.notify_all();
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
