#include "kms/server/http_server.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <optional>
#include <mutex>
#include <thread>

#include "fs/base/hex.h"
#include "fs/base/logging.h"
#include "kms/server/api_error.h"
#include "kms/server/crypto_util.h"

namespace kmsfs::kms::server {
namespace {

constexpr const char* kJson = "application/json;charset=UTF-8";

std::string RequestId() { return HexEncode(RandomVector(16)); }

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("X-Request-Id", RequestId());
  std::string text = Dump(body);
  res.set_content(text, kJson);
  WipeString(text);
}

void SendKmsError(httplib::Response& res, const Status& st) { SendJson(res, HttpStatusFor(st), ErrorBody(st)); }

std::string_view KeystoneTitle(int http) {
  switch (http) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
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
bool ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, size_t max, std::string* body,
              bool* too_large) {
  *too_large = false;
  const bool chunked = req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
  if (!req.has_header("Content-Length") && !chunked) return true;  // no body
  const std::optional<uint64_t> length = ContentLength(req);
  if (req.has_header("Content-Length") && !length) return false;
  auto receive = [&](const char* data, size_t n) {
    if (body->size() + n > max) {
      *too_large = true;
      return false;
    }
    body->append(data, n);
    return true;
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

}  // namespace

struct HttpServer::Impl {
  Options options;
  Service* service = nullptr;
  Identity* identity = nullptr;
  std::unique_ptr<httplib::Server> server;
  int port = 0;
  int listen_fd = -1;  // the listening socket, seen through set_socket_options

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // guarded by mu
  bool in_run = false;          // guarded by mu

  void HandleKms(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleLogin(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  void HandleIntrospect(const httplib::Request& req, httplib::Response& res);
  void InstallRoutes();
};

void HttpServer::Impl::HandleKms(const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
  std::string body;
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

  auto result = service->Handle(*caller, action, body);
  WipeString(body);
  if (!result.ok()) {
    if (result.status().kms_error_code().empty()) {
      KMSFS_LOG(kError) << "kms " << action << ": " << result.status().ToString();
    }
    return SendKmsError(res, result.status());
  }
  SendJson(res, 200, *result);
  // Responses of create-datakey / decrypt-datakey hold DEKs: wipe our copy.
  for (auto& [key, value] : result->items()) {
    if (value.is_string()) WipeString(value.get_ref<std::string&>());
  }
}

void HttpServer::Impl::HandleLogin(const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) {
  std::string body;
  bool too_large = false;
  const bool read_ok = ReadBody(req, reader, options.max_body_bytes, &body, &too_large);
  if (too_large) return SendKeystoneError(res, 400, "Request body too large.");
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  WipeString(body);
  if (!read_ok || doc.is_discarded() || !doc.is_object()) {
    return SendKeystoneError(res, 400, "The request body is not a JSON object.");
  }
  auto token = identity->Login(doc);
  // The body held a password: wipe every string in it.
  std::vector<nlohmann::json*> stack = {&doc};
  while (!stack.empty()) {
    nlohmann::json* j = stack.back();
    stack.pop_back();
    if (j->is_string()) WipeString(j->get_ref<std::string&>());
    if (j->is_structured()) {
      for (auto& child : *j) stack.push_back(&child);
    }
  }
  if (!token.ok()) {
    const int http = KeystoneStatus(token.status());
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
  httplib::Server& s = *server;
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

  // Errors httplib produces itself (no route, body too large, bad request
  // line), and any handler that left an error without a body.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
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
  if (!options.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return Status::InvalidArgument("cannot load TLS certificate " + options.tls_cert + " and key " +
                                     options.tls_key + " (PEM files expected)");
    }
    impl->server = std::move(ssl);
  } else {
    impl->server = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *impl->server;
  const int threads = options.threads;
  // httplib takes ownership of the queue it is handed.
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(options.max_body_bytes);
  s.set_keep_alive_max_count(100000);
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(10, 0);
  s.set_write_timeout(10, 0);
  s.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which would let a second kmsd
  // share a busy port silently; keep only SO_REUSEADDR.
  s.set_socket_options([listen_fd = &impl->listen_fd](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_fd = sock;
  });
  impl->InstallRoutes();

  if (options.port == 0) {
    impl->port = s.bind_to_any_port(options.host);
    if (impl->port <= 0) return Status::Unavailable("cannot listen on " + options.host + ":0");
  } else {
    if (!s.bind_to_port(options.host, options.port)) {
      return Status::Unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                                 " (address in use, or not an address of this machine)");
    }
    impl->port = options.port;
  }
  // The packaged cpp-httplib listens with a backlog of 5, so a burst of new
  // connections would be reset by the kernel; a second listen() on the bound
  // socket raises the backlog (to net.core.somaxconn at most).
  if (impl->listen_fd >= 0) ::listen(impl->listen_fd, 4096);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port; }

Status HttpServer::Run() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stop_requested) return Status::Ok();
    impl_->in_run = true;
  }
  const bool ok = impl_->server->listen_after_bind();
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->in_run = false;
    stopped = impl_->stop_requested;
  }
  impl_->cv.notify_all();
  if (!ok && !stopped) return Status::Unavailable("the listening socket failed");
  return Status::Ok();
}

bool HttpServer::Stop(std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->stop_requested = true;
  // httplib ignores stop() until its listen loop runs, so wait for that,
  // stop once, then wait for Run() to return.
  bool listener_closed = false;
  while (impl_->in_run) {
    if (!listener_closed && impl_->server->is_running()) {
      impl_->server->stop();
      listener_closed = true;
    }
    impl_->cv.wait_for(lock, std::chrono::milliseconds(listener_closed ? 20 : 1));
    if (std::chrono::steady_clock::now() - start >= timeout) return !impl_->in_run;
  }
  return true;
}

}  // namespace kmsfs::kms::server
