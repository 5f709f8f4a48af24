// WorkQueue: the few threads that run all of a mount's background jobs
// (readahead's fetches, key prefetch's header reads, DEK pool refills and
// their backoffs, the once-a-second tick), so that the mount's thread count
// does not grow with its features or its load.
//
// Jobs are posted through a WorkQueue::Scope, one per owner (the DEK pool,
// the prefetcher, ...). Within a scope jobs start in the order posted; scopes
// take turns (round robin), so one owner's flood (a prefetch of 4 000 names)
// cannot hold back another's (the tick). A scope may cap how many of its jobs
// run at once (max_running) and how many wait (max_queued); the queue caps
// the jobs waiting over all scopes (max_queued). A job that finds no room is
// dropped and counted, never blocked on.
//
// Delayed jobs (PostAfter) wait on the injected Clock. With the real clock a
// worker sleeps until the earliest one is due. With a FakeClock, a worker that
// has nothing to run moves the fake time forward to the earliest delayed job
// (Clock::WaitFor), so backoffs pass at once in tests and their length can be
// read off the clock.
//
// Jobs must be short: no KMS round trips (those go through the KMS executor,
// asynchronously), only local work such as a header read or a posix_fadvise.
// A few threads serve everything.
//
// Shutdown: Scope::Close() (and the Scope's destructor) drops the scope's
// waiting and delayed jobs (counted as dropped), refuses new ones and waits
// for its running ones, so no job outlives the objects it uses: an owner
// declares its Scope after everything its jobs touch. Every Scope must be gone
// before the queue, whose destructor joins its threads.
//
// Thread-safety: all methods are thread-safe. A job may post further jobs,
// also to its own scope; it must not close or destroy its own scope.
#ifndef KMSFS_BASE_WORK_QUEUE_H_
#define KMSFS_BASE_WORK_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"

namespace kmsfs {

struct WorkQueueOptions {
  size_t threads = 2;          // Default: 2 worker threads (0 acts as 1)
  size_t max_queued = 16384;   // Default: at most 16384 jobs waiting, delayed ones included
  std::string thread_name = "kmsfs-work";  // as top -H shows it; Linux keeps 15 characters
};

struct WorkQueueStats {
  uint64_t queued = 0;   // jobs accepted (delayed ones included)
  uint64_t done = 0;     // jobs that ran
  uint64_t dropped = 0;  // jobs refused (no room, closed scope) or dropped by Close
  uint64_t waiting = 0;  // due and waiting for a thread now
  uint64_t delayed = 0;  // not yet due now
  uint64_t running = 0;  // running now
};

class WorkQueue {
 public:
  using Job = std::function<void()>;

  struct ScopeOptions {
    // Default: no limit of its own (the queue's applies).
    size_t max_queued = std::numeric_limits<size_t>::max();
    // Default: as many at once as there are threads.
    size_t max_running = std::numeric_limits<size_t>::max();
  };
  class Scope;

  // Starts the threads, each named options.thread_name and kept on the
  // background CPU (cpu_affinity.h).
  explicit WorkQueue(WorkQueueOptions options = {}, Clock* clock = Clock::Real());
  // Every Scope must be gone; joins the threads.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  Clock* clock() const { return clock_; }
  size_t threads() const { return threads_.size(); }
  WorkQueueStats stats() const;
  // Blocks until no job is waiting or running (delayed jobs not yet due do
  // not count), or `timeout` (real time) has passed; returns whether it is idle.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct ScopeState;
  struct Delayed {
    ScopeState* scope;
    Job job;
  };
  using DelayKey = std::pair<Clock::TimePoint, uint64_t>;  // due time, then posting order

  void Work();
  // Takes `job` only when it is accepted.
  bool AddLocked(ScopeState* scope, Job& job, std::chrono::nanoseconds delay) KMSFS_REQUIRES(mu_);
  // Moves delayed jobs that are due into their scopes.
  void ReleaseDueLocked(Clock::TimePoint now) KMSFS_REQUIRES(mu_);
  // Queues `scope` for a turn if it has a job waiting and room to run it.
  void OfferTurnLocked(ScopeState* scope) KMSFS_REQUIRES(mu_);
  void Close(ScopeState* scope);
  bool WaitScopeIdle(ScopeState* scope, std::chrono::milliseconds timeout);

  const WorkQueueOptions options_;
  Clock* const clock_;

  mutable Mutex mu_;
  std::condition_variable work_cv_;  // workers: a job is due, a delayed job came first, stop
  std::condition_variable idle_cv_;  // WaitIdle, Close: a job finished
  std::deque<ScopeState*> turns_ KMSFS_GUARDED_BY(mu_);  // scopes with a job ready to start, in turn
  std::map<DelayKey, Delayed> delayed_ KMSFS_GUARDED_BY(mu_);
  uint64_t next_seq_ KMSFS_GUARDED_BY(mu_) = 0;
  size_t waiting_ KMSFS_GUARDED_BY(mu_) = 0;
  size_t running_ KMSFS_GUARDED_BY(mu_) = 0;
  bool timer_waiter_ KMSFS_GUARDED_BY(mu_) = false;  // a worker waits for the earliest delayed job
  bool stop_ KMSFS_GUARDED_BY(mu_) = false;
  WorkQueueStats stats_ KMSFS_GUARDED_BY(mu_);

  std::vector<std::thread> threads_;  // last: started once everything above exists
};

// The jobs of one owner. Not copyable; destroy it before what its jobs use
// is destroyed (declare it last), and never from one of its own jobs.
class WorkQueue::Scope {
 public:
  explicit Scope(WorkQueue* queue, ScopeOptions options = {});
  ~Scope();  // Close()
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  // Runs `job` once a thread is free and the scope may run another. False
  // (and counted as dropped) when the scope or the queue is full, or closed.
  [[nodiscard]] bool Post(Job job);
  // Runs `job` once `delay` has passed on the queue's clock (then as Post).
  [[nodiscard]] bool PostAfter(std::chrono::nanoseconds delay, Job job);
  // Drops the waiting and delayed jobs, refuses new ones, and waits for the
  // running ones to return. Idempotent.
  void Close();
  // Blocks until none of this scope's jobs is waiting or running (delayed
  // ones not yet due do not count), or `timeout` has passed. For tests.
  bool WaitIdle(std::chrono::milliseconds timeout);
  WorkQueue* queue() const { return queue_; }

 private:
  WorkQueue* const queue_;
  std::unique_ptr<ScopeState> state_;
};

}  // namespace kmsfs

#endif  // KMSFS_BASE_WORK_QUEUE_H_
