#include "kms/http_transport.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>

#include "base/cpu_affinity.h"
#include "base/logging.h"

namespace kmsfs::kms {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How long the loop sleeps when neither libcurl nor a timer wants it sooner;
// posted tasks and finished transfers wake it earlier.
constexpr int kIdlePollMs = 1000;

// Runs a callback without letting an exception reach the loop.
template <typename F>
void Guarded(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    KMSFS_LOG(kError) << "KMS transport: " << what << " threw: " << e.what();
  } catch (...) {
    KMSFS_LOG(kError) << "KMS transport: " << what << " threw";
  }
}

}  // namespace

void HttpTransport::MultiDeleter::operator()(CURLM* multi) const { curl_multi_cleanup(multi); }

StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::New(TransportOptions options, std::string thread_name) {
  KMSFS_RETURN_IF_ERROR(InitLibcurl());
  std::unique_ptr<HttpTransport> t(new HttpTransport(std::move(options), std::move(thread_name)));
  if (!t->multi_) return Status::Internal("libcurl: cannot create a multi handle");
  return t;
}

HttpTransport::HttpTransport(TransportOptions options, std::string thread_name)
    : options_(std::move(options)), thread_name_(std::move(thread_name)), multi_(curl_multi_init()) {
  if (!multi_) return;
  const long connections = static_cast<long>(std::max<size_t>(options_.max_connections, 1));
  // Keep-alive connections are kept for reuse up to this many; beyond it
  // libcurl queues exchanges until one is free.
  curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, connections);
  curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, connections);
  thread_ = std::thread([this] {
    BecomeBackgroundThread(thread_name_.c_str());
    loop_id_.store(std::this_thread::get_id());
    Loop();
  });
}

HttpTransport::~HttpTransport() {
  {
    MutexLock lock(&inbox_mu_);
    stopping_ = true;
  }
  if (multi_) curl_multi_wakeup(multi_.get());
  if (thread_.joinable()) thread_.join();
  for (CURL* easy : idle_easy_) curl_easy_cleanup(easy);
}

bool HttpTransport::Post(Task task) {
  {
    MutexLock lock(&inbox_mu_);
    if (stopping_) return false;
    inbox_.push_back(std::move(task));
  }
  // One wake-up per batch of posts: the loop clears the flag before it
  // takes the inbox, so a task posted after that always writes a new one.
  if (!wakeup_pending_.exchange(true)) curl_multi_wakeup(multi_.get());
  return true;
}

StatusOr<HttpResponse> HttpTransport::Send(const HttpRequest& request) {
  if (OnLoopThread()) return Status::Internal("KMS transport: a blocking send from the transport's own thread");
  std::mutex mu;
  std::condition_variable cv;
  std::optional<StatusOr<HttpResponse>> result;
  const bool posted = Post([&] {
    Start(request, [&](StatusOr<HttpResponse> r) {
      std::lock_guard<std::mutex> lock(mu);
      result = std::move(r);
      cv.notify_all();
    });
  });
  if (!posted) return Status::Unavailable("the KMS client is shutting down");
  std::unique_lock<std::mutex> lock(mu);
  // Every exchange ends: by its own timeout, or with the transport.
  cv.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

CURL* HttpTransport::AcquireEasy() {
  if (!idle_easy_.empty()) {
    CURL* easy = idle_easy_.back();
    idle_easy_.pop_back();
    return easy;
  }
  return curl_easy_init();
}

void HttpTransport::ReleaseEasy(CURL* easy) {
  if (idle_easy_.size() < options_.max_connections) {
    idle_easy_.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
}

uint64_t HttpTransport::Start(const HttpRequest& request, Done done) {
  const uint64_t id = next_id_++;
  Active& a = active_[id];
  a.done = std::move(done);
  CURL* easy = AcquireEasy();
  StatusOr<std::unique_ptr<HttpExchange>> ex =
      easy != nullptr ? HttpExchange::New(easy, request, options_) : Status::Internal("libcurl: cannot create a handle");
  CURLMcode added = CURLM_OK;
  if (ex.ok()) {
    added = curl_multi_add_handle(multi_.get(), easy);
    if (added != CURLM_OK) ex = Status::Internal(std::string("libcurl: ") + curl_multi_strerror(added));
  }
  if (!ex.ok()) {
    if (easy != nullptr) ReleaseEasy(easy);
    a.start_error = ex.status();
    // `done` never runs inside Start: the failure is reported from the loop.
    After(std::chrono::nanoseconds::zero(), [this, id] {
      if (auto it = active_.find(id); it != active_.end()) Complete(id, it->second.start_error);
    });
    return id;
  }
  a.exchange = std::move(ex).value();
  by_easy_[easy] = id;
  return id;
}

void HttpTransport::Abort(uint64_t id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Forget(it);
}

void HttpTransport::Forget(std::map<uint64_t, Active>::iterator it) {
  if (it->second.exchange) {
    CURL* easy = it->second.exchange->easy();
    curl_multi_remove_handle(multi_.get(), easy);
    by_easy_.erase(easy);
    it->second.exchange.reset();
    ReleaseEasy(easy);
  }
  active_.erase(it);
}

void HttpTransport::Complete(uint64_t id, StatusOr<HttpResponse> result) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Done done = std::move(it->second.done);
  Forget(it);
  Guarded("an exchange's completion", [&] { done(std::move(result)); });
}

uint64_t HttpTransport::After(std::chrono::nanoseconds delay, Task task) {
  const uint64_t id = next_id_++;
  const auto due = SteadyClock::now() + std::max(delay, std::chrono::nanoseconds::zero());
  timers_.emplace(TimerKey{due, id}, std::move(task));
  timer_due_[id] = due;
  return id;
}

void HttpTransport::CancelTimer(uint64_t id) {
  auto it = timer_due_.find(id);
  if (it == timer_due_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_due_.erase(it);
}

bool HttpTransport::RunPosted() {
  wakeup_pending_.store(false);
  std::vector<Task> tasks;
  {
    MutexLock lock(&inbox_mu_);
    tasks.swap(inbox_);
  }
  for (Task& task : tasks) Guarded("a posted task", task);
  return !tasks.empty();
}

void HttpTransport::RunDueTimers() {
  const auto now = SteadyClock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_due_.erase(node.key().second);
    Guarded("a timer", node.mapped());
  }
}

void HttpTransport::FinishDone() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    auto it = by_easy_.find(msg->easy_handle);
    if (it == by_easy_.end()) continue;
    const uint64_t id = it->second;
    const CURLcode code = msg->data.result;
    // `msg` is invalid once the handle leaves the multi handle (in Complete).
    StatusOr<HttpResponse> result = active_[id].exchange->Finish(code);
    Complete(id, std::move(result));
  }
}

int HttpTransport::PollTimeoutMs() {
  long curl_ms = -1;
  curl_multi_timeout(multi_.get(), &curl_ms);
  long ms = curl_ms < 0 ? kIdlePollMs : std::min<long>(curl_ms, kIdlePollMs);
  if (!timers_.empty()) {
    const auto until = timers_.begin()->first.first - SteadyClock::now();
    // Rounded up, so a timer is not polled for again just before it is due.
    const long timer_ms = static_cast<long>(
        std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(until).count()));
    ms = std::min(ms, timer_ms);
  }
  return static_cast<int>(ms);
}

void HttpTransport::Loop() {
  while (true) {
    RunPosted();
    RunDueTimers();
    {
      MutexLock lock(&inbox_mu_);
      if (stopping_) break;
    }
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    FinishDone();
    // Completions may have posted or started more: look again before sleeping.
    {
      MutexLock lock(&inbox_mu_);
      if (!inbox_.empty() || stopping_) continue;
    }
    curl_multi_poll(multi_.get(), nullptr, 0, PollTimeoutMs(), nullptr);
  }
  // Shutting down: nothing in flight may be left waiting.
  timers_.clear();
  timer_due_.clear();
  while (!active_.empty()) {
    Complete(active_.begin()->first, Status::Unavailable("the KMS client is shutting down"));
  }
  std::vector<Task> dropped;
  MutexLock lock(&inbox_mu_);
  dropped.swap(inbox_);
}

}  // namespace kmsfs::kms
