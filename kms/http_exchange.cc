#include "kms/http_exchange.h"

#include <malloc.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <strings.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "base/secret_bytes.h"

namespace kmsfs::kms {
namespace {

// libcurl's allocator: every block is zeroed before it goes back to malloc,
// so the copies libcurl makes of request headers (the token), of small POST
// bodies (an encrypt-datakey request carries a DEK) and of received data do
// not linger in freed heap memory.
void WipingFree(void* p) {
  if (p == nullptr) return;
  sodium_memzero(p, malloc_usable_size(p));
  std::free(p);
}
void* WipingMalloc(size_t size) { return std::malloc(size); }
void* WipingCalloc(size_t count, size_t size) { return std::calloc(count, size); }
void* WipingRealloc(void* p, size_t size) {
  if (p == nullptr) return std::malloc(size);
  if (size == 0) {
    WipingFree(p);
    return nullptr;
  }
  const size_t old = malloc_usable_size(p);
  if (size <= old) return p;
  // Never let realloc move the block: the old one would be freed unwiped.
  void* q = std::malloc(size);
  if (q == nullptr) return nullptr;
  std::memcpy(q, p, old);
  WipingFree(p);
  return q;
}
char* WipingStrdup(const char* s) {
  const size_t n = std::strlen(s) + 1;
  auto* q = static_cast<char*>(std::malloc(n));
  if (q != nullptr) std::memcpy(q, s, n);
  return q;
}

// New TLS connections cleanse each decrypted record once it has been read.
CURLcode OnSslContext(CURL*, void* ssl_ctx, void*) {
  SSL_CTX_set_options(static_cast<SSL_CTX*>(ssl_ctx), SSL_OP_CLEANSE_PLAINTEXT);
  return CURLE_OK;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool HeaderNameIs(std::string_view name, const char* want) {
  return name.size() == std::strlen(want) && ::strncasecmp(name.data(), want, name.size()) == 0;
}

}  // namespace

Status InitLibcurl() {
  static const CURLcode code = [] {
    EnsureSodiumInitialized();
    return curl_global_init_mem(CURL_GLOBAL_DEFAULT, &WipingMalloc, &WipingFree, &WipingRealloc, &WipingStrdup,
                                &WipingCalloc);
  }();
  if (code != CURLE_OK) return Status::Internal(std::string("libcurl initialisation failed: ") + curl_easy_strerror(code));
  return Status::Ok();
}

// Zeroes every header string before libcurl frees the list.
void HttpExchange::SlistDeleter::operator()(curl_slist* list) const {
  for (curl_slist* node = list; node != nullptr; node = node->next) {
    if (node->data != nullptr) sodium_memzero(node->data, std::strlen(node->data));
  }
  curl_slist_free_all(list);
}

std::string UrlHostPort(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);  // drop userinfo
  return std::string(rest);
}

size_t HttpExchange::OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<HttpExchange*>(user);
  HttpResponse& response = ex->response_;
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (e.g. after 100 Continue): start over
    response.subject_token.clear();
    response.request_id.clear();
    response.retry_after_seconds = -1;
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = Trim(line.substr(colon + 1));
  if (HeaderNameIs(name, "X-Subject-Token")) {
    response.subject_token.assign(value.data(), value.size());
    sodium_memzero(data, n);  // libcurl's header buffer; it is done with the line
  } else if (HeaderNameIs(name, "X-Request-Id")) {
    response.request_id.assign(value);
  } else if (HeaderNameIs(name, "Retry-After")) {
    int64_t seconds = -1;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && ptr == value.data() + value.size() && seconds >= 0) {
      response.retry_after_seconds = seconds;
    }
  } else if (HeaderNameIs(name, "Content-Length")) {
    size_t length = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    // Reserving up front avoids reallocations (each of which would leave a copy behind).
    if (ec == std::errc() && length <= ex->max_bytes_) response.body.reserve(length);
  }
  return n;
}

size_t HttpExchange::OnBody(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<HttpExchange*>(user);
  const size_t n = size * count;
  if (ex->response_.body.size() + n > ex->max_bytes_) {
    ex->too_large_ = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  ex->response_.body.append(data, n);
  // libcurl has no further use for bytes it has handed over; zeroing them
  // keeps a data key from sitting in its receive buffer until the next answer.
  sodium_memzero(data, n);
  return n;
}

StatusOr<std::unique_ptr<HttpExchange>> HttpExchange::New(CURL* curl, const HttpRequest& request,
                                                          const TransportOptions& options) {
  // Reset drops the previous request's options; connections stay with the multi handle.
  curl_easy_reset(curl);
  std::unique_ptr<HttpExchange> ex(new HttpExchange(curl, options.max_response_bytes));

  auto add_header = [&](const char* line) {
    curl_slist* next = curl_slist_append(ex->headers_.get(), line);
    if (next != nullptr) {
      (void)ex->headers_.release();
      ex->headers_.reset(next);
    }
    return next != nullptr;
  };
  // libcurl would otherwise hold back larger bodies for a 100 Continue.
  bool headers_ok = add_header("Expect:");
  for (const SecureString& h : request.headers) headers_ok = headers_ok && add_header(h.c_str());
  if (!headers_ok) return Status::Internal("libcurl: out of memory building headers");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // Plain HTTP is allowed only to loopback (ConnectionConfig refuses the
  // rest): it must stay on this machine, never go through a proxy named by
  // http_proxy and friends, which would see passwords, tokens and keys.
  if (request.url.rfind("http://", 0) == 0) curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "kmsfs/0.1");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, ex->errbuf_);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, ex->headers_.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &HttpExchange::OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, ex.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &HttpExchange::OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, ex.get());
  curl_easy_setopt(curl, CURLOPT_PRIVATE, ex.get());
  if (options.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &OnSslContext);
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  return ex;
}

HttpExchange::~HttpExchange() {
  // The handle goes back to a pool: it must not point at this object's buffers.
  curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(easy_, CURLOPT_PRIVATE, nullptr);
}

StatusOr<HttpResponse> HttpExchange::Finish(CURLcode code) {
  if (code != CURLE_OK) {
    return Status::Unavailable(too_large_ ? "answer larger than " + std::to_string(max_bytes_) + " bytes"
                                          : (errbuf_[0] != '\0' ? std::string(errbuf_) : curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  response_.status = static_cast<int>(status);
  return std::move(response_);
}

}  // namespace kmsfs::kms
