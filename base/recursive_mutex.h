// RecursiveMutex: std::recursive_mutex with the capability annotations of
// base/mutex.h, so GUARDED_BY contracts on what it guards are checked by
// -Wthread-safety. For an owner whose public calls re-enter each other under
// one lock (kmsd's Store: calls made inside RunInTransaction's function).
// The analysis checks each scope's own acquisition; re-entry is the std
// type's.
//
// Thread-safety: this is a mutex; a lock object belongs to the thread that made it.
#ifndef KMSFS_BASE_RECURSIVE_MUTEX_H_
#define KMSFS_BASE_RECURSIVE_MUTEX_H_

#include <mutex>

#include "base/mutex.h"

namespace kmsfs {

class KMSFS_CAPABILITY("mutex") RecursiveMutex {
 public:
  RecursiveMutex() = default;
  RecursiveMutex(const RecursiveMutex&) = delete;
  RecursiveMutex& operator=(const RecursiveMutex&) = delete;

 private:
  friend class RecursiveMutexLock;
  std::recursive_mutex mu_;
};

// Holds a RecursiveMutex for its scope.
class KMSFS_SCOPED_CAPABILITY RecursiveMutexLock {
 public:
  explicit RecursiveMutexLock(RecursiveMutex* mu) KMSFS_ACQUIRE(mu) : lock_(mu->mu_) {}
  ~RecursiveMutexLock() KMSFS_RELEASE() {}
  RecursiveMutexLock(const RecursiveMutexLock&) = delete;
  RecursiveMutexLock& operator=(const RecursiveMutexLock&) = delete;

 private:
  std::lock_guard<std::recursive_mutex> lock_;
};

}  // namespace kmsfs

#endif  // KMSFS_BASE_RECURSIVE_MUTEX_H_
