#include "fs/core/key_prefetcher.h"

#include <atomic>
#include <exception>
#include <utility>

#include "base/logging.h"
#include "fs/core/header_io.h"
#include "fs/core/listed_file.h"

namespace kmsfs::core {

KeyPrefetcher::KeyPrefetcher(KeyPrefetcherOptions options, WorkQueue* queue, WarmFn warm)
    : options_(options), warm_(std::move(warm)), limit_(options.concurrency, options.interval) {
  if (options_.concurrency > 0 && queue != nullptr) {
    // A job only reads a header and starts a KMS call: two at a time keep
    // up, and leave the queue's other threads to the mount's other work.
    jobs_ = std::make_unique<WorkQueue::Scope>(queue, WorkQueue::ScopeOptions{.max_running = 2});
  }
}

KeyPrefetcher::~KeyPrefetcher() {
  std::deque<Item> dropped;
  {
    MutexLock lock(&mu_);
    stop_ = true;
    dropped = DropQueuedLocked();
  }
  dropped.clear();  // closes the dropped batches' directories now, not after the wait
  if (!jobs_) return;
  // Drops the jobs not yet started and waits for the running ones.
  jobs_->Close();
  MutexLock lock(&mu_);
  const uint64_t never_started = posted_ - started_;
  in_flight_ -= never_started;
  stats_.dropped += never_started;
  posted_ = started_;
  // The warms in flight end by their own timeouts (the KMS client's).
  while (in_flight_ > 0) lock.Wait(idle_cv_);
}

std::deque<KeyPrefetcher::Item> KeyPrefetcher::DropQueuedLocked() {
  stats_.dropped += queue_.size();
  std::deque<Item> out;
  out.swap(queue_);
  if (in_flight_ == 0) idle_cv_.notify_all();
  return out;
}

void KeyPrefetcher::Prefetch(UniqueFd dir, std::vector<std::string> names, std::string dir_for_logs) {
  if (!enabled() || names.empty() || !dir.valid()) return;
  auto batch = std::make_shared<Batch>();
  batch->dir = std::move(dir);
  batch->dir_for_logs = std::move(dir_for_logs);
  MutexLock lock(&mu_);
  if (stop_) return;
  for (std::string& name : names) {
    if (queue_.size() >= options_.max_queued) {
      ++stats_.dropped;
      continue;
    }
    queue_.push_back(Item{batch, std::move(name)});
    ++stats_.queued;
  }
  PumpLocked();
}

void KeyPrefetcher::PumpLocked() {
  while (!stop_ && !queue_.empty() && in_flight_ < limit_.Allowed()) {
    Item item = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    ++posted_;
    if (!jobs_->Post([this, item = std::move(item)]() mutable { Process(std::move(item)); })) {
      // The work queue is full: this name is given up like a queue overflow.
      --in_flight_;
      --posted_;
      ++stats_.dropped;
    }
  }
}

void KeyPrefetcher::Process(Item item) {
  const auto started = options_.clock->Now();
  {
    MutexLock lock(&mu_);
    ++started_;
  }
  StatusOr<format::FileHeader> header = Status::Internal("unread");
  {
    StatusOr<UniqueFd> fd = OpenListedRegularFile(item.batch->dir.get(), item.name);
    if (!fd.ok()) {
      Finish(item, started, fd.status());
      return;
    }
    if (!fd->valid()) {
      Finish(item, started, Outcome::kSkipped);
      return;
    }
    header = ReadFileHeader(fd->get(), options_.header);
    // The file is closed here: the KMS call needs none open.
  }
  if (!header.ok()) {
    Finish(item, started, header.status().Annotate(item.name));
    return;
  }
  if (!warm_) {
    Finish(item, started, Status::Internal("key prefetch: no warm function given"));
    return;
  }
  // Finish runs once, even for a warm function that throws after calling back.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  auto done = [this, item, started, answered](StatusOr<Outcome> outcome) {
    if (answered->exchange(true)) return;
    Finish(item, started, outcome.ok() ? std::move(outcome) : outcome.status().Annotate(item.name));
  };
  try {
    warm_(*header, done);
  } catch (...) {
    done(Status::Internal("key prefetch: warm function threw an exception"));
  }
}

void KeyPrefetcher::Finish(const Item& item, Clock::TimePoint started,
                           StatusOr<Outcome> outcome) {
  const auto took = options_.clock->Now() - started;
  std::deque<Item> dropped;  // freed after the lock is released
  bool first_failure = false;
  {
    MutexLock lock(&mu_);
    --in_flight_;
    if (outcome.ok()) {
      switch (*outcome) {
        case Outcome::kLoaded:
          ++stats_.loaded;
          limit_.NoteLatency(took);
          break;
        case Outcome::kAlreadyCached: ++stats_.skipped_cached; break;
        case Outcome::kSkipped: ++stats_.skipped; break;
      }
    } else {
      ++stats_.failed;
      first_failure = !item.batch->logged;
      item.batch->logged = true;
      if (outcome.status().code() == StatusCode::kUnavailable) dropped = DropQueuedLocked();
    }
    PumpLocked();
    if (queue_.empty() && in_flight_ == 0) idle_cv_.notify_all();
  }
  if (!first_failure && dropped.empty()) return;
  const Status& s = outcome.status();
  const std::string where = item.batch->dir_for_logs.empty() ? "" : " in " + item.batch->dir_for_logs;
  if (!dropped.empty()) {
    KMSFS_LOG(kInfo) << "key prefetch" << where << ": KMS unreachable, " << dropped.size()
                     << " queued names dropped (opens ask the KMS themselves): " << s.ToString();
  } else {
    KMSFS_LOG(kDebug) << "key prefetch" << where << " (first failure of this listing): " << s.ToString();
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
