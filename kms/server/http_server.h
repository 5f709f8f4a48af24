// HttpServer: kmsd's HTTP(S) front end (cpp-httplib).
//
// Routes (docs/KMSD.md "The API it serves"):
//   POST /v1.0/{project_id}/kms/{action}   KMS API (Service), spec §1.8 order:
//        unknown action 400 KMS.0201 (other methods 405 KMS.0215) ->
//        authentication (X-Auth-Token: 403 KMS.0301/0302/0303; AK/SK
//        signature: 401 APIGW.0301) -> project 403 KMS.0321 (a
//        domain-scoped token KMS.0305) -> body > 1 MiB 400 KMS.0203 -> the
//        action's own checks
//   GET  /v1.0/{project_id}/kms/user-quotas, user-instances: the same path
//        with no body (POST to them 405 KMS.0215)
//   KMS APIs of the SDK that kmsd lacks    404 APIGW.0101, as the cloud's gateway
//   GET / and GET /v1.0                    the KMS API version documents
//   the IAM routes of iam_routes.h (/v3, /v3.0/OS-CREDENTIAL)
//   GET  /health                           200
//   anything else                          404 KMS.0201
// Every answer is JSON with an X-Request-Id header (32 hex). Nothing thrown
// below reaches the client as a crash: failures become JSON errors.
//
// Connections are served by a ConnectionGate (its limits and deadlines are
// the Options below); httplib parses and routes each complete request in
// memory on a worker thread. Answer bodies are handed to httplib as content
// providers over wiping buffers, so no copy of a DEK stays in httplib's
// Response, and a worker clears the stack it used after each request.
//
// Thread-safety: Run() blocks on one thread; Stop() may be called from any
// thread, before or during Run().
#ifndef KMSFS_KMS_SERVER_HTTP_SERVER_H_
#define KMSFS_KMS_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/status.h"
#include "kms/server/access_keys.h"
#include "kms/server/audit_log.h"
#include "kms/server/identity.h"
#include "kms/server/service.h"

namespace kmsfs::kms::server {

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                         // 0: any free port
    std::string tls_cert;                 // both set: HTTPS
    std::string tls_key;
    int latency_ms = 0;                   // added to every KMS action
    // Worker threads: one per live keep-alive connection. A mount keeps up to
    // 128 DEK-pool wraps and 16 key prefetches in flight against a slow KMS.
    int threads = 256;
    size_t max_body_bytes = 1 << 20;      // larger bodies: 400 KMS.0203
    // A request must be complete this long after its first byte (else 408).
    std::chrono::milliseconds request_timeout{10000};
    size_t max_connections_per_peer = 1024;  // more from one address: 429
    std::string region = "local";             // of the endpoints in token catalogs
    // Where every KMS call is recorded before it is answered (a call whose
    // line cannot be written is answered 500 KMS.0103); null: nowhere.
    // Not owned; outlives the server.
    AuditLog* audit_log = nullptr;
  };

  // Sets up routes and binds the listening socket (kUnavailable if it cannot).
  static StatusOr<std::unique_ptr<HttpServer>> New(const Options& options, Service* service, Identity* identity,
                                                   AccessKeys* access_keys);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  // Serves until Stop(). Returns at once if Stop() came first.
  Status Run();
  // Closes the listener and idle connections and waits until Run() has
  // returned (if it is running), at most `timeout`: requests being handled
  // are answered first. Returns whether Run() is no longer running.
  bool Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_HTTP_SERVER_H_
