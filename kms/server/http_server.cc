#include "kms/server/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "fs/base/hex.h"
#include "fs/base/logging.h"
#include "kms/server/api_error.h"
#include "kms/server/connection_gate.h"
#include "kms/server/crypto_util.h"
#include "kms/server/json.h"

namespace kmsfs::kms::server {
namespace {

constexpr const char* kJson = "application/json;charset=UTF-8";
constexpr size_t kStackToClear = 64 * 1024;

std::string RequestId() { return HexEncode(RandomVector(16)); }

// httplib's request processing, run on a request the gate has framed.
class Router : public httplib::Server {
 public:
  Router() {
    // httplib stops writing content-provider bodies once its listening
    // socket is closed; this router has none of its own, so it holds a
    // descriptor of /dev/null in its place for as long as it serves.
    svr_sock_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  ~Router() override {
    const int fd = svr_sock_.exchange(INVALID_SOCKET);
    if (fd != INVALID_SOCKET) ::close(fd);
  }
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Parses, routes and answers the request in `strm`; false when httplib
  // could not answer it (the connection should close).
  bool Process(httplib::Stream& strm, bool close_connection, bool* connection_closed) {
    return process_request(strm, close_connection, *connection_closed, nullptr);
  }
};

// A request held in memory, and a buffer its answer is written to.
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(Exchange& ex) : ex_(ex) {}

  bool is_readable() const override { return read_ < ex_.request.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, ex_.request.size() - read_);
    std::memcpy(ptr, ex_.request.data() + read_, n);
    read_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    ex_.response.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = ex_.remote_ip;
    port = ex_.remote_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = ex_.local_ip;
    port = ex_.local_port;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

 private:
  Exchange& ex_;
  size_t read_ = 0;
};

// Clears the stack below the caller, where httplib's read buffers and the
// JSON parser and serializer left copies of the request and the answer.
[[gnu::noinline]] void ClearStackBelow() {
  unsigned char stack[kStackToClear];
  sodium_memzero(stack, sizeof stack);
  __asm__ __volatile__("" : : "r"(stack) : "memory");
}

// The answer body in a wiping buffer that httplib reads through a content
// provider: httplib never holds a copy of it in its Response.
void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_header("X-Request-Id", RequestId());
  auto text = std::make_shared<SecureString>(DumpJson(body));
  const size_t size = text->size();
  res.set_content_provider(size, kJson, [text](size_t offset, size_t length, httplib::DataSink& sink) {
    return sink.write(text->data() + offset, length);
  });
}

void SendKmsError(httplib::Response& res, const Status& st) { SendJson(res, HttpStatusFor(st), ErrorBody(st)); }

std::string_view KeystoneTitle(int http) {
  switch (http) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    default: return "Internal Server Error";
  }
}

void SendKeystoneError(httplib::Response& res, int http, const std::string& message) {
  res.set_header("WWW-Authenticate", "Keystone uri=\"/v3\"");
  SendJson(res, http, {{"error", {{"code", http}, {"title", KeystoneTitle(http)}, {"message", message}}}});
}

int KeystoneStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kResourceExhausted: return 429;
    default: return 500;
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

// Reads the request body into `body` (at most `max` bytes). Returns false
// when it could not; `too_large` tells whether the limit was the reason.
// httplib hands the body over in its own stack buffer: each piece is wiped
// there once copied.
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

// Wipes every string in `doc` (a login body held a password).
void WipeStrings(Json& doc) {
  std::vector<Json*> stack = {&doc};
  while (!stack.empty()) {
    Json* j = stack.back();
    stack.pop_back();
    if (j->is_string()) {
      auto& s = j->get_ref<Json::string_t&>();
      sodium_memzero(s.data(), s.size());
    }
    if (j->is_structured()) {
      for (auto& child : *j) stack.push_back(&child);
    }
  }
}

}  // namespace

struct HttpServer::Impl {
  Options options;
  Service* service = nullptr;
  Identity* identity = nullptr;
  Router router;
  std::unique_ptr<ConnectionGate> gate;

  void Serve(Exchange& ex);
  void HandleKms(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleLogin(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleIntrospect(const httplib::Request& req, httplib::Response& res);
  void InstallRoutes();
};

void HttpServer::Impl::Serve(Exchange& ex) {
  {
    MemoryStream strm(ex);
    bool connection_closed = false;
    const bool answered = router.Process(strm, ex.close_connection, &connection_closed);
    ex.close_after = connection_closed || !answered || ex.response.empty();
  }
  ClearStackBelow();
}

void HttpServer::Impl::HandleKms(const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
  SecureString body;
  bool too_large = false;
  const bool read_ok = ReadBody(req, reader, options.max_body_bytes, &body, &too_large);
  if (options.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.latency_ms));

  const std::string project = req.matches[1];
  const std::string action = req.matches[2];
  if (!Service::IsKnownAction(action)) return SendKmsError(res, KmsError("KMS.0201"));
  auto caller = identity->Authenticate(req.get_header_value("X-Auth-Token"));
  if (!caller.ok()) return SendKmsError(res, caller.status());
  if (caller->project_id != project) return SendKmsError(res, KmsError("KMS.0321"));
  if (too_large) return SendKmsError(res, KmsError("KMS.0203"));
  if (!read_ok) return SendKmsError(res, KmsError("KMS.0202"));

  auto result = service->Handle(*caller, action, std::string_view(body.data(), body.size()));
  if (!result.ok()) {
    if (result.status().kms_error_code().empty()) {
      KMSFS_LOG(kError) << "kms " << action << ": " << result.status().ToString();
    }
    return SendKmsError(res, result.status());
  }
  SendJson(res, 200, *result);
}

void HttpServer::Impl::HandleLogin(const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) {
  SecureString body;
  bool too_large = false;
  const bool read_ok = ReadBody(req, reader, options.max_body_bytes, &body, &too_large);
  if (too_large) return SendKeystoneError(res, 400, "Request body too large.");
  Json doc = ParseJson(std::string_view(body.data(), body.size()));
  if (!read_ok || doc.is_discarded() || !doc.is_object()) {
    return SendKeystoneError(res, 400, "The request body is not a JSON object.");
  }
  std::chrono::milliseconds retry_after(0);
  auto token = identity->Login(doc, req.remote_addr, &retry_after);
  WipeStrings(doc);
  if (!token.ok()) {
    const int http = KeystoneStatus(token.status());
    if (http == 429) {
      const auto seconds = std::max<int64_t>(1, (retry_after.count() + 999) / 1000);
      res.set_header("Retry-After", std::to_string(seconds));
    }
    if (http == 500) KMSFS_LOG(kError) << "login: " << token.status().ToString();
    return SendKeystoneError(res, http, http == 500 ? "An unexpected error occurred." : token.status().message());
  }
  res.set_header("X-Subject-Token", token->token);
  SendJson(res, 201, Identity::TokenBody(*token));
  WipeString(token->token);
}

void HttpServer::Impl::HandleIntrospect(const httplib::Request& req, httplib::Response& res) {
  auto token = identity->Describe(req.get_header_value("X-Auth-Token"), req.get_header_value("X-Subject-Token"));
  if (!token.ok()) return SendKeystoneError(res, KeystoneStatus(token.status()), token.status().message());
  res.set_header("X-Subject-Token", req.get_header_value("X-Subject-Token"));
  SendJson(res, 200, Identity::TokenBody(*token));
}

void HttpServer::Impl::InstallRoutes() {
  httplib::Server& s = router;
  const std::string kms_path = R"(/v1\.0/([^/]*)/kms/(.*))";
  s.Post(kms_path, [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
    HandleKms(req, res, r);
  });
  auto kms_wrong_method = [](const httplib::Request& req, httplib::Response& res) {
    const std::string action = req.matches[2];
    SendKmsError(res, KmsError(Service::IsKnownAction(action) ? "KMS.0215" : "KMS.0201"));
  };
  s.Get(kms_path, kms_wrong_method);
  s.Put(kms_path, kms_wrong_method);
  s.Delete(kms_path, kms_wrong_method);
  s.Patch(kms_path, kms_wrong_method);

  s.Post("/v3/auth/tokens", [this](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& r) { HandleLogin(req, res, r); });
  s.Get("/v3/auth/tokens", [this](const httplib::Request& req, httplib::Response& res) { HandleIntrospect(req, res); });
  auto auth_wrong_method = [](const httplib::Request&, httplib::Response& res) {
    SendKeystoneError(res, 405, "Method not allowed.");
  };
  s.Put("/v3/auth/tokens", auth_wrong_method);
  s.Delete("/v3/auth/tokens", auth_wrong_method);
  s.Patch("/v3/auth/tokens", auth_wrong_method);

  s.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"status", "ok"}});
  });

  // Compressed request bodies would be inflated in httplib's buffers, out of
  // reach of the wiping above; no client of the API compresses them.
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (encoding.empty() || encoding == "identity") return httplib::Server::HandlerResponse::Unhandled;
    SendKmsError(res, KmsError("KMS.0202"));
    return httplib::Server::HandlerResponse::Handled;
  });

  // Errors httplib produces itself (no route, body too large, bad request
  // line), and any handler that left an error without a body. Every answer
  // of kmsd's own carries X-Request-Id.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (res.has_header("X-Request-Id")) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 413: SendKmsError(res, KmsError("KMS.0203")); break;
      case 404: SendKmsError(res, KmsError("KMS.0201").WithKmsError("KMS.0201", 404)); break;
      case 405: SendKmsError(res, KmsError("KMS.0215")); break;
      case 400: SendKmsError(res, KmsError("KMS.0202")); break;
      case 414: SendKmsError(res, KmsError("KMS.0201")); break;
      default: {
        const int status = res.status;
        SendKmsError(res, KmsError("KMS.0103"));
        if (status >= 400 && status < 500) res.status = status;
        break;
      }
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    KMSFS_LOG(kError) << "unexpected exception serving " << req.method << " " << req.path;
    SendKmsError(res, KmsError("KMS.0103"));
  });
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::New(const Options& options, Service* service,
                                                      Identity* identity) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->service = service;
  impl->identity = identity;
  impl->router.set_payload_max_length(options.max_body_bytes);
  impl->InstallRoutes();

  ConnectionGate::Options gate;
  gate.host = options.host;
  gate.port = options.port;
  gate.tls_cert = options.tls_cert;
  gate.tls_key = options.tls_key;
  gate.workers = options.threads;
  gate.framing.max_body_bytes = options.max_body_bytes;
  gate.request_timeout = options.request_timeout;
  gate.max_connections_per_peer = options.max_connections_per_peer;
  Impl* raw = impl.get();
  KMSFS_ASSIGN_OR_RETURN(impl->gate, ConnectionGate::New(gate, [raw](Exchange& ex) { raw->Serve(ex); }));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->gate->port(); }

Status HttpServer::Run() { return impl_->gate->Run(); }

bool HttpServer::Stop(std::chrono::milliseconds timeout) { return impl_->gate->Stop(timeout); }

}  // namespace kmsfs::kms::server
