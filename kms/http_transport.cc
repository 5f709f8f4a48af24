#include "kms/http_transport.h"

#include <curl/curl.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <strings.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "fs/base/secret_bytes.h"

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

CURLcode GlobalInit() {
  static const CURLcode code = [] {
    EnsureSodiumInitialized();
    return curl_global_init_mem(CURL_GLOBAL_DEFAULT, &WipingMalloc, &WipingFree, &WipingRealloc, &WipingStrdup,
                                &WipingCalloc);
  }();
  return code;
}

// New TLS connections cleanse each decrypted record once it has been read.
CURLcode OnSslContext(CURL*, void* ssl_ctx, void*) {
  SSL_CTX_set_options(static_cast<SSL_CTX*>(ssl_ctx), SSL_OP_CLEANSE_PLAINTEXT);
  return CURLE_OK;
}

// Zeroes every header string before libcurl frees the list.
struct SlistDeleter {
  void operator()(curl_slist* list) const {
    for (curl_slist* node = list; node != nullptr; node = node->next) {
      if (node->data != nullptr) sodium_memzero(node->data, std::strlen(node->data));
    }
    curl_slist_free_all(list);
  }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct Exchange {
  HttpResponse* response;
  size_t max_bytes;
  bool too_large = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool HeaderNameIs(std::string_view name, const char* want) {
  return name.size() == std::strlen(want) && ::strncasecmp(name.data(), want, name.size()) == 0;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (e.g. after 100 Continue): start over
    ex->response->subject_token.clear();
    ex->response->request_id.clear();
    ex->response->retry_after_seconds = -1;
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = Trim(line.substr(colon + 1));
  if (HeaderNameIs(name, "X-Subject-Token")) {
    ex->response->subject_token.assign(value.data(), value.size());
    sodium_memzero(data, n);  // libcurl's header buffer; it is done with the line
  } else if (HeaderNameIs(name, "X-Request-Id")) {
    ex->response->request_id.assign(value);
  } else if (HeaderNameIs(name, "Retry-After")) {
    int64_t seconds = -1;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc() && ptr == value.data() + value.size() && seconds >= 0) {
      ex->response->retry_after_seconds = seconds;
    }
  } else if (HeaderNameIs(name, "Content-Length")) {
    size_t length = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
    // Reserving up front avoids reallocations (each of which would leave a copy behind).
    if (ec == std::errc() && length <= ex->max_bytes) ex->response->body.reserve(length);
  }
  return n;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  if (ex->response->body.size() + n > ex->max_bytes) {
    ex->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  ex->response->body.append(data, n);
  // libcurl has no further use for bytes it has handed over; zeroing them
  // keeps a data key from sitting in its receive buffer until the next answer.
  sodium_memzero(data, n);
  return n;
}

}  // namespace

void HttpTransport::CurlDeleter::operator()(void* handle) const { curl_easy_cleanup(static_cast<CURL*>(handle)); }

std::string UrlHostPort(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);  // drop userinfo
  return std::string(rest);
}

StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::New(TransportOptions options) {
  if (CURLcode code = GlobalInit(); code != CURLE_OK) {
    return Status::Internal(std::string("libcurl initialisation failed: ") + curl_easy_strerror(code));
  }
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(options)));
}

HttpTransport::~HttpTransport() = default;

HttpTransport::CurlHandle HttpTransport::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      CurlHandle h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  return CurlHandle(curl_easy_init());
}

void HttpTransport::Release(CurlHandle handle) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < options_.max_idle_handles) idle_.push_back(std::move(handle));
  // else: destroyed here, closing its connections.
}

StatusOr<HttpResponse> HttpTransport::Send(const HttpRequest& request) {
  CurlHandle handle = Acquire();
  if (!handle) return Status::Internal("libcurl: cannot create a handle");
  CURL* curl = static_cast<CURL*>(handle.get());
  // Reset drops the previous request's options but keeps live connections.
  curl_easy_reset(curl);

  HttpResponse response;
  Exchange ex{&response, options_.max_response_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};

  Slist headers;
  auto add_header = [&](const char* line) {
    curl_slist* next = curl_slist_append(headers.get(), line);
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
    return next != nullptr;
  };
  bool headers_ok = add_header("Accept: application/json") && add_header("Expect:");
  if (request.method == "POST") headers_ok = headers_ok && add_header("Content-Type: application/json");
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
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "kmsfs/0.1");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);
  if (options_.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &OnSslContext);
  if (request.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  const CURLcode code = curl_easy_perform(curl);
  // The handle must not point at this frame's buffers once we return.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
  if (code != CURLE_OK) {
    std::string what = ex.too_large ? "answer larger than " + std::to_string(options_.max_response_bytes) + " bytes"
                                    : (errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code));
    Release(std::move(handle));
    return Status::Unavailable(what);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  Release(std::move(handle));
  return response;
}

}  // namespace kmsfs::kms
