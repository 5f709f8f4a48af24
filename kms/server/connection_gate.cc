#include "kms/server/connection_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/hex.h"
#include "base/logging.h"
#include "base/mutex.h"
#include "base/thread_name.h"
#include "base/unique_fd.h"
#include "crypto/random.h"

namespace kmsfs::kms::server {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

constexpr uint64_t kListenerId = 0;
constexpr uint64_t kWakeId = 1;
constexpr size_t kReadChunk = 16 * 1024;
// A connection may buffer this much without counting against the budget:
// every ordinary request fits.
constexpr size_t kUnbudgetedBytes = 64 * 1024;
// What a lingering connection may still send before it is simply closed.
constexpr size_t kLingerDiscardMax = 64u << 20;
// Descriptors kept free for the database, the audit log and the like.
constexpr size_t kReservedDescriptors = 64;
constexpr std::chrono::milliseconds kAcceptRetry{100};

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// An answer of the gate's own, in the JSON error shape of the KMS API (or,
// for the gateway's throttling, of the API gateway), closing the connection.
SecureString GateAnswer(int status) {
  const std::string request_id = HexEncode(crypto::RandomVector(16));
  std::string body;
  switch (status) {
    case 414:
      body = R"({"error":{"error_code":"KMS.0201","error_msg":"Invalid request URL."}})";
      break;
    case 431:
      body = R"({"error":{"error_code":"KMS.0203","error_msg":"Request message too long."}})";
      break;
    case 408:
      body = R"({"error":{"error_code":"KMS.0202","error_msg":"The request was not complete in time."}})";
      break;
    case 429:
      body = R"({"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached.","request_id":")" +
             request_id + "\"}";
      break;
    case 503:
      body = R"({"error":{"error_code":"KMS.0104","error_msg":"A system exception occurred. Contact technical support."}})";
      break;
    default:
      body = R"({"error":{"error_code":"KMS.0202","error_msg":"Invalid JSON format of the request message."}})";
      break;
  }
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) +
                     "\r\nContent-Type: application/json;charset=UTF-8\r\nX-Request-Id: " + request_id +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n";
  if (status == 429 || status == 503) head += "Retry-After: 1\r\n";
  head += "\r\n";
  SecureString out(head.begin(), head.end());
  out.append(body.data(), body.size());
  return out;
}

// Drops the first `n` bytes. The bytes go with the old buffer, which the
// wiping allocator clears (erase() would leave copies beyond the new end).
void Consume(SecureString& s, size_t n) {
  SecureString rest(s.data() + n, s.size() - n);
  s.swap(rest);
}

// Empties `s` and releases (wipes) its buffer; clear() would keep the bytes.
void Discard(SecureString& s) { SecureString().swap(s); }

}  // namespace

std::string PeerBucket(const std::string& ip) {
  struct in_addr v4;
  if (::inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127 ? "loopback" : ip;
  }
  struct in6_addr v6;
  if (::inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return "loopback";
    char buf[INET6_ADDRSTRLEN];
    std::memset(&v6.s6_addr[8], 0, 8);
    ::inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return std::string(buf) + "/64";
  }
  return ip;
}

namespace {

// The peer's address as text; an IPv4 address mapped into IPv6 as IPv4.
void AddressText(const sockaddr_storage& ss, std::string* ip, int* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      ::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
    *port = ntohs(a->sin6_port);
  }
  *ip = buf;
}

StatusOr<SslCtxPtr> MakeTlsContext(const std::string& cert, const std::string& key) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Internal("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CLEANSE_PLAINTEXT |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("cannot load TLS certificate " + cert + " and key " + key +
                                   " (PEM files expected)");
  }
  return ctx;
}

StatusOr<UniqueFd> Listen(const std::string& host, int port) {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  struct addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const std::string where = host + ":" + service;
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return Status::Unavailable("cannot listen on " + where + " (not an address of this machine)");
  }
  int last_errno = 0;
  UniqueFd fd;
  for (struct addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    UniqueFd s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!s.valid()) {
      last_errno = errno;
      continue;
    }
    // SO_REUSEADDR only: SO_REUSEPORT would let a second kmsd share a busy port silently.
    int yes = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(s.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(s.get(), 4096) != 0) {
      last_errno = errno;
      continue;
    }
    fd = std::move(s);
    break;
  }
  ::freeaddrinfo(found);
  if (!fd.valid()) {
    return Status::Unavailable("cannot listen on " + where + ": " + std::strerror(last_errno) +
                               " (address in use, or not an address of this machine)");
  }
  return fd;
}

size_t DefaultMaxConnections() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 65536;
  return lim.rlim_cur > 2 * kReservedDescriptors ? lim.rlim_cur - kReservedDescriptors : kReservedDescriptors;
}

}  // namespace

struct ConnectionGate::Impl {
  enum class Phase {
    kHandshake,  // TLS handshake
    kReading,    // waiting for (more of) a request
    kHandling,   // a worker has the request
    kWriting,    // sending an answer
    kLingering,  // answer sent, connection closing: reading and discarding
    kClosed,     // closed; freed at the end of this loop turn
  };

  struct Conn {
    uint64_t id = 0;
    UniqueFd fd;
    SslPtr ssl;
    std::string peer_ip;
    int peer_port = 0;
    std::string local_ip;
    int local_port = 0;
    bool counted_for_peer = false;
    Phase phase = Phase::kReading;
    RequestFramer framer;
    SecureString in;         // received bytes not yet handed on
    SecureString out;        // bytes to send
    size_t out_sent = 0;
    bool continue_sent = false;
    bool close_after_write = false;
    bool registered = false;  // in the epoll set
    uint32_t events = 0;      // interest registered
    TimePoint deadline{};
    bool has_deadline = false;
    size_t discarded = 0;     // lingering
    size_t budgeted = 0;      // bytes of `in` counted against the budget
  };

  struct Job {
    uint64_t conn_id = 0;
    Exchange exchange;
  };

  Options options;
  Handler handler;
  UniqueFd listener;
  UniqueFd epoll;
  UniqueFd wake;  // eventfd: completed jobs and Stop()
  SslCtxPtr tls;
  int port = 0;
  size_t max_connections = 0;

  // Event-loop state: touched by the loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  // Closed connections live until the loop turn ends: a Close() deep in a call
  // chain (Frame -> Refuse -> Flush -> Linger -> Close) must not free the Conn
  // its callers still look at.
  std::vector<std::unique_ptr<Conn>> closed;
  std::set<std::pair<TimePoint, uint64_t>> deadlines;
  std::unordered_map<std::string, size_t> per_peer;
  uint64_t next_id = 2;
  size_t budget_used = 0;
  bool listener_armed = false;
  TimePoint listener_retry{};
  bool stopping = false;

  // Worker pool.
  Mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<std::unique_ptr<Job>> jobs KMSFS_GUARDED_BY(jobs_mu);
  bool workers_quit KMSFS_GUARDED_BY(jobs_mu) = false;
  std::vector<std::thread> workers;

  // Answers coming back from workers.
  Mutex done_mu;
  std::vector<std::unique_ptr<Job>> done KMSFS_GUARDED_BY(done_mu);

  // Run/Stop handshake.
  Mutex run_mu;
  std::condition_variable run_cv;
  bool stop_requested KMSFS_GUARDED_BY(run_mu) = false;
  bool in_run KMSFS_GUARDED_BY(run_mu) = false;

  void Loop();
  void Wake();
  void Accept();
  void OnEvent(Conn& c, uint32_t events);
  void OnDeadline(Conn& c);
  void Handshake(Conn& c);
  void ReadRequest(Conn& c);
  void Frame(Conn& c);
  void Dispatch(Conn& c);
  void Complete(std::unique_ptr<Job> job);
  void Flush(Conn& c);
  void AfterAnswer(Conn& c);
  void Linger(Conn& c);
  void Refuse(Conn& c, int status);
  void Close(Conn& c);
  void Watch(Conn& c, uint32_t events);
  void Unwatch(Conn& c);
  void SetDeadline(Conn& c, TimePoint at);
  void ClearDeadline(Conn& c);
  void ArmListener(bool on);
  void Budget(Conn& c);
  // Reads into `c.in` (or discards); returns bytes read, 0 at end of stream,
  // -1 when nothing is available now, -2 on error.
  ssize_t ReadSome(Conn& c, bool discard);
  // Sends from `c.out`; false on error.
  bool WriteSome(Conn& c);
  void WorkerMain();
};

ConnectionGate::ConnectionGate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ConnectionGate::~ConnectionGate() { Stop(); }

int ConnectionGate::port() const { return impl_->port; }

StatusOr<std::unique_ptr<ConnectionGate>> ConnectionGate::New(const Options& options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  impl->max_connections = options.max_connections > 0 ? options.max_connections : DefaultMaxConnections();
  if (!options.tls_cert.empty()) {
    KMSFS_ASSIGN_OR_RETURN(impl->tls, MakeTlsContext(options.tls_cert, options.tls_key));
  }
  KMSFS_ASSIGN_OR_RETURN(impl->listener, Listen(options.host, options.port));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(impl->listener.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Status::FromErrno(errno, "getsockname");
  }
  std::string ip;
  AddressText(ss, &ip, &impl->port);
  impl->epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  impl->wake = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!impl->epoll.valid() || !impl->wake.valid()) return Status::FromErrno(errno, "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  if (::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, impl->wake.get(), &ev) != 0) {
    return Status::FromErrno(errno, "epoll_ctl");
  }
  return std::unique_ptr<ConnectionGate>(new ConnectionGate(std::move(impl)));
}

Status ConnectionGate::Run() {
  Impl& g = *impl_;
  {
    MutexLock lock(&g.run_mu);
    if (g.stop_requested) return Status::Ok();
    g.in_run = true;
  }
  for (int i = 0; i < std::max(1, g.options.workers); ++i) {
    g.workers.emplace_back([&g] { g.WorkerMain(); });
  }
  g.ArmListener(true);
  g.Loop();
  {
    MutexLock lock(&g.jobs_mu);
    g.workers_quit = true;
  }
  g.jobs_cv.notify_all();
  for (std::thread& t : g.workers) t.join();
  g.workers.clear();
  {
    MutexLock lock(&g.run_mu);
    g.in_run = false;
  }
  g.run_cv.notify_all();
  return Status::Ok();
}

bool ConnectionGate::Stop(std::chrono::milliseconds timeout) {
  Impl& g = *impl_;
  MutexLock lock(&g.run_mu);
  g.stop_requested = true;
  g.Wake();
  const auto deadline = timeout == std::chrono::milliseconds::max() ? TimePoint::max() : Clock::now() + timeout;
  while (g.in_run) {
    if (deadline == TimePoint::max()) {
      lock.Wait(g.run_cv);
    } else {
      if (Clock::now() >= deadline) return false;
      lock.WaitUntil(g.run_cv, deadline);
    }
  }
  return true;
}

void ConnectionGate::Impl::Wake() {
  const uint64_t one = 1;
  ssize_t n = ::write(wake.get(), &one, sizeof one);
  (void)n;  // a full counter already wakes the loop
}

void ConnectionGate::Impl::WorkerMain() {
  NameThisThread("kmsd-worker");
  for (;;) {
    std::unique_ptr<Job> job;
    {
      MutexLock lock(&jobs_mu);
      while (!workers_quit && jobs.empty()) lock.Wait(jobs_cv);
      if (jobs.empty()) return;
      job = std::move(jobs.front());
      jobs.pop_front();
    }
    handler(job->exchange);
    {
      MutexLock lock(&done_mu);
      done.push_back(std::move(job));
    }
    Wake();
  }
}

void ConnectionGate::Impl::ArmListener(bool on) {
  if (!listener.valid() || on == listener_armed) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerId;
  ::epoll_ctl(epoll.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener.get(), &ev);
  listener_armed = on;
}

void ConnectionGate::Impl::Loop() {
  NameThisThread("kmsd-gate");
  std::vector<epoll_event> events(256);
  for (;;) {
    bool stop_now = false;
    {
      MutexLock lock(&run_mu);
      stop_now = stop_requested;
    }
    if (stop_now && !stopping) {
      stopping = true;
      ArmListener(false);
      listener.Reset();
      // Connections without a request in a worker's hands have nothing to finish.
      std::vector<Conn*> idle;
      for (auto& [id, c] : conns) {
        if (c->phase == Phase::kHandshake || c->phase == Phase::kReading || c->phase == Phase::kLingering) {
          idle.push_back(c.get());
        }
      }
      for (Conn* c : idle) Close(*c);
    }
    if (stopping && conns.empty()) {
      closed.clear();
      return;
    }

    // Sleep until the next deadline (or a retry of accept after running out of descriptors).
    TimePoint next = Clock::now() + std::chrono::seconds(1);
    if (!deadlines.empty()) next = std::min(next, deadlines.begin()->first);
    if (!listener_armed && listener.valid() && listener_retry != TimePoint{}) next = std::min(next, listener_retry);
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    const int n = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()),
                               static_cast<int>(std::max<int64_t>(0, wait) + 1));
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[i].data.u64;
      if (id == kListenerId) {
        Accept();
      } else if (id == kWakeId) {
        uint64_t count = 0;
        ssize_t r = ::read(wake.get(), &count, sizeof count);
        (void)r;
        std::vector<std::unique_ptr<Job>> finished;
        {
          MutexLock lock(&done_mu);
          finished.swap(done);
        }
        for (auto& job : finished) Complete(std::move(job));
      } else if (auto it = conns.find(id); it != conns.end()) {
        OnEvent(*it->second, events[i].events);
      }
    }
    const TimePoint now = Clock::now();
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      const uint64_t id = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      if (auto it = conns.find(id); it != conns.end()) {
        it->second->has_deadline = false;
        OnDeadline(*it->second);
      }
    }
    closed.clear();  // destroys each: SSL object, socket, wiped buffers
    if (!listener_armed && listener.valid() && !stopping && conns.size() < max_connections &&
        (listener_retry == TimePoint{} || listener_retry <= now)) {
      listener_retry = TimePoint{};
      ArmListener(true);
    }
  }
}

void ConnectionGate::Impl::Accept() {
  for (;;) {
    if (conns.size() >= max_connections) {
      // Full: leave further connections in the kernel's backlog until one closes.
      ArmListener(false);
      return;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        ArmListener(false);
        listener_retry = Clock::now() + kAcceptRetry;
      }
      return;
    }
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->fd = UniqueFd(fd);
    c->framer = RequestFramer(options.framing);
    AddressText(ss, &c->peer_ip, &c->peer_port);
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
      AddressText(local, &c->local_ip, &c->local_port);
    }
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    Conn& conn = *c;
    conns.emplace(conn.id, std::move(c));
    size_t& from_peer = per_peer[PeerBucket(conn.peer_ip)];
    if (from_peer >= options.max_connections_per_peer) {
      if (tls) {
        Close(conn);
      } else {
        Refuse(conn, 429);
      }
      continue;
    }
    ++from_peer;
    conn.counted_for_peer = true;
    if (tls) {
      conn.ssl.reset(SSL_new(tls.get()));
      if (!conn.ssl || SSL_set_fd(conn.ssl.get(), fd) != 1) {
        Close(conn);
        continue;
      }
      SSL_set_accept_state(conn.ssl.get());
      conn.phase = Phase::kHandshake;
      SetDeadline(conn, Clock::now() + options.request_timeout);
      Handshake(conn);
    } else {
      conn.phase = Phase::kReading;
      SetDeadline(conn, Clock::now() + options.idle_timeout);
      Watch(conn, EPOLLIN);
    }
  }
}

void ConnectionGate::Impl::OnEvent(Conn& c, uint32_t events) {
  switch (c.phase) {
    case Phase::kHandshake:
      return Handshake(c);
    case Phase::kReading:
      if (c.out_sent < c.out.size() && !WriteSome(c)) return Close(c);
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) return ReadRequest(c);
      if (c.out_sent >= c.out.size()) Watch(c, EPOLLIN);
      return;
    case Phase::kWriting:
      return Flush(c);
    case Phase::kLingering:
      return Linger(c);
    case Phase::kHandling:
    case Phase::kClosed:
      return;
  }
}

void ConnectionGate::Impl::OnDeadline(Conn& c) {
  switch (c.phase) {
    case Phase::kReading:
      // A request begun and not finished in time is answered; an idle
      // keep-alive connection is just closed.
      if (c.framer.started() && !stopping) return Refuse(c, 408);
      return Close(c);
    case Phase::kHandling:
    case Phase::kClosed:
      return;
    default:
      return Close(c);
  }
}

void ConnectionGate::Impl::Handshake(Conn& c) {
  ERR_clear_error();
  const int r = SSL_do_handshake(c.ssl.get());
  if (r == 1) {
    c.phase = Phase::kReading;
    SetDeadline(c, Clock::now() + options.idle_timeout);
    Watch(c, EPOLLIN);
    // Application data may have come with the handshake's last flight.
    if (SSL_pending(c.ssl.get()) > 0) ReadRequest(c);
    return;
  }
  const int err = SSL_get_error(c.ssl.get(), r);
  ERR_clear_error();
  if (err == SSL_ERROR_WANT_READ) return Watch(c, EPOLLIN);
  if (err == SSL_ERROR_WANT_WRITE) return Watch(c, EPOLLOUT);
  Close(c);
}

ssize_t ConnectionGate::Impl::ReadSome(Conn& c, bool discard) {
  char scratch[kReadChunk];
  char* into = scratch;
  size_t old_size = c.in.size();
  if (!discard) {
    c.in.resize(old_size + kReadChunk);
    into = c.in.data() + old_size;
  }
  ssize_t n = 0;
  if (c.ssl) {
    size_t got = 0;
    ERR_clear_error();
    if (SSL_read_ex(c.ssl.get(), into, kReadChunk, &got) == 1) {
      n = static_cast<ssize_t>(got);
    } else {
      const int err = SSL_get_error(c.ssl.get(), 0);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        n = -1;
      } else if (err == SSL_ERROR_ZERO_RETURN) {
        n = 0;
      } else {
        n = -2;
      }
    }
  } else {
    n = ::recv(c.fd.get(), into, kReadChunk, 0);
    if (n < 0) n = (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -1 : -2;
  }
  if (discard) {
    sodium_memzero(scratch, sizeof scratch);
  } else {
    c.in.resize(old_size + static_cast<size_t>(std::max<ssize_t>(n, 0)));
  }
  return n;
}

void ConnectionGate::Impl::ReadRequest(Conn& c) {
  for (;;) {
    const ssize_t n = ReadSome(c, /*discard=*/false);
    if (n == -1) break;
    if (n <= 0) return Close(c);  // the client went away (or broke the stream)
    if (!c.framer.started()) SetDeadline(c, Clock::now() + options.request_timeout);
    Budget(c);
    if (c.phase != Phase::kReading) return;  // refused for lack of memory
    Frame(c);
    if (c.phase != Phase::kReading) return;
    if (c.ssl == nullptr && static_cast<size_t>(n) < kReadChunk) break;  // drained the socket
  }
  uint32_t want = EPOLLIN;
  if (c.out_sent < c.out.size()) want |= EPOLLOUT;
  Watch(c, want);
}

void ConnectionGate::Impl::Budget(Conn& c) {
  const size_t over = c.in.size() > kUnbudgetedBytes ? c.in.size() - kUnbudgetedBytes : 0;
  if (over > c.budgeted) {
    budget_used += over - c.budgeted;
    c.budgeted = over;
    if (budget_used > options.body_buffer_budget) {
      KMSFS_LOG(kWarning) << "request bytes from " << c.peer_ip << " exceed the buffer budget; answering 503";
      Refuse(c, 503);
    }
  }
}

void ConnectionGate::Impl::Frame(Conn& c) {
  const RequestFramer::State state = c.framer.Feed(std::string_view(c.in.data(), c.in.size()));
  if (state == RequestFramer::State::kRefused) return Refuse(c, c.framer.refusal_status());
  if (state == RequestFramer::State::kComplete) return Dispatch(c);
  if (c.framer.head_complete() && c.framer.expects_continue() && !c.continue_sent) {
    // The client waits for this before it sends the body.
    c.continue_sent = true;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    c.out.append(kContinue.data(), kContinue.size());
    if (!WriteSome(c)) Close(c);
  }
}

void ConnectionGate::Impl::Dispatch(Conn& c) {
  const RequestFramer& f = c.framer;
  auto job = std::make_unique<Job>();
  job->conn_id = c.id;
  Exchange& ex = job->exchange;
  const size_t total = f.request_bytes();
  if (f.expects_continue()) {
    // The gate answered the expectation; the handler must not answer it again.
    ex.request.assign(c.in.data(), f.expect_line_begin());
    ex.request.append(c.in.data() + f.expect_line_end(), total - f.expect_line_end());
  } else {
    ex.request.assign(c.in.data(), total);
  }
  Consume(c.in, total);
  ex.remote_ip = c.peer_ip;
  ex.remote_port = c.peer_port;
  ex.local_ip = c.local_ip;
  ex.local_port = c.local_port;
  ex.tls = c.ssl != nullptr;
  ex.close_connection = !f.keep_alive() || f.body_truncated() || stopping;
  c.close_after_write = ex.close_connection;
  c.phase = Phase::kHandling;
  ClearDeadline(c);
  Unwatch(c);
  {
    MutexLock lock(&jobs_mu);
    jobs.push_back(std::move(job));
  }
  jobs_cv.notify_one();
}

void ConnectionGate::Impl::Complete(std::unique_ptr<Job> job) {
  auto it = conns.find(job->conn_id);
  if (it == conns.end()) return;
  Conn& c = *it->second;
  // The request's bytes are gone with the job; give back their budget
  // (pipelined bytes still in `in` count again at the next read).
  budget_used -= std::min(budget_used, c.budgeted);
  c.budgeted = 0;
  if (c.phase != Phase::kHandling) return;
  Consume(c.out, c.out_sent);
  c.out_sent = 0;
  c.out.append(job->exchange.response.data(), job->exchange.response.size());
  c.close_after_write = c.close_after_write || job->exchange.close_after || stopping;
  c.phase = Phase::kWriting;
  SetDeadline(c, Clock::now() + options.write_timeout);
  Flush(c);
}

void ConnectionGate::Impl::Flush(Conn& c) {
  if (!WriteSome(c)) return Close(c);
  if (c.out_sent < c.out.size()) return Watch(c, EPOLLOUT);
  Discard(c.out);
  c.out_sent = 0;
  AfterAnswer(c);
}

void ConnectionGate::Impl::AfterAnswer(Conn& c) {
  if (stopping) return Close(c);
  if (c.close_after_write) {
    // Stop sending, keep reading for a while so the answer is read, not reset.
    if (c.ssl) {
      ERR_clear_error();
      SSL_shutdown(c.ssl.get());
      ERR_clear_error();
    }
    ::shutdown(c.fd.get(), SHUT_WR);
    c.phase = Phase::kLingering;
    budget_used -= std::min(budget_used, c.budgeted);
    c.budgeted = 0;
    Discard(c.in);
    SetDeadline(c, Clock::now() + options.linger);
    Watch(c, EPOLLIN);
    return Linger(c);
  }
  c.framer.Reset();
  c.continue_sent = false;
  c.phase = Phase::kReading;
  SetDeadline(c, Clock::now() + options.idle_timeout);
  if (!c.in.empty()) {
    // The client sent its next request already.
    SetDeadline(c, Clock::now() + options.request_timeout);
    Frame(c);
    if (c.phase != Phase::kReading) return;
  }
  Watch(c, EPOLLIN);
  if (c.ssl && SSL_pending(c.ssl.get()) > 0) ReadRequest(c);
}

void ConnectionGate::Impl::Linger(Conn& c) {
  for (;;) {
    const ssize_t n = ReadSome(c, /*discard=*/true);
    if (n == -1) return;
    if (n <= 0) return Close(c);
    c.discarded += static_cast<size_t>(n);
    if (c.discarded > kLingerDiscardMax) return Close(c);
  }
}

void ConnectionGate::Impl::Refuse(Conn& c, int status) {
  Consume(c.out, c.out_sent);
  c.out_sent = 0;
  const SecureString answer = GateAnswer(status);
  c.out.append(answer.data(), answer.size());
  c.close_after_write = true;
  c.phase = Phase::kWriting;
  budget_used -= std::min(budget_used, c.budgeted);
  c.budgeted = 0;
  Discard(c.in);
  SetDeadline(c, Clock::now() + options.write_timeout);
  Flush(c);
}

bool ConnectionGate::Impl::WriteSome(Conn& c) {
  while (c.out_sent < c.out.size()) {
    const char* from = c.out.data() + c.out_sent;
    const size_t left = c.out.size() - c.out_sent;
    if (c.ssl) {
      size_t wrote = 0;
      ERR_clear_error();
      if (SSL_write_ex(c.ssl.get(), from, left, &wrote) == 1) {
        c.out_sent += wrote;
        continue;
      }
      const int err = SSL_get_error(c.ssl.get(), 0);
      ERR_clear_error();
      return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ;
    }
    const ssize_t n = ::send(c.fd.get(), from, left, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.out_sent += static_cast<size_t>(n);
  }
  return true;
}

void ConnectionGate::Impl::Watch(Conn& c, uint32_t events) {
  if (c.registered && c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll.get(), c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd.get(), &ev);
  c.registered = true;
  c.events = events;
}

void ConnectionGate::Impl::Unwatch(Conn& c) {
  if (!c.registered) return;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  c.registered = false;
  c.events = 0;
}

void ConnectionGate::Impl::SetDeadline(Conn& c, TimePoint at) {
  ClearDeadline(c);
  c.deadline = at;
  c.has_deadline = true;
  deadlines.emplace(at, c.id);
}

void ConnectionGate::Impl::ClearDeadline(Conn& c) {
  if (!c.has_deadline) return;
  deadlines.erase({c.deadline, c.id});
  c.has_deadline = false;
}

void ConnectionGate::Impl::Close(Conn& c) {
  if (c.phase == Phase::kClosed) return;
  if (c.phase == Phase::kHandling) {
    // A worker holds the request: close once its answer comes back.
    c.close_after_write = true;
    return;
  }
  ClearDeadline(c);
  Unwatch(c);
  budget_used -= std::min(budget_used, c.budgeted);
  if (c.counted_for_peer) {
    auto it = per_peer.find(PeerBucket(c.peer_ip));
    if (it != per_peer.end() && --it->second == 0) per_peer.erase(it);
  }
  c.phase = Phase::kClosed;
  auto it = conns.find(c.id);
  if (it == conns.end()) return;
  closed.push_back(std::move(it->second));
  conns.erase(it);
}

}  // namespace kmsfs::kms::server
