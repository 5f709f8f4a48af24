#include "kms/server/login_throttle.h"

#include <algorithm>

namespace kmsfs::kms::server {
namespace {

std::string PeerKey(std::string_view peer) { return "p\n" + std::string(peer); }
std::string UserKey(std::string_view peer, std::string_view user) {
  return "u\n" + std::string(peer) + "\n" + std::string(user);
}

}  // namespace

std::chrono::milliseconds LoginThrottle::Wait(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.next_allowed <= now) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(it->second.next_allowed - now);
}

std::chrono::milliseconds LoginThrottle::WaitBeforeAttempt(std::string_view peer, std::string_view user,
                                                           Clock::time_point now) {
  MutexLock lock(&mu_);
  return std::max(Wait(PeerKey(peer), now), Wait(UserKey(peer, user), now));
}

void LoginThrottle::Fail(const std::string& key, int free_failures, Clock::time_point now) {
  Entry& e = entries_[key];
  if (e.failures > 0 && now - e.last_failure >= options_.forget_after) e = Entry();
  ++e.failures;
  e.last_failure = now;
  const int over = e.failures - free_failures;
  if (over <= 0) return;
  std::chrono::milliseconds delay = options_.first_delay;
  for (int i = 1; i < over && delay < options_.max_delay; ++i) delay *= 2;
  e.next_allowed = now + std::min(delay, options_.max_delay);
}

void LoginThrottle::RecordFailure(std::string_view peer, std::string_view user, Clock::time_point now) {
  MutexLock lock(&mu_);
  if (entries_.size() + 2 > options_.max_keys) Sweep(now);
  Fail(PeerKey(peer), options_.free_failures_per_peer, now);
  Fail(UserKey(peer, user), options_.free_failures_per_user, now);
}

void LoginThrottle::RecordSuccess(std::string_view peer, std::string_view user) {
  MutexLock lock(&mu_);
  entries_.erase(UserKey(peer, user));
}

size_t LoginThrottle::size() {
  MutexLock lock(&mu_);
  return entries_.size();
}

void LoginThrottle::Sweep(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool waiting = it->second.next_allowed > now;
    if (!waiting && now - it->second.last_failure >= options_.forget_after) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  // Still full (a flood of distinct names): forget the keys that are not
  // waiting; an attacker gains nothing, since keys that are waiting stay.
  if (entries_.size() + 2 > options_.max_keys) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.next_allowed > now ? std::next(it) : entries_.erase(it);
    }
  }
}

}  // namespace kmsfs::kms::server
