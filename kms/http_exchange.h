// HttpExchange: one HTTP request and its answer on a libcurl easy handle,
// set up for the event loop (HttpTransport) to drive.
//
// TLS peer and host name verification are on unless explicitly disabled; a
// CA file can replace the system store. Every exchange has a connect timeout
// and a total timeout. No signals are used (CURLOPT_NOSIGNAL). Redirects are
// not followed; only http and https are spoken. Headers are sent as the
// request lists them (kms/request_headers.h builds them); only libcurl's own
// "Expect: 100-continue" is switched off.
//
// Bodies are never logged. Response bodies are received into SecureString,
// so bodies that carry a DEK are wiped when the response is destroyed;
// request bodies are borrowed (string_view) and the caller owns their wiping.
// Request headers (X-Auth-Token) and the X-Subject-Token of an answer live in
// SecureString too. Copies libcurl makes are wiped as well: every block libcurl
// allocates is zeroed before it is freed (InitLibcurl), the bytes of each
// answer are zeroed in libcurl's receive buffer once taken, and OpenSSL
// cleanses decrypted TLS records once read (SSL_OP_CLEANSE_PLAINTEXT).
//
// Thread-safety: an exchange belongs to the thread that drives its handle.
#ifndef KMSFS_KMS_HTTP_EXCHANGE_H_
#define KMSFS_KMS_HTTP_EXCHANGE_H_

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/secure_string.h"

namespace kmsfs::kms {

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // the whole exchange, connect included
  std::string ca_file;                   // empty: system CA store
  bool insecure_skip_tls_verify = false;
  size_t max_connections = 256;          // Default: 256 open connections at most (kept alive for reuse)
  size_t max_response_bytes = 4 << 20;   // larger answers fail the request
};

struct HttpRequest {
  std::string method = "POST";   // "POST" or "GET"
  std::string url;
  // Header lines, "Name: value"; wiped when freed (they carry the token).
  std::vector<SecureString> headers;
  std::string_view body;         // sent as is for POST; the caller keeps it alive
};

struct HttpResponse {
  int status = 0;
  SecureString body;
  SecureString subject_token;  // X-Subject-Token, IAM login
  std::string request_id;     // X-Request-Id
  int64_t retry_after_seconds = -1;  // Retry-After in seconds; -1 when absent
};

// Initialises libcurl once per process (thread-safe), with an allocator that
// zeroes every block before freeing it.
Status InitLibcurl();

class HttpExchange {
 public:
  // Resets `easy` and sets it up to send `request`, which (with its body)
  // must outlive the exchange; so must `options`.
  static StatusOr<std::unique_ptr<HttpExchange>> New(CURL* easy, const HttpRequest& request,
                                                     const TransportOptions& options);
  // Detaches its buffers from the handle.
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  CURL* easy() const { return easy_; }
  // The answer once libcurl has finished the transfer with `code`. Any HTTP
  // status is a successful exchange; network failures (refused, DNS, TLS,
  // timeout, reset, oversized answer) are kUnavailable with curl's
  // description, e.g. "Couldn't connect to server".
  StatusOr<HttpResponse> Finish(CURLcode code);

 private:
  struct SlistDeleter {
    void operator()(curl_slist* list) const;
  };
  HttpExchange(CURL* easy, size_t max_response_bytes) : easy_(easy), max_bytes_(max_response_bytes) {}
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static size_t OnBody(char* data, size_t size, size_t count, void* self);

  CURL* const easy_;
  const size_t max_bytes_;
  std::unique_ptr<curl_slist, SlistDeleter> headers_;
  HttpResponse response_;
  bool too_large_ = false;
  char errbuf_[CURL_ERROR_SIZE] = {0};
};

// "host:port" (or "host") of an http(s) URL, for messages; the URL itself if it has no "://".
std::string UrlHostPort(std::string_view url);

}  // namespace kmsfs::kms

#endif  // KMSFS_KMS_HTTP_EXCHANGE_H_
