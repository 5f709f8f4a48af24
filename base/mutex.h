// Mutex, SharedMutex and their scoped locks: std::mutex and
// std::shared_mutex with clang thread-safety annotations, so GUARDED_BY /
// REQUIRES contracts are checked by -Wthread-safety (the macros expand to
// nothing under g++).
//
// Thread-safety: these are mutexes; a lock object belongs to the thread that made it.
#ifndef KMSFS_BASE_MUTEX_H_
#define KMSFS_BASE_MUTEX_H_

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define KMSFS_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define KMSFS_THREAD_ANNOTATION_(x)
#endif

#define KMSFS_CAPABILITY(x) KMSFS_THREAD_ANNOTATION_(capability(x))
#define KMSFS_SCOPED_CAPABILITY KMSFS_THREAD_ANNOTATION_(scoped_lockable)
#define KMSFS_GUARDED_BY(x) KMSFS_THREAD_ANNOTATION_(guarded_by(x))
#define KMSFS_PT_GUARDED_BY(x) KMSFS_THREAD_ANNOTATION_(pt_guarded_by(x))
#define KMSFS_REQUIRES(...) KMSFS_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define KMSFS_EXCLUDES(...) KMSFS_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define KMSFS_ACQUIRE(...) KMSFS_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define KMSFS_ACQUIRE_SHARED(...) KMSFS_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define KMSFS_RELEASE_SHARED(...) KMSFS_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define KMSFS_REQUIRES_SHARED(...) KMSFS_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
#define KMSFS_RELEASE_GENERIC(...) KMSFS_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define KMSFS_RELEASE(...) KMSFS_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))

namespace kmsfs {

class KMSFS_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() KMSFS_ACQUIRE() { mu_.lock(); }
  void Unlock() KMSFS_RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope; can drop and retake it (e.g. around a call
// that must not run under the lock) and wait on a condition variable.
class KMSFS_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) KMSFS_ACQUIRE(mu) : lock_(mu->mu_) {}
  ~MutexLock() KMSFS_RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() KMSFS_RELEASE() { lock_.unlock(); }
  void Lock() KMSFS_ACQUIRE() { lock_.lock(); }

  // Releases the mutex while blocked on `cv`; holds it again on return.
  // Spurious wake-ups happen: callers re-check their condition in a loop.
  void Wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <typename Clock, typename Duration>
  void WaitUntil(std::condition_variable& cv, const std::chrono::time_point<Clock, Duration>& t) {
    cv.wait_until(lock_, t);
  }

  // For waits that need the std lock itself (Clock::WaitFor).
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

// A reader-writer mutex: readers share it, a writer holds it alone.
class KMSFS_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

 private:
  friend class WriterLock;
  friend class ReaderLock;
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class KMSFS_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) KMSFS_ACQUIRE(mu) : lock_(mu->mu_) {}
  ~WriterLock() KMSFS_RELEASE() {}
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  std::unique_lock<std::shared_mutex> lock_;
};

// Holds a SharedMutex shared for its scope.
class KMSFS_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) KMSFS_ACQUIRE_SHARED(mu) : lock_(mu->mu_) {}
  ~ReaderLock() KMSFS_RELEASE_GENERIC() {}
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  std::shared_lock<std::shared_mutex> lock_;
};

}  // namespace kmsfs

#endif  // KMSFS_BASE_MUTEX_H_
