// LoginThrottle: slows down repeated failed password logins, without
// holding a server thread and without locking anyone out for long.
//
// Failures are counted per (client address, user) and per client address.
// Once a key has more than its free failures, every further failure makes it
// wait before the next attempt: first_delay, doubling up to max_delay. An
// attempt while a key waits is refused at once (kmsd answers 429 with
// Retry-After) without looking at the password, so waiting costs the server
// nothing. A successful login clears its (address, user) count; a key without
// failures for forget_after is forgotten. So an attacker elsewhere cannot
// delay a user's logins at all, and one on the same address by at most
// max_delay after each of its own failures.
//
// Thread-safety: safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_LOGIN_THROTTLE_H_
#define KMSFS_KMS_SERVER_LOGIN_THROTTLE_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/mutex.h"

namespace kmsfs::kms::server {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int free_failures_per_user = 3;   // per (address, user)
    int free_failures_per_peer = 20;  // per address, any user
    std::chrono::milliseconds first_delay{1000};
    std::chrono::milliseconds max_delay{30000};
    std::chrono::milliseconds forget_after{600000};
    size_t max_keys = 20000;
  };

  LoginThrottle() : LoginThrottle(Options()) {}
  explicit LoginThrottle(Options options) : options_(options) {}

  // How long `peer` must wait before it may try to log in as `user`; zero
  // when it may now.
  std::chrono::milliseconds WaitBeforeAttempt(std::string_view peer, std::string_view user, Clock::time_point now);
  void RecordFailure(std::string_view peer, std::string_view user, Clock::time_point now);
  void RecordSuccess(std::string_view peer, std::string_view user);
  // Keys held (for tests of the bound).
  size_t size();

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last_failure{};
    Clock::time_point next_allowed{};
  };
  std::chrono::milliseconds Wait(const std::string& key, Clock::time_point now) KMSFS_REQUIRES(mu_);
  void Fail(const std::string& key, int free_failures, Clock::time_point now) KMSFS_REQUIRES(mu_);
  void Sweep(Clock::time_point now) KMSFS_REQUIRES(mu_);

  Options options_;
  Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ KMSFS_GUARDED_BY(mu_);
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_LOGIN_THROTTLE_H_
