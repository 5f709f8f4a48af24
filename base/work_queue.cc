#include "base/work_queue.h"

#include <algorithm>
#include <exception>

#include "base/cpu_affinity.h"
#include "base/logging.h"

namespace kmsfs {

// One owner's jobs. Every field is guarded by the queue's mu_ (the analysis
// cannot name a mutex of another object).
struct WorkQueue::ScopeState {
  explicit ScopeState(ScopeOptions o) : options(o) {}
  const ScopeOptions options;
  std::deque<Job> waiting;  // due, oldest first
  size_t delayed = 0;       // in the queue's delayed_ map
  size_t running = 0;
  bool closed = false;
  bool has_turn = false;    // in the queue's turns_
};

WorkQueue::WorkQueue(WorkQueueOptions options, Clock* clock) : options_(std::move(options)), clock_(clock) {
  const size_t n = std::max<size_t>(options_.threads, 1);
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      BecomeBackgroundThread(options_.thread_name.c_str());
      Work();
    });
  }
}

WorkQueue::~WorkQueue() {
  std::deque<Job> dropped;  // destroyed after the lock is released
  {
    MutexLock lock(&mu_);
    stop_ = true;
    // Scopes close before the queue goes; anything left is dropped unrun.
    for (ScopeState* s : turns_) {
      for (Job& job : s->waiting) dropped.push_back(std::move(job));
      stats_.dropped += s->waiting.size();
      s->waiting.clear();
      s->has_turn = false;
    }
    turns_.clear();
    for (auto& [key, d] : delayed_) dropped.push_back(std::move(d.job));
    stats_.dropped += delayed_.size();
    delayed_.clear();
    waiting_ = 0;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkQueue::OfferTurnLocked(ScopeState* s) {
  if (s->has_turn || s->waiting.empty() || s->running >= s->options.max_running) return;
  s->has_turn = true;
  turns_.push_back(s);
  work_cv_.notify_one();
}

void WorkQueue::ReleaseDueLocked(Clock::TimePoint now) {
  while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
    auto node = delayed_.extract(delayed_.begin());
    ScopeState* s = node.mapped().scope;
    --s->delayed;
    s->waiting.push_back(std::move(node.mapped().job));
    ++waiting_;
    OfferTurnLocked(s);
  }
}

bool WorkQueue::AddLocked(ScopeState* s, Job& job, std::chrono::nanoseconds delay) {
  const size_t queued_now = waiting_ + delayed_.size();
  const size_t scope_now = s->waiting.size() + s->delayed;
  if (stop_ || s->closed || !job || queued_now >= options_.max_queued || scope_now >= s->options.max_queued) {
    ++stats_.dropped;
    return false;
  }
  ++stats_.queued;
  if (delay <= std::chrono::nanoseconds::zero()) {
    s->waiting.push_back(std::move(job));
    ++waiting_;
    OfferTurnLocked(s);
    return true;
  }
  const DelayKey key{clock_->Now() + delay, next_seq_++};
  const bool earliest = delayed_.empty() || key < delayed_.begin()->first;
  delayed_.emplace(key, Delayed{s, std::move(job)});
  ++s->delayed;
  // The worker waiting for the earliest delayed job must look again.
  if (earliest) work_cv_.notify_all();
  return true;
}

void WorkQueue::Work() {
  MutexLock lock(&mu_);
  while (true) {
    ReleaseDueLocked(clock_->Now());
    if (!turns_.empty()) {
      ScopeState* s = turns_.front();
      turns_.pop_front();
      s->has_turn = false;
      Job job = std::move(s->waiting.front());
      s->waiting.pop_front();
      --waiting_;
      ++s->running;
      ++running_;
      OfferTurnLocked(s);  // its next job takes its turn after the other scopes'
      // This thread may have been the one waiting for the earliest delayed
      // job: an idle one takes that over, so the job is not late by this one.
      if (!delayed_.empty() && !timer_waiter_) work_cv_.notify_one();
      lock.Unlock();
      try {
        job();
      } catch (const std::exception& e) {
        KMSFS_LOG(kError) << options_.thread_name << ": a background job threw: " << e.what();
      } catch (...) {
        KMSFS_LOG(kError) << options_.thread_name << ": a background job threw";
      }
      job = nullptr;  // what it captured goes before the lock is taken
      lock.Lock();
      --s->running;
      --running_;
      ++stats_.done;
      OfferTurnLocked(s);
      idle_cv_.notify_all();
      continue;
    }
    if (stop_) return;
    if (!delayed_.empty() && !timer_waiter_) {
      timer_waiter_ = true;
      clock_->WaitFor(work_cv_, lock.native(), delayed_.begin()->first.first - clock_->Now());
      timer_waiter_ = false;
      continue;
    }
    lock.Wait(work_cv_);
  }
}

WorkQueueStats WorkQueue::stats() const {
  MutexLock lock(&mu_);
  WorkQueueStats out = stats_;
  out.waiting = waiting_;
  out.delayed = delayed_.size();
  out.running = running_;
  return out;
}

bool WorkQueue::WaitIdle(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (waiting_ > 0 || running_ > 0 || (!delayed_.empty() && delayed_.begin()->first.first <= clock_->Now())) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(idle_cv_, deadline);
  }
  return true;
}

void WorkQueue::Close(ScopeState* s) {
  std::deque<Job> dropped;
  {
    MutexLock lock(&mu_);
    s->closed = true;
    for (Job& job : s->waiting) dropped.push_back(std::move(job));
    waiting_ -= s->waiting.size();
    stats_.dropped += s->waiting.size();
    s->waiting.clear();
    if (s->has_turn) {
      turns_.erase(std::find(turns_.begin(), turns_.end(), s));
      s->has_turn = false;
    }
    for (auto it = delayed_.begin(); s->delayed > 0 && it != delayed_.end();) {
      if (it->second.scope != s) {
        ++it;
        continue;
      }
      dropped.push_back(std::move(it->second.job));
      ++stats_.dropped;
      --s->delayed;
      it = delayed_.erase(it);
    }
  }
  // What the dropped jobs hold goes now, outside the lock, before the wait.
  dropped.clear();
  MutexLock lock(&mu_);
  while (s->running > 0) lock.Wait(idle_cv_);
}

bool WorkQueue::WaitScopeIdle(ScopeState* s, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (!s->waiting.empty() || s->running > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(idle_cv_, deadline);
  }
  return true;
}

WorkQueue::Scope::Scope(WorkQueue* queue, ScopeOptions options)
    : queue_(queue), state_(std::make_unique<ScopeState>(options)) {}

WorkQueue::Scope::~Scope() { Close(); }

bool WorkQueue::Scope::Post(Job job) { return PostAfter(std::chrono::nanoseconds::zero(), std::move(job)); }

bool WorkQueue::Scope::PostAfter(std::chrono::nanoseconds delay, Job job) {
  bool added = false;
  {
    MutexLock lock(&queue_->mu_);
    added = queue_->AddLocked(state_.get(), job, delay);
  }
  // A refused job (and what it captured) is destroyed here, outside the lock.
  return added;
}

void WorkQueue::Scope::Close() { queue_->Close(state_.get()); }

bool WorkQueue::Scope::WaitIdle(std::chrono::milliseconds timeout) {
  return queue_->WaitScopeIdle(state_.get(), timeout);
}

}  // namespace kmsfs
