// HttpTransport: many HTTP exchanges in flight on ONE thread, through
// libcurl's multi interface driven by an event loop (curl_multi_poll), so that
// calls in flight are sockets, not threads.
//
// Connections: the multi handle keeps up to max_connections connections alive
// and reuses them for later exchanges with the same host, so a steady stream
// of KMS calls costs no TCP or TLS handshakes. Easy handles are pooled too.
// Each exchange has its own connect and total timeouts (HttpExchange).
//
// The loop also runs timers (After) and tasks posted from other threads
// (Post), so that code built on it (the KMS executor) keeps its state on the
// loop thread and needs no locks of its own. Callbacks must be quick and must
// never wait for the loop (no Send from the loop thread).
//
// Shutdown: the destructor stops the loop; exchanges still in flight end with
// kUnavailable ("the KMS client is shutting down"), timers and posted tasks
// not yet run are dropped, and the thread is joined.
//
// Thread-safety: Post() and Send() may be called from any thread (Send not
// from the loop thread); Start, Abort, After, CancelTimer and in_flight only
// on the loop thread (from tasks, timers and done callbacks).
#ifndef KMSFS_KMS_HTTP_TRANSPORT_H_
#define KMSFS_KMS_HTTP_TRANSPORT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "kms/http_exchange.h"

namespace kmsfs::kms {

class HttpTransport {
 public:
  using Done = std::function<void(StatusOr<HttpResponse>)>;
  using Task = std::function<void()>;

  // Initialises libcurl and starts the loop thread, named `thread_name`
  // (and kept on the background CPU, cpu_affinity.h).
  static StatusOr<std::unique_ptr<HttpTransport>> New(TransportOptions options,
                                                      std::string thread_name = "kmsfs-kms");
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  const TransportOptions& options() const { return options_; }

  // --- any thread
  // Runs `task` on the loop thread soon, after the tasks posted before it.
  // False (and the task dropped) once the transport is shutting down.
  bool Post(Task task);
  // One exchange, waited for. Not from the loop thread (kInternal there).
  StatusOr<HttpResponse> Send(const HttpRequest& request);
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_id_.load(); }

  // --- loop thread only
  // Starts sending `request` (which must stay alive, body included, until
  // `done` runs). `done` runs once, on the loop thread, never inside Start.
  // Returns the exchange's id.
  uint64_t Start(const HttpRequest& request, Done done);
  // Ends an exchange now (closing its connection if a transfer was under
  // way); its `done` is never called. Unknown ids are ignored.
  void Abort(uint64_t exchange);
  // Runs `task` on the loop thread once `delay` has passed; returns its id.
  uint64_t After(std::chrono::nanoseconds delay, Task task);
  void CancelTimer(uint64_t timer);
  size_t in_flight() const { return active_.size(); }

 private:
  struct MultiDeleter {
    void operator()(CURLM* multi) const;
  };
  struct Active {
    std::unique_ptr<HttpExchange> exchange;  // null when it failed to start
    Done done;
    Status start_error;
  };
  using TimerKey = std::pair<std::chrono::steady_clock::time_point, uint64_t>;

  HttpTransport(TransportOptions options, std::string thread_name);
  void Loop();
  // Runs the tasks posted so far; returns whether any ran.
  bool RunPosted();
  void RunDueTimers();
  void FinishDone();
  void Complete(uint64_t id, StatusOr<HttpResponse> result);
  // Takes an exchange off the multi handle, gives its easy handle back and drops it.
  void Forget(std::map<uint64_t, Active>::iterator it);
  CURL* AcquireEasy();
  void ReleaseEasy(CURL* easy);
  // Milliseconds curl_multi_poll may sleep.
  int PollTimeoutMs();

  const TransportOptions options_;
  const std::string thread_name_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;

  // Posted tasks: the only state shared with other threads.
  Mutex inbox_mu_;
  std::vector<Task> inbox_ KMSFS_GUARDED_BY(inbox_mu_);
  bool stopping_ KMSFS_GUARDED_BY(inbox_mu_) = false;
  std::atomic<bool> wakeup_pending_{false};

  // Loop thread only.
  uint64_t next_id_ = 1;
  std::map<uint64_t, Active> active_;
  std::unordered_map<CURL*, uint64_t> by_easy_;
  std::map<TimerKey, Task> timers_;
  std::unordered_map<uint64_t, std::chrono::steady_clock::time_point> timer_due_;
  std::vector<CURL*> idle_easy_;

  std::atomic<std::thread::id> loop_id_{};
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_HTTP_TRANSPORT_H_
