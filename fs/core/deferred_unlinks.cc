#include "fs/core/deferred_unlinks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "fs/base/cpu_affinity.h"
#include "fs/base/logging.h"

namespace kmsfs::core {

DeferredUnlinks::DeferredUnlinks(int root_fd, DeferredUnlinksOptions options)
    : DeferredUnlinks(options, [root_fd](const std::string& rel) {
        return unlinkat(root_fd, rel.c_str(), 0) == 0 ? 0 : errno;
      }) {}

DeferredUnlinks::DeferredUnlinks(DeferredUnlinksOptions options, Remove remove)
    : options_(options), remove_(std::move(remove)) {
  if (options_.max_pending > 0) worker_ = std::thread([this] {
      BecomeBackgroundThread("kmsfs-unlinks");
      Work();
    });
}

DeferredUnlinks::~DeferredUnlinks() {
  if (!worker_.joinable()) return;
  Settle();
  {
    cache::MutexLock lock(&mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  worker_.join();
}

bool DeferredUnlinks::Defer(std::string rel) {
  if (!worker_.joinable()) return false;
  {
    cache::MutexLock lock(&mu_);
    if (stopping_ || queue_.size() >= options_.max_pending) return false;
    queue_.push_back(std::move(rel));
    queued_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_one();
  return true;
}

void DeferredUnlinks::Settle() {
  const uint64_t target = queued_.load(std::memory_order_acquire);
  if (done_.load(std::memory_order_acquire) >= target) return;
  cache::MutexLock lock(&mu_);
  // What still waits in the queue is removed here rather than waited for: the
  // caller would otherwise sleep until the worker is scheduled, per name.
  while (!queue_.empty() && started_ < target) RemoveFrontLocked(lock);
  while (done_.load(std::memory_order_acquire) < target) lock.Wait(settled_);
}

void DeferredUnlinks::Work() {
  cache::MutexLock lock(&mu_);
  while (true) {
    while (!stopping_ && queue_.empty()) lock.Wait(wake_);
    if (queue_.empty()) return;  // stopping, and the destructor settled first
    RemoveFrontLocked(lock);
  }
}

void DeferredUnlinks::RemoveFrontLocked(cache::MutexLock& lock) {
  std::string rel = std::move(queue_.front());
  queue_.pop_front();
  ++started_;
  lock.Unlock();
  const int err = remove_(rel);
  // Gone already (removed beside the mount): what the unlink promised holds.
  const bool failed = err != 0 && err != ENOENT;
  if (failed) {
    KMSFS_LOG(kWarning) << "unlink " << rel << " (answered before it was done) failed: " << std::strerror(err)
                        << "; the file stays";
  }
  lock.Lock();
  if (failed) ++failed_;
  done_.fetch_add(1, std::memory_order_release);
  settled_.notify_all();
}

DeferredUnlinksStats DeferredUnlinks::stats() const {
  DeferredUnlinksStats out;
  out.deferred = queued_.load(std::memory_order_relaxed);
  cache::MutexLock lock(&mu_);
  out.failed = failed_;
  return out;
}

}  // namespace kmsfs::core
