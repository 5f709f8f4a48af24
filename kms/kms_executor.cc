#include "kms/kms_executor.h"

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "base/logging.h"
#include "base/mutex.h"
#include "kms/api_json.h"

namespace kmsfs::kms {
namespace {

constexpr char kShuttingDown[] = "the KMS client is shutting down";

size_t IndexOf(Priority p) { return static_cast<size_t>(p); }

}  // namespace

bool IsTokenRejection(int http_status, std::string_view kms_code) {
  return http_status == 401 || (http_status == 403 && (kms_code == "KMS.0302" || kms_code == "KMS.0303"));
}

// Lets call handles reach the loop while the executor lives, and only then.
struct KmsExecutor::Anchor {
  Mutex mu;
  KmsExecutor* executor KMSFS_GUARDED_BY(mu) = nullptr;  // null once shutting down

  void Post(std::function<void(KmsExecutor&)> task) {
    MutexLock lock(&mu);
    if (executor == nullptr) return;
    KmsExecutor* e = executor;
    (void)e->transport_->Post([e, task = std::move(task)] { task(*e); });
  }
};

// One call from Submit to Complete. Every field but `anchor` belongs to the
// loop thread.
struct KmsExecutor::Call : CallHandle::Control, std::enable_shared_from_this<Call> {
  Call(KmsCall s, Done d, std::shared_ptr<Anchor> a, const RetryPolicy& retry)
      : spec(std::move(s)), done(std::move(d)), anchor(std::move(a)), priority(spec.priority) {
    backoff.emplace(retry);
  }

  void Raise(Priority p) override {
    anchor->Post([self = shared_from_this(), p](KmsExecutor& e) { e.Raise(self, p); });
  }
  void Cancel() override {
    anchor->Post([self = shared_from_this()](KmsExecutor& e) { e.Cancel(self, "cancelled"); });
  }

  KmsCall spec;
  Done done;
  const std::shared_ptr<Anchor> anchor;
  State state = State::kQueued;
  Priority priority;          // may be raised while it waits
  size_t sent_as = 0;         // the priority it was sent at, for the in-flight counts
  int attempts = 0;           // of the current round (a token refresh starts a new one)
  bool refreshed = false;     // tried again after a token rejection already
  std::optional<Backoff> backoff;
  TokenRef granted;           // handed over by the login this call waited for
  TokenRef token;             // carried by the attempt in flight
  HttpRequest http;           // the attempt in flight; its body points into spec.body
  uint64_t exchange = 0;
  uint64_t timer = 0;
};

StatusOr<std::unique_ptr<KmsExecutor>> KmsExecutor::New(TransportOptions transport, RetryPolicy retry, IamAuth* auth,
                                                        const RequestSigner* signer, KmsExecutorOptions options) {
  KMSFS_ASSIGN_OR_RETURN(std::unique_ptr<HttpTransport> t, HttpTransport::New(std::move(transport)));
  return std::unique_ptr<KmsExecutor>(new KmsExecutor(std::move(t), std::move(retry), auth, signer, std::move(options)));
}

KmsExecutor::KmsExecutor(std::unique_ptr<HttpTransport> transport, RetryPolicy retry, IamAuth* auth,
                         const RequestSigner* signer, KmsExecutorOptions options)
    : transport_(std::move(transport)),
      retry_(std::move(retry)),
      auth_(auth),
      signer_(signer),
      options_(std::move(options)),
      anchor_(std::make_shared<Anchor>()) {
  MutexLock lock(&anchor_->mu);
  anchor_->executor = this;
}

KmsExecutor::~KmsExecutor() {
  {
    MutexLock lock(&anchor_->mu);
    anchor_->executor = nullptr;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  const bool posted = transport_->Post([&] {
    ShutDown();
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  });
  if (posted) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished; });
  }
  // Stops the loop before the state its tasks use goes.
  transport_.reset();
}

CallHandle KmsExecutor::Submit(KmsCall spec, Done done) {
  submitted_.fetch_add(1, std::memory_order_relaxed);
  auto call = std::make_shared<Call>(std::move(spec), std::move(done), anchor_, retry_);
  const bool posted = transport_->Post([this, call] {
    if (shut_down_) {
      KmsOutcome outcome;
      outcome.response = Status::Unavailable(call->spec.what + ": " + kShuttingDown);
      Complete(call, std::move(outcome));
      return;
    }
    live_.emplace(call.get(), call);
    Enqueue(call, /*first=*/false);
    Dispatch();
  });
  if (!posted) {
    KmsOutcome outcome;
    outcome.response = Status::Unavailable(call->spec.what + ": " + kShuttingDown);
    Complete(call, std::move(outcome));
  }
  return CallHandle(call);
}

KmsOutcome KmsExecutor::Run(KmsCall spec) {
  if (transport_->OnLoopThread()) {
    KmsOutcome outcome;
    outcome.response = Status::Internal(spec.what + ": a blocking KMS call from the KMS executor's own thread");
    return outcome;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::optional<KmsOutcome> result;
  Submit(std::move(spec), [&](KmsOutcome outcome) {
    std::lock_guard<std::mutex> lock(mu);
    result = std::move(outcome);
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  // Every call ends: by its timeouts and bounded retries, or at shutdown.
  cv.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

KmsExecutorStats KmsExecutor::stats() const {
  KmsExecutorStats s;
  s.submitted = submitted_.load();
  s.sent = sent_.load();
  s.retries = retries_.load();
  s.in_flight = in_flight_now_.load();
  s.waiting = waiting_now_.load();
  return s;
}

void KmsExecutor::Enqueue(const std::shared_ptr<Call>& call, bool first) {
  call->state = State::kQueued;
  auto& q = queues_[IndexOf(call->priority)];
  if (first) {
    q.push_front(call);
  } else {
    q.push_back(call);
  }
}

std::optional<size_t> KmsExecutor::NextStartable() const {
  const size_t total = in_flight_[0] + in_flight_[1] + in_flight_[2];
  const size_t background = in_flight_[1] + in_flight_[2];
  // A waiting interactive call goes first; while it cannot start, neither can anything else.
  if (!queues_[0].empty()) return total < options_.max_in_flight ? std::optional<size_t>(0) : std::nullopt;
  if (total >= options_.max_in_flight || background >= options_.max_background) return std::nullopt;
  if (!queues_[1].empty()) return 1;
  if (!queues_[2].empty() && in_flight_[2] < options_.max_prefetch) return 2;
  return std::nullopt;
}

void KmsExecutor::CountWaiting() {
  waiting_now_.store(queues_[0].size() + queues_[1].size() + queues_[2].size() + token_waiters_.size() +
                     backing_off_);
}

void KmsExecutor::Dispatch() {
  if (!shut_down_) {
    while (std::optional<size_t> p = NextStartable()) {
      std::shared_ptr<Call> call = std::move(queues_[*p].front());
      queues_[*p].pop_front();
      Start(call);
    }
  }
  CountWaiting();
}

void KmsExecutor::Start(const std::shared_ptr<Call>& call) {
  if (call->spec.auth == CallAuth::kToken || call->spec.auth == CallAuth::kTokenLookup) {
    TokenRef token = call->granted ? std::move(call->granted) : auth_->CurrentToken();
    call->granted.reset();
    if (token == nullptr) {
      call->state = State::kWaitingForToken;
      token_waiters_.push_back(call);
      StartLogin();
      return;
    }
    call->token = std::move(token);
  }
  if (!call->spec.send) {
    KmsOutcome outcome;
    outcome.response = HttpResponse{};
    Complete(call, std::move(outcome));
    return;
  }
  call->http.method = call->spec.method;
  call->http.url = call->spec.url;
  call->http.body = std::string_view(call->spec.body.data(), call->spec.body.size());
  // Made afresh for every attempt: a signature carries the moment it is sent.
  const int64_t now_sec = options_.unix_seconds ? options_.unix_seconds() : static_cast<int64_t>(std::time(nullptr));
  if (Status headers = SetRequestHeaders(call->http, call->spec.auth, call->token, signer_, now_sec); !headers.ok()) {
    KmsOutcome outcome;
    outcome.response = std::move(headers);
    outcome.attempts = call->attempts;
    outcome.auth_failed = true;
    Complete(call, std::move(outcome));
    return;
  }
  ++call->attempts;
  call->state = State::kSending;
  call->sent_as = IndexOf(call->priority);
  ++in_flight_[call->sent_as];
  in_flight_now_.fetch_add(1, std::memory_order_relaxed);
  sent_.fetch_add(1, std::memory_order_relaxed);
  call->exchange =
      transport_->Start(call->http, [this, call](StatusOr<HttpResponse> answer) { OnAnswer(call, std::move(answer)); });
}

void KmsExecutor::StartLogin() {
  if (login_in_flight_) return;
  login_in_flight_ = true;
  login_sent_at_ = std::chrono::steady_clock::now();
  KmsCall login;
  login.what = auth_->LoginDescription();
  login.url = auth_->TokensUrl();
  login.body = auth_->LoginBody();
  login.auth = CallAuth::kNone;
  login.priority = Priority::kInteractive;
  auto call = std::make_shared<Call>(std::move(login), [this](KmsOutcome outcome) { OnLogin(outcome); }, anchor_,
                                     retry_);
  live_.emplace(call.get(), call);
  // Ahead of everything: every call needing a token waits for it.
  Enqueue(call, /*first=*/true);
}

void KmsExecutor::OnLogin(const KmsOutcome& outcome) {
  login_in_flight_ = false;
  StatusOr<TokenRef> token = auth_->AcceptLogin(outcome.response, outcome.attempts, login_sent_at_);
  std::vector<std::shared_ptr<Call>> waiters;
  waiters.swap(token_waiters_);
  if (token.ok()) {
    // They waited already: first in their priorities, in the order they came.
    for (auto it = waiters.rbegin(); it != waiters.rend(); ++it) {
      (*it)->granted = *token;
      Enqueue(*it, /*first=*/true);
    }
    return;
  }
  for (const std::shared_ptr<Call>& w : waiters) {
    KmsOutcome failed;
    failed.response = token.status();
    failed.auth_failed = true;
    Complete(w, std::move(failed));
  }
}

void KmsExecutor::OnAnswer(const std::shared_ptr<Call>& call, StatusOr<HttpResponse> answer) {
  --in_flight_[call->sent_as];
  in_flight_now_.fetch_sub(1, std::memory_order_relaxed);
  call->exchange = 0;
  const bool retryable = !answer.ok() || IsRetryableHttpStatus(answer->status);
  if (retryable && call->attempts < retry_.max_attempts) {
    std::chrono::milliseconds delay = call->backoff->Next(answer.ok() ? answer->retry_after_seconds : -1);
    KMSFS_LOG(kDebug) << call->spec.what << ": attempt " << call->attempts << " failed ("
                      << (answer.ok() ? "HTTP " + std::to_string(answer->status) : answer.status().message())
                      << "), retrying in " << delay.count() << " ms";
    retries_.fetch_add(1, std::memory_order_relaxed);
    if (retry_.on_backoff) {
      retry_.on_backoff(delay);
      delay = std::chrono::milliseconds(0);
    }
    call->state = State::kBackingOff;
    ++backing_off_;
    call->timer = transport_->After(delay, [this, call] {
      call->timer = 0;
      --backing_off_;
      Enqueue(call, /*first=*/true);
      Dispatch();
    });
    Dispatch();
    return;
  }
  if (answer.ok() && !call->refreshed && call->spec.auth == CallAuth::kToken &&
      IsTokenRejection(answer->status, ParseErrorBody(answer->body).code) && auth_->Rejected(call->token)) {
    const std::string code = ParseErrorBody(answer->body).code;
    KMSFS_LOG(kInfo) << call->spec.what << ": token refused (" << (code.empty() ? "HTTP 401" : code)
                     << "), logging in again";
    call->refreshed = true;
    call->attempts = 0;
    call->backoff.emplace(retry_);
    Enqueue(call, /*first=*/true);
    Dispatch();
    return;
  }
  KmsOutcome outcome;
  outcome.response = std::move(answer);
  outcome.attempts = call->attempts;
  Complete(call, std::move(outcome));
  Dispatch();
}

void KmsExecutor::Complete(const std::shared_ptr<Call>& call, KmsOutcome outcome) {
  if (call->state == State::kDone) return;
  call->state = State::kDone;
  live_.erase(call.get());
  Done done = std::move(call->done);
  call->done = nullptr;
  // The body may carry a DEK or a password, the headers a token: wiped now,
  // not when the last handle goes.
  call->spec.body = SecureString();
  call->http = HttpRequest();
  call->token.reset();
  call->granted.reset();
  if (!done) return;
  try {
    done(std::move(outcome));
  } catch (const std::exception& e) {
    KMSFS_LOG(kError) << call->spec.what << ": the completion threw: " << e.what();
  } catch (...) {
    KMSFS_LOG(kError) << call->spec.what << ": the completion threw";
  }
}

void KmsExecutor::Raise(const std::shared_ptr<Call>& call, Priority priority) {
  if (call->state == State::kDone || IndexOf(priority) >= IndexOf(call->priority)) return;
  if (call->state == State::kQueued) {
    auto& from = queues_[IndexOf(call->priority)];
    from.erase(std::find(from.begin(), from.end(), call));
    call->priority = priority;
    queues_[IndexOf(priority)].push_back(call);
    Dispatch();
    return;
  }
  // Waiting for a token or a backoff: it is queued at the new priority later.
  call->priority = priority;
}

void KmsExecutor::Cancel(const std::shared_ptr<Call>& call, const std::string& why) {
  switch (call->state) {
    case State::kDone:
      return;
    case State::kQueued: {
      auto& q = queues_[IndexOf(call->priority)];
      q.erase(std::find(q.begin(), q.end(), call));
      break;
    }
    case State::kWaitingForToken:
      token_waiters_.erase(std::find(token_waiters_.begin(), token_waiters_.end(), call));
      break;
    case State::kBackingOff:
      transport_->CancelTimer(call->timer);
      call->timer = 0;
      --backing_off_;
      break;
    case State::kSending:
      transport_->Abort(call->exchange);
      call->exchange = 0;
      --in_flight_[call->sent_as];
      in_flight_now_.fetch_sub(1, std::memory_order_relaxed);
      break;
  }
  KmsOutcome outcome;
  outcome.response = Status::Unavailable(call->spec.what + ": " + why);
  outcome.attempts = call->attempts;
  Complete(call, std::move(outcome));
  Dispatch();
}

void KmsExecutor::ShutDown() {
  shut_down_ = true;
  // Cancelling one call (the login) may end others (its waiters): take them one at a time.
  while (!live_.empty()) {
    std::shared_ptr<Call> call = live_.begin()->second;
    Cancel(call, kShuttingDown);
    live_.erase(call.get());
  }
  CountWaiting();
}

}  // namespace kmsfs::kms
