// ConnectionGate: kmsd's network front end, so that no client can hold a
// server thread, or grow kmsd's memory without bound, by sending slowly or
// sending much.
//
// One event-loop thread (epoll) accepts connections, performs TLS handshakes,
// reads and frames requests (RequestFramer: header count and size limits,
// body limit) and writes answers. Only a complete request is handed to a
// worker thread, which runs the handler on the request's bytes in memory and
// hands the answer's bytes back; workers never wait on a socket. Answered by
// the gate itself, each followed by closing the connection:
//   400/414/431  a request the framer refuses (as it arrives, not at its end)
//   408          a request not complete within request_timeout of its first byte
//   429          a connection beyond max_connections_per_peer from one address
//   503          more request bytes buffered than body_buffer_budget allows
// A keep-alive connection with no request for idle_timeout, or a TLS
// handshake not done within request_timeout, is closed silently. Answers the
// client does not read within write_timeout are dropped with the connection.
// After an answer that closes the connection the gate stops sending, reads and
// discards what the client still sends for a short while ("lingering close"),
// so that the client reads the answer instead of a connection reset.
//
// Request and answer bytes live in wiping buffers (SecureString): they carry
// DEKs and passwords. TLS connections clear decrypted records after use
// (SSL_OP_CLEANSE_PLAINTEXT).
//
// Thread-safety: Run() on one thread; Stop() from any thread. The handler is
// called concurrently from the worker threads.
#ifndef KMSFS_KMS_SERVER_CONNECTION_GATE_H_
#define KMSFS_KMS_SERVER_CONNECTION_GATE_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/secure_string.h"
#include "kms/server/request_framer.h"

namespace kmsfs::kms::server {

// The client a peer address counts as, for per-client limits (connections,
// login throttling): every loopback address (all of 127.0.0.0/8 and ::1) is
// one client, since any local user may bind any of them; an IPv6 address
// counts by its /64, which one host usually holds whole; IPv4 as it is.
std::string PeerBucket(const std::string& ip);

// One framed request, handed to the handler on a worker thread.
struct Exchange {
  SecureString request;  // request line, headers and body, exactly as framed
  std::string remote_ip;
  int remote_port = 0;
  std::string local_ip;
  int local_port = 0;
  bool tls = false;
  // The gate closes the connection after this answer (the client asked, or
  // the body was cut at the limit); the answer should say "Connection: close".
  bool close_connection = false;
  // Filled in by the handler.
  SecureString response;      // status line, headers and body
  bool close_after = false;   // close the connection after the answer
};

class ConnectionGate {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                  // 0: any free port
    std::string tls_cert;          // both set: TLS on every connection
    std::string tls_key;
    int workers = 256;
    FramingLimits framing;
    std::chrono::milliseconds request_timeout{10000};  // first byte of a request to its last
    std::chrono::milliseconds idle_timeout{5000};      // kept-alive connection without a request
    std::chrono::milliseconds write_timeout{10000};    // an answer to be taken by the client
    std::chrono::milliseconds linger{2000};            // reading on after a closing answer
    size_t max_connections_per_peer = 1024;
    size_t max_connections = 0;                        // 0: what RLIMIT_NOFILE allows
    size_t body_buffer_budget = 64u << 20;             // request bytes buffered in all connections
  };
  using Handler = std::function<void(Exchange&)>;

  // Binds the listening socket (kUnavailable if it cannot) and loads the TLS
  // files (kInvalidArgument if they are not a usable PEM pair).
  static StatusOr<std::unique_ptr<ConnectionGate>> New(const Options& options, Handler handler);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  int port() const;
  // Serves until Stop(); returns once the loop and the workers are done.
  // Returns at once if Stop() came first.
  Status Run();
  // Closes the listener and idle connections; requests being handled are
  // answered. Waits for Run() to return, at most `timeout`; returns whether
  // it has.
  bool Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

 private:
  struct Impl;
  explicit ConnectionGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_CONNECTION_GATE_H_
