#include "kms/server/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/clock.h"
#include "base/logging.h"
#include "kms/server/api_error.h"
#include "kms/server/audit_log.h"
#include "kms/server/connection_gate.h"
#include "kms/server/http_common.h"
#include "kms/server/iam_routes.h"
#include "kms/server/json.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kStackToClear = 64 * 1024;

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

// Routes of the KMS API that the official SDK offers but kmsd does not
// implement: the cloud's API gateway answers such a call with 404
// APIGW.0101 (docs/KMSD.md lists them).
const char* const kUnsupportedKmsPaths[] = {
    R"(/v1\.0/[^/]*/kms/(create-ec-datakey-pair|create-rsa-datakey-pair|create-pin|derive-shared-secret|generate-mac|verify-mac|get-publickey|re-encrypt|sign|verify))",
    R"(/v1\.0/[^/]*/kms/datakey-capsule/(create|decrypt))",
    R"(/v1\.0/[^/]*/kms/access-points(/.*)?)",
    R"(/v1\.0/[^/]*/kms/key-policies(/.*)?)",
    // Aliases (create_alias, list_aliases, delete_alias, associate_alias) and
    // tags (the six tag APIs) are not implemented yet.
    R"(/v1\.0/[^/]*/kms/(aliases|alias/associate|tags|resource_instances/action))",
    R"(/v1\.0/[^/]*/kms/[^/]+/tags(/.*)?)",
    R"(/v1\.0/[^/]*/keystores(/.*)?)",
    R"(/v2/.*)",
};

Status Unsupported() {
  return WithApiError(Status::NotFound("The API does not exist or has not been published in the environment"),
                      "APIGW.0101", 404);
}

// An encryption context as the audit trail records it: a flat object of
// strings (the only shape the API accepts) of at most 2048 bytes, or a fixed
// marker. The body is the caller's, not yet validated: its values are
// measured, never serialized or copied while their shape is unknown.
Json LoggedContext(const Json& context) {
  constexpr size_t kMaxContextJson = 2048;  // encryption contexts are small
  size_t bytes = 2;                          // {}
  for (const auto& [name, value] : context.items()) {
    if (!value.is_string()) return {{"omitted", "not an object of strings"}};
    bytes += name.size() + value.get_ref<const Json::string_t&>().size() + 6;  // "name":"value",
    if (bytes > kMaxContextJson) return {{"omitted", "larger than 2048 bytes"}};
  }
  return context;
}

// What the audit trail records of a call besides caller and result: the
// key and encryption context it named, as far as the body says (the body
// is the caller's: both are bounded so no call can grow the log by much).
// Of a caller not authenticated it records no content of the body but a
// key id of the key-id format: anyone can send such calls, and their lines
// must stay small and fixed in size or they would fill the disk.
AuditEntry AuditEntryFor(const httplib::Request& req, const std::string& request_id, std::string_view action,
                         std::string_view body, bool authenticated) {
  constexpr size_t kMaxKeyRef = 300;  // a key id, alias or URN
  AuditEntry e;
  e.time_ms = Clock::Real()->WallNowMs();
  e.request_id = request_id;
  e.source_ip = req.remote_addr;
  e.action = std::string(action);
  const Json parsed = ParseJson(body);
  if (!parsed.is_object()) return e;
  if (auto it = parsed.find("key_id"); it != parsed.end() && it->is_string()) {
    const auto& ref = it->get_ref<const Json::string_t&>();
    const std::string_view view(ref.data(), ref.size());
    if (authenticated ? ref.size() <= kMaxKeyRef : IsKeyId(view)) e.key_id.assign(view);
  }
  if (!authenticated) return e;
  if (auto it = parsed.find("encryption_context"); it != parsed.end() && it->is_object() && !it->empty()) {
    e.encryption_context = LoggedContext(*it);
  }
  return e;
}

// The API version document of the KMS (GET / and GET /v1.0).
Json KmsVersion(const std::string& base) {
  return {{"id", "v1.0"},
          {"links", Json::array({{{"href", base + "/v1.0/"}, {"rel", "self"}}})},
          {"version", ""},
          {"status", "CURRENT"},
          {"updated", "2017-06-30T00:00:00Z"},
          {"min_version", ""}};
}

}  // namespace

struct HttpServer::Impl {
  Options options;
  Service* service = nullptr;
  Identity* identity = nullptr;
  AccessKeys* access_keys = nullptr;
  std::unique_ptr<Authenticator> authenticator;
  std::unique_ptr<IamRoutes> iam;
  Router router;
  std::unique_ptr<ConnectionGate> gate;

  void Serve(Exchange& ex);
  // The common path of every KMS call: body, latency, authentication,
  // project, the action and the answer. `reader` is null for the GET
  // actions, which take no body.
  void KmsCall(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader* reader,
               std::string_view action);
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

void HttpServer::Impl::KmsCall(const httplib::Request& req, httplib::Response& res,
                               const httplib::ContentReader* reader, std::string_view action) {
  const std::string request_id = NewRequestId();
  SecureString raw;
  bool too_large = false;
  const bool read_ok = reader == nullptr || ReadBody(req, *reader, options.max_body_bytes, &raw, &too_large);
  if (options.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.latency_ms));

  auto caller = authenticator->Authenticate(req, std::string_view(raw.data(), raw.size()));
  Service::CallTrace trace;  // filled by the service once the call gets that far
  // Every answer leaves through here, after its line in the audit trail.
  auto answer = [&](const Status& st, const Json* body) {
    if (options.audit_log != nullptr) {
      AuditEntry e =
          AuditEntryFor(req, request_id, action, std::string_view(raw.data(), raw.size()), caller.ok());
      if (caller.ok()) {
        e.user_id = caller->user_id;
        e.user_name = caller->user_name;
        e.domain_id = caller->domain_id;
        e.project_id = caller->project_id;
        e.access_key = caller->access_key;
      }
      if (!trace.key_id.empty()) e.key_id = trace.key_id;
      e.result = st.ok() ? "ok" : ErrorCodeFor(st);
      e.http_status = st.ok() ? 200 : HttpStatusFor(st);
      if (Status logged = options.audit_log->Append(e); !logged.ok()) {
        // No answer leaves without its line: a trail with gaps is no trail.
        KMSFS_LOG(kError) << "audit log: " << logged.ToString();
        return SendKmsError(res, Status::Internal("audit log"), request_id);
      }
    }
    if (st.ok()) return SendJson(res, 200, *body, request_id);
    SendKmsError(res, st, request_id);
  };
  auto fail = [&](const Status& st) { answer(st, nullptr); };
  if (!caller.ok()) return fail(caller.status());
  // A domain-scoped token names no project.
  if (caller->project_id.empty()) return fail(KmsError("KMS.0305"));
  if (caller->project_id != std::string(req.matches[1])) return fail(KmsError("KMS.0321"));
  if (too_large) return fail(KmsError("KMS.0203"));
  if (!read_ok) return fail(KmsError("KMS.0202"));

  auto result = service->Handle(*caller, action, std::string_view(raw.data(), raw.size()), &trace);
  if (!result.ok()) {
    if (ApiErrorCode(result.status()).empty()) {
      KMSFS_LOG(kError) << "kms " << action << ": " << result.status().ToString();
    }
    return fail(result.status());
  }
  answer(Status::Ok(), &*result);
}

void HttpServer::Impl::InstallRoutes() {
  httplib::Server& s = router;
  using Req = httplib::Request;
  using Res = httplib::Response;
  using Reader = httplib::ContentReader;
  const std::string p = R"(/v1\.0/([^/]*)/kms)";

  for (const char* path : kUnsupportedKmsPaths) {
    auto unsupported = [](const Req&, Res& res) { SendKmsError(res, Unsupported(), NewRequestId()); };
    s.Get(path, unsupported);
    // POST routes that read their body are tried before all others, so this
    // one must be such a route to come before the /kms/{action} route.
    s.Post(path, [](const Req&, Res& res, const Reader& reader) {
      reader([](const char*, size_t) { return true; });
      SendKmsError(res, Unsupported(), NewRequestId());
    });
    s.Put(path, unsupported);
    s.Delete(path, unsupported);
    s.Patch(path, unsupported);
  }

  // POST /v1.0/{project_id}/kms/{action}
  const std::string kms_path = p + "/(.*)";
  s.Post(kms_path, [this](const Req& req, Res& res, const Reader& r) {
    const std::string action = req.matches[2];
    if (!Service::IsKnownAction(action)) return SendKmsError(res, KmsError("KMS.0201"), NewRequestId());
    if (Service::IsGetAction(action)) {
      r([](const char*, size_t) { return true; });  // drained, keeps the connection in sync
      return SendKmsError(res, KmsError("KMS.0215"), NewRequestId());
    }
    KmsCall(req, res, &r, action);
  });
  auto kms_wrong_method = [](const Req& req, Res& res) {
    const std::string action = req.matches[2];
    SendKmsError(res, KmsError(Service::IsKnownAction(action) ? "KMS.0215" : "KMS.0201"), NewRequestId());
  };
  // GET /v1.0/{project_id}/kms/{user-quotas,user-instances}
  s.Get(kms_path, [this, kms_wrong_method](const Req& req, Res& res) {
    const std::string action = req.matches[2];
    if (!Service::IsGetAction(action)) return kms_wrong_method(req, res);
    KmsCall(req, res, nullptr, action);
  });
  s.Put(kms_path, kms_wrong_method);
  s.Delete(kms_path, kms_wrong_method);
  s.Patch(kms_path, kms_wrong_method);

  // The version documents of the KMS API (the SDK's show_versions and
  // show_version); no authentication, as in the cloud.
  const bool tls = !options.tls_cert.empty();
  s.Get("/", [tls](const Req& req, Res& res) {
    SendJson(res, 200, {{"versions", Json::array({KmsVersion(BaseUrl(req, tls))})}}, NewRequestId());
  });
  s.Get(R"(/v1(\.0)?/?)", [tls](const Req& req, Res& res) {
    SendJson(res, 200, {{"version", KmsVersion(BaseUrl(req, tls))}}, NewRequestId());
  });

  iam->Install(s);

  s.Get("/health", [](const Req&, Res& res) { SendJson(res, 200, {{"status", "ok"}}, NewRequestId()); });

  // Compressed request bodies would be inflated in httplib's buffers, out of
  // reach of the wiping above; no client of the API compresses them.
  s.set_pre_routing_handler([](const Req& req, Res& res) {
    // No answer is served in parts (the API has no use for it, and httplib
    // trusts a Range header's offsets): ranges are dropped before any
    // handler runs, so every answer goes out whole with 200. The request is
    // httplib's own mutable object, handed to this hook as const.
    const_cast<Req&>(req).ranges.clear();
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (encoding.empty() || encoding == "identity") return httplib::Server::HandlerResponse::Unhandled;
    SendKmsError(res, KmsError("KMS.0202"), NewRequestId());
    return httplib::Server::HandlerResponse::Handled;
  });

  // Errors httplib produces itself (no route, body too large, bad request
  // line), and any handler that left an error without a body. Every answer
  // of kmsd's own carries X-Request-Id.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const Req&, Res& res) {
    if (res.has_header("X-Request-Id")) return httplib::Server::HandlerResponse::Unhandled;
    const std::string request_id = NewRequestId();
    switch (res.status) {
      case 413: SendKmsError(res, KmsError("KMS.0203"), request_id); break;
      case 404: SendKmsError(res, WithApiError(KmsError("KMS.0201"), "KMS.0201", 404), request_id); break;
      case 405: SendKmsError(res, KmsError("KMS.0215"), request_id); break;
      case 400: SendKmsError(res, KmsError("KMS.0202"), request_id); break;
      case 416: SendKmsError(res, KmsError("KMS.0202"), request_id); break;  // a Range header httplib cannot parse
      case 414: SendKmsError(res, KmsError("KMS.0201"), request_id); break;
      default: {
        const int status = res.status;
        SendKmsError(res, KmsError("KMS.0103"), request_id);
        if (status >= 400 && status < 500) res.status = status;
        break;
      }
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const Req& req, Res& res, std::exception_ptr) {
    KMSFS_LOG(kError) << "unexpected exception serving " << req.method << " " << req.path;
    SendKmsError(res, KmsError("KMS.0103"), NewRequestId());
  });
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::New(const Options& options, Service* service, Identity* identity,
                                                      AccessKeys* access_keys) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->service = service;
  impl->identity = identity;
  impl->access_keys = access_keys;
  impl->authenticator = std::make_unique<Authenticator>(identity, access_keys);
  IamContext iam;
  iam.identity = identity;
  iam.access_keys = access_keys;
  iam.authenticator = impl->authenticator.get();
  iam.max_body_bytes = options.max_body_bytes;
  iam.tls = !options.tls_cert.empty();
  iam.region = options.region;
  impl->iam = std::make_unique<IamRoutes>(iam);
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
