// KmsExecutor: every KMS and IAM call of a client goes through here,
// asynchronously, on the one thread of an HttpTransport: calls in flight are
// sockets, not threads.
//
// Priorities: waiting calls start in the order kInteractive, kRefill,
// kPrefetch, first come first served within each. At most max_in_flight are
// on the wire at once; refill and prefetch calls together at most
// max_background of them, and prefetch calls at most max_prefetch, so
// background work always leaves room for the calls somebody waits for. A
// waiting call can be moved up (CallHandle::Raise): when an open comes to
// wait for a key a prefetch is about to fetch.
//
// Retries: a network failure, a 429 or a 5xx is tried again after a backoff
// (RetryPolicy: exponential with full jitter, Retry-After honoured) until
// max_attempts; the wait is a timer on the loop, no thread sleeps, and the
// call gives its slot up meanwhile (and goes first in its priority when the
// timer fires). Other 4xx answers are final, except a token rejection (401,
// 403 KMS.0302/0303) for a password-login client: the token is dropped and the
// call tried once more, with fresh attempts, after a new login.
//
// Tokens: a call that needs a token and finds none current (IamAuth) waits,
// without a slot, for the login; one login is in flight at a time, as an
// interactive call ahead of the others, and its outcome releases every
// waiting call or ends each with the login's error.
//
// Headers are made for every attempt by SetRequestHeaders
// (kms/request_headers.h), the one place credentials go into a request: a
// call signed with an access key (CallAuth::kSigned) needs no token and is
// signed again, with the time of sending, for each attempt.
// Bodies are owned by the call and wiped once it is done.
//
// Shutdown: the destructor ends every call not done yet with kUnavailable
// ("the KMS client is shutting down"), running its `done`, then stops the
// loop. Calls submitted afterwards end the same way at once.
//
// Thread-safety: Submit, Run and stats may be called from any thread (Run not
// from a `done`, which runs on the loop thread).
#ifndef KMSFS_KMS_KMS_EXECUTOR_H_
#define KMSFS_KMS_KMS_EXECUTOR_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "kms/http_transport.h"
#include "kms/iam_auth.h"
#include "kms/kms_client.h"
#include "kms/request_headers.h"
#include "kms/request_signer.h"
#include "kms/retry.h"
#include "base/secure_string.h"

namespace kmsfs::kms {

// One API call, as the client hands it over.
struct KmsCall {
  std::string what;             // for log lines: "decrypt-datakey on key K at host"
  std::string method = "POST";
  std::string url;
  SecureString body;            // owned by the call; wiped once it is done
  CallAuth auth = CallAuth::kToken;
  Priority priority = Priority::kInteractive;
  // False: nothing is sent; the call is done once a token is current (for
  // the user id of a password login).
  bool send = true;
};

// How a call ended.
struct KmsOutcome {
  // The final answer (any HTTP status), or the network failure of the last attempt.
  StatusOr<HttpResponse> response = Status::Unavailable("not sent");
  int attempts = 0;
  // No token could be had: `response` is the login's error, nothing was sent.
  bool auth_failed = false;
};

struct KmsExecutorOptions {
  size_t max_in_flight = 160;   // Default: 160 calls on the wire at once
  size_t max_background = 128;  // Default: of those, 128 refill and prefetch calls together
  size_t max_prefetch = 32;     // Default: of those, 32 prefetch calls
  // The Unix time (seconds) an AK/SK signature is made at. Default (empty):
  // the system clock.
  std::function<int64_t()> unix_seconds = nullptr;
};

struct KmsExecutorStats {
  uint64_t submitted = 0;  // calls handed over
  uint64_t sent = 0;       // attempts sent (retries included)
  uint64_t retries = 0;    // attempts after a network failure, 429 or 5xx
  uint64_t in_flight = 0;  // on the wire now
  uint64_t waiting = 0;    // queued, backing off or waiting for a token now
};

// The token was refused in a way a fresh login can cure.
bool IsTokenRejection(int http_status, std::string_view kms_code);

class KmsExecutor {
 public:
  using Done = std::function<void(KmsOutcome)>;

  // Starts the transport's loop thread. `auth` and `signer` (null when no
  // call is signed) must outlive the executor.
  static StatusOr<std::unique_ptr<KmsExecutor>> New(TransportOptions transport, RetryPolicy retry, IamAuth* auth,
                                                    const RequestSigner* signer, KmsExecutorOptions options = {});
  ~KmsExecutor();
  KmsExecutor(const KmsExecutor&) = delete;
  KmsExecutor& operator=(const KmsExecutor&) = delete;

  // Queues `call`; `done` runs once it has ended, on the loop thread (at
  // once on the caller's thread if the executor is shutting down).
  CallHandle Submit(KmsCall call, Done done);
  // Submits and waits for the outcome. kInternal from the loop thread.
  KmsOutcome Run(KmsCall call);
  KmsExecutorStats stats() const;

 private:
  struct Call;
  struct Anchor;
  enum class State { kQueued, kWaitingForToken, kSending, kBackingOff, kDone };

  KmsExecutor(std::unique_ptr<HttpTransport> transport, RetryPolicy retry, IamAuth* auth,
              const RequestSigner* signer, KmsExecutorOptions options);

  // --- loop thread only
  void Enqueue(const std::shared_ptr<Call>& call, bool first);
  void Dispatch();
  // The priority whose first call may start now, if any.
  std::optional<size_t> NextStartable() const;
  void Start(const std::shared_ptr<Call>& call);
  void StartLogin();
  void OnLogin(const KmsOutcome& outcome);
  void OnAnswer(const std::shared_ptr<Call>& call, StatusOr<HttpResponse> answer);
  void Complete(const std::shared_ptr<Call>& call, KmsOutcome outcome);
  void Raise(const std::shared_ptr<Call>& call, Priority priority);
  void Cancel(const std::shared_ptr<Call>& call, const std::string& why);
  void ShutDown();
  void CountWaiting();

  std::unique_ptr<HttpTransport> transport_;  // reset first by the destructor: it runs the loop
  const RetryPolicy retry_;
  IamAuth* const auth_;
  const RequestSigner* const signer_;
  const KmsExecutorOptions options_;
  const std::shared_ptr<Anchor> anchor_;  // lets handles reach the loop while the executor lives

  // Loop thread only.
  std::array<std::deque<std::shared_ptr<Call>>, 3> queues_;  // by Priority
  std::array<size_t, 3> in_flight_{};                        // by the priority a call was sent at
  std::vector<std::shared_ptr<Call>> token_waiters_;
  std::unordered_map<Call*, std::shared_ptr<Call>> live_;  // every call not done yet
  size_t backing_off_ = 0;
  bool login_in_flight_ = false;
  std::chrono::steady_clock::time_point login_sent_at_{};
  bool shut_down_ = false;

  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> in_flight_now_{0};
  std::atomic<uint64_t> waiting_now_{0};
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_KMS_EXECUTOR_H_
