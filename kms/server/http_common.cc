#include "kms/server/http_common.h"

#include <sodium.h>

#include <cstdlib>
#include <optional>

#include "base/hex.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"

namespace kmsfs::kms::server {
namespace {

constexpr const char* kJsonType = "application/json;charset=UTF-8";

std::string_view KeystoneTitle(int http) {
  switch (http) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    default: return "Internal Server Error";
  }
}

// Content-Length as a number; nullopt when absent or not a plain decimal.
std::optional<uint64_t> ContentLength(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  const std::string cl = req.get_header_value("Content-Length");
  if (cl.empty() || cl.size() > 19 || cl.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::strtoull(cl.c_str(), nullptr, 10);
}

bool IsHostText(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string NewRequestId() { return HexEncode(crypto::RandomVector(16)); }

void SendJson(httplib::Response& res, int status, const Json& body, const std::string& request_id) {
  res.status = status;
  res.set_header("X-Request-Id", request_id);
  auto text = std::make_shared<SecureString>(DumpJson(body));
  const size_t size = text->size();
  res.set_content_provider(size, kJsonType, [text](size_t offset, size_t length, httplib::DataSink& sink) {
    // httplib passes a Range header's offsets through unchecked: never read
    // past the answer (the bytes beyond it are heap memory).
    if (offset >= text->size() || length > text->size() - offset) return false;
    return sink.write(text->data() + offset, length);
  });
}

void SendKmsError(httplib::Response& res, const Status& st, const std::string& request_id) {
  Json body = ErrorBody(st);
  if (ErrorCodeFor(st).rfind("APIGW.", 0) == 0) {
    // The API gateway answers in its own, flat shape.
    body = Json{{"error_code", ErrorCodeFor(st)}, {"error_msg", st.message()}, {"request_id", request_id}};
  }
  SendJson(res, HttpStatusFor(st), body, request_id);
}

void SendKeystoneError(httplib::Response& res, int http, const std::string& message, const std::string& request_id) {
  if (http == 401) res.set_header("WWW-Authenticate", "Keystone uri=\"/v3\"");
  SendJson(res, http, {{"error", {{"code", http}, {"title", KeystoneTitle(http)}, {"message", message}}}}, request_id);
}

int KeystoneStatus(const Status& st) {
  if (ApiHttpStatus(st) != 0) return ApiHttpStatus(st);
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 429;
    default: return 500;
  }
}

bool ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, size_t max, SecureString* body,
              bool* too_large) {
  *too_large = false;
  const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  if (!req.has_header("Content-Length") && !chunked) return true;  // no body
  const std::optional<uint64_t> length = ContentLength(req);
  if (req.has_header("Content-Length") && !length) return false;
  if (length && *length <= max) body->reserve(static_cast<size_t>(*length));
  auto receive = [&](const char* data, size_t n) {
    const bool fits = body->size() + n <= max;
    if (fits) body->append(data, n);
    // `data` points into a buffer of httplib's that outlives this call.
    sodium_memzero(const_cast<char*>(data), n);
    if (!fits) *too_large = true;
    return fits;
  };
  bool ok = false;
  try {
    if (req.is_multipart_form_data()) {
      // Not an API format, but drain it so the connection stays in sync.
      ok = reader([](const httplib::MultipartFormData&) { return true; }, receive);
    } else {
      ok = reader(receive);
    }
  } catch (...) {
    ok = false;
  }
  if (!ok && length && *length > max) *too_large = true;
  return ok;
}

crypto::sdk_hmac::Request SignedView(const httplib::Request& req, std::string_view body) {
  crypto::sdk_hmac::Request view;
  view.method = req.method;
  const size_t q = req.target.find('?');
  view.path = req.target.substr(0, q);
  if (q != std::string::npos) view.query = crypto::sdk_hmac::ParseQuery(std::string_view(req.target).substr(q + 1));
  for (const auto& [name, value] : req.headers) {
    // httplib adds these itself; no client can have signed them.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" || name == "LOCAL_PORT") continue;
    view.headers.emplace_back(name, value);
  }
  view.body = body;
  return view;
}

bool IsSigned(const httplib::Request& req) {
  return req.get_header_value("Authorization").rfind(crypto::sdk_hmac::kAlgorithm, 0) == 0;
}

StatusOr<Caller> Authenticator::Authenticate(const httplib::Request& req, std::string_view body) const {
  if (IsSigned(req)) {
    const std::string authorization = req.get_header_value("Authorization");
    KMSFS_ASSIGN_OR_RETURN(AccessKeyRecord key, access_keys_->Authenticate(SignedView(req, body), authorization));
    auto caller = identity_->CallerForUser(key.user_id);
    if (!caller.ok()) {
      if (caller.status().code() == StatusCode::kNotFound) return GatewayAuthError("ak not exist");
      return caller.status();
    }
    caller->access_key = key.access;
    return caller;
  }
  return identity_->Authenticate(req.get_header_value("X-Auth-Token"));
}

std::string BaseUrl(const httplib::Request& req, bool tls) {
  std::string host = req.get_header_value("Host");
  if (!IsHostText(host)) {
    host = req.local_addr.find(':') != std::string::npos ? "[" + req.local_addr + "]" : req.local_addr;
    host += ":" + std::to_string(req.local_port);
  }
  return std::string(tls ? "https://" : "http://") + host;
}

}  // namespace kmsfs::kms::server
