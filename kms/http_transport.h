// HttpTransport: one HTTP exchange at a time per libcurl easy handle, many in
// parallel through a small pool of handles.
//
// Each handle keeps its connections alive between requests, so a steady
// stream of KMS calls costs no TCP or TLS handshakes. TLS peer and host name
// verification are on unless explicitly disabled; a CA file can replace the
// system store. Every request has a connect timeout and a total timeout. No
// signals are used (CURLOPT_NOSIGNAL), so it is safe in multi-threaded
// daemons. Redirects are not followed; only http and https are spoken.
//
// Bodies are never logged. Response bodies are received into SecureString,
// so bodies that carry a DEK are wiped when the response is destroyed;
// request bodies are borrowed (string_view) and the caller owns their wiping.
// Request headers (X-Auth-Token) and the X-Subject-Token of an answer live in
// SecureString too. Copies libcurl makes are wiped as well: every block libcurl
// allocates is zeroed before it is freed (curl_global_init_mem), the bytes of
// each answer are zeroed in libcurl's receive buffer once taken, and OpenSSL
// cleanses decrypted TLS records once read (SSL_OP_CLEANSE_PLAINTEXT).
//
// Thread-safety: Send() may be called from any number of threads at once.
#ifndef KMSFS_KMS_HTTP_TRANSPORT_H_
#define KMSFS_KMS_HTTP_TRANSPORT_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/base/status.h"
#include "kms/secure_string.h"

namespace kmsfs::kms {

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  std::string ca_file;                   // empty: system CA store
  bool insecure_skip_tls_verify = false;
  size_t max_idle_handles = 32;          // handles (and their connections) kept for reuse
  size_t max_response_bytes = 4 << 20;   // larger answers fail the request
};

struct HttpRequest {
  std::string method = "POST";   // "POST" or "GET"
  std::string url;
  // Extra header lines, "Name: value"; wiped when freed (they carry the token).
  std::vector<SecureString> headers;
  std::string_view body;         // sent as is for POST; caller keeps it alive
};

struct HttpResponse {
  int status = 0;
  SecureString body;
  SecureString subject_token;  // X-Subject-Token, IAM login
  std::string request_id;     // X-Request-Id
  int64_t retry_after_seconds = -1;  // Retry-After in seconds; -1 when absent
};

class HttpTransport {
 public:
  // Initialises libcurl once per process (thread-safe).
  static StatusOr<std::unique_ptr<HttpTransport>> New(TransportOptions options);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Performs one exchange. Any HTTP status is a successful exchange; network
  // failures (refused, DNS, TLS, timeout, reset, oversized answer) are
  // kUnavailable with curl's description, e.g. "Couldn't connect to server".
  StatusOr<HttpResponse> Send(const HttpRequest& request);

  const TransportOptions& options() const { return options_; }

 private:
  struct CurlDeleter {
    void operator()(void* handle) const;
  };
  using CurlHandle = std::unique_ptr<void, CurlDeleter>;

  explicit HttpTransport(TransportOptions options) : options_(std::move(options)) {}
  CurlHandle Acquire();
  void Release(CurlHandle handle);

  const TransportOptions options_;
  std::mutex mu_;
  std::vector<CurlHandle> idle_;  // guarded by mu_
};

// "host:port" (or "host") of an http(s) URL, for messages; the URL itself if it has no "://".
std::string UrlHostPort(std::string_view url);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_HTTP_TRANSPORT_H_
