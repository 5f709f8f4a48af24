#include "fs/core/key_prefetcher.h"

#include <utility>

#include "fs/base/cpu_affinity.h"
#include "fs/base/logging.h"
#include "fs/core/listed_file.h"
#include "fs/core/header_io.h"

namespace kmsfs::core {

KeyPrefetcher::KeyPrefetcher(KeyPrefetcherOptions options, WarmFn warm)
    : options_(options), warm_(std::move(warm)), limit_(options.concurrency, options.interval) {
  workers_.reserve(options_.concurrency);
  for (size_t i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] {
      BecomeBackgroundThread("kmsfs-prefetch");
      WorkerLoop();
    });
}

KeyPrefetcher::~KeyPrefetcher() {
  std::deque<Item> dropped;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    dropped = DropQueuedLocked();
  }
  work_cv_.notify_all();
  idle_cv_.notify_all();
  dropped.clear();  // closes the dropped batches' directories now, not after the join
  for (std::thread& t : workers_) t.join();
}

std::deque<KeyPrefetcher::Item> KeyPrefetcher::DropQueuedLocked() {
  stats_.dropped += queue_.size();
  std::deque<Item> out;
  out.swap(queue_);
  if (in_flight_ == 0) idle_cv_.notify_all();
  return out;
}

void KeyPrefetcher::Prefetch(UniqueFd dir, std::vector<std::string> names, std::string dir_for_logs) {
  if (workers_.empty() || names.empty() || !dir.valid()) return;
  auto batch = std::make_shared<Batch>();
  batch->dir = std::move(dir);
  batch->dir_for_logs = std::move(dir_for_logs);
  size_t added = 0;
  {
    MutexLock lock(&mu_);
    if (stop_) return;
    for (std::string& name : names) {
      if (queue_.size() >= options_.max_queued) {
        ++stats_.dropped;
        continue;
      }
      queue_.push_back(Item{batch, std::move(name)});
      ++stats_.queued;
      ++added;
    }
  }
  if (added == 1) {
    work_cv_.notify_one();
  } else if (added > 1) {
    work_cv_.notify_all();
  }
}

StatusOr<KeyPrefetcher::Outcome> KeyPrefetcher::Process(const Item& item) const {
  KMSFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenListedRegularFile(item.batch->dir.get(), item.name));
  if (!fd.valid()) return Outcome::kSkipped;
  auto header = ReadFileHeader(fd.get(), options_.header);
  if (!header.ok()) return header.status().Annotate(item.name);
  fd.Reset();  // the KMS call below needs no file open
  if (!warm_) return Status::Internal("key prefetch: no warm function given");
  try {
    auto outcome = warm_(*header);
    if (!outcome.ok()) return outcome.status().Annotate(item.name);
    return outcome;
  } catch (...) {
    return Status::Internal("key prefetch: warm function threw an exception");
  }
}

void KeyPrefetcher::WorkerLoop() {
  MutexLock lock(&mu_);
  while (true) {
    while (!stop_ && (queue_.empty() || in_flight_ >= limit_.Allowed())) lock.Wait(work_cv_);
    if (stop_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lock.Unlock();

    const auto start = std::chrono::steady_clock::now();
    StatusOr<Outcome> outcome = Process(item);
    const auto took = std::chrono::steady_clock::now() - start;

    lock.Lock();
    --in_flight_;
    if (outcome.ok() && *outcome == Outcome::kLoaded) {
      limit_.NoteLatency(took);
      // This worker takes the next name itself; wake another if the limit grew.
      if (queue_.size() > 1 && in_flight_ + 1 < limit_.Allowed()) work_cv_.notify_one();
    }
    std::deque<Item> dropped;  // freed after the lock is released
    bool first_failure = false;
    if (outcome.ok()) {
      switch (*outcome) {
        case Outcome::kLoaded: ++stats_.loaded; break;
        case Outcome::kAlreadyCached: ++stats_.skipped_cached; break;
        case Outcome::kSkipped: ++stats_.skipped; break;
      }
    } else {
      ++stats_.failed;
      first_failure = !item.batch->logged;
      item.batch->logged = true;
      if (outcome.status().code() == StatusCode::kUnavailable) dropped = DropQueuedLocked();
    }
    if (queue_.empty() && in_flight_ == 0) idle_cv_.notify_all();
    if (!first_failure && dropped.empty()) continue;

    lock.Unlock();
    const Status& s = outcome.status();
    const std::string where = item.batch->dir_for_logs.empty() ? "" : " in " + item.batch->dir_for_logs;
    if (!dropped.empty()) {
      KMSFS_LOG(kInfo) << "key prefetch" << where << ": KMS unreachable, " << dropped.size()
                       << " queued names dropped (opens ask the KMS themselves): " << s.ToString();
    } else {
      KMSFS_LOG(kDebug) << "key prefetch" << where << " (first failure of this listing): " << s.ToString();
    }
    dropped.clear();
    lock.Lock();
  }
}

KeyPrefetchStats KeyPrefetcher::stats() const {
  MutexLock lock(&mu_);
  KeyPrefetchStats out = stats_;
  out.pending = queue_.size();
  out.in_flight = in_flight_;
  return out;
}

bool KeyPrefetcher::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (!queue_.empty() || in_flight_ > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(idle_cv_, deadline);
  }
  return true;
}

}  // namespace kmsfs::core
