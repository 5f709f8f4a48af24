#include "tests/kms/fake_kms_server.h"

#include <httplib.h>

#include <chrono>
#include <stdexcept>

namespace kmsfs::kms::testing {
namespace {

FakeRequest FromHttplib(const httplib::Request& req) {
  FakeRequest r;
  r.method = req.method;
  r.path = req.path;
  r.auth_token = req.get_header_value("X-Auth-Token");
  r.subject_token = req.get_header_value("X-Subject-Token");
  r.content_type = req.get_header_value("Content-Type");
  for (const auto& [name, value] : req.headers) r.headers.emplace_back(name, value);
  r.body = req.body;
  r.json = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  return r;
}

void Answer(const FakeReply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
  res.set_content(reply.body, "application/json");
}

}  // namespace

FakeKmsServer::FakeKmsServer() : server_(std::make_unique<httplib::Server>()) {
  server_->set_tcp_nodelay(true);
  server_->Post(R"(/v1\.0/([^/]+)/kms/([a-z-]+))", [this](const httplib::Request& req, httplib::Response& res) {
    FakeRequest r = FromHttplib(req);
    r.project_id = req.matches[1];
    r.action = req.matches[2];
    Record(r);
    FakeHandler h = HandlerFor(r.action);
    Answer(h ? h(r) : FakeReply::Error(400, "KMS.0201", "Invalid request URL."), res);
  });
  server_->Post("/v3/auth/tokens", [this](const httplib::Request& req, httplib::Response& res) {
    FakeRequest r = FromHttplib(req);
    r.action = "login";
    Record(r);
    FakeHandler h = HandlerFor("login");
    Answer(h ? h(r) : FakeReply::Error(404, "", "no IAM here"), res);
  });
  server_->Get("/v3/auth/tokens", [this](const httplib::Request& req, httplib::Response& res) {
    FakeRequest r = FromHttplib(req);
    r.action = "token-lookup";
    Record(r);
    FakeHandler h = HandlerFor("token-lookup");
    Answer(h ? h(r) : FakeReply::Error(404, "", "no IAM here"), res);
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake KMS: cannot bind");
  // The socket listens from here on: clients can connect before the accept loop runs.
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
}

FakeKmsServer::~FakeKmsServer() {
  Release();
  // stop() only acts once the accept loop runs; wait for it to start.
  while (!server_->is_running() && !listen_returned_) std::this_thread::yield();
  server_->stop();
  thread_.join();
}

std::string FakeKmsServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FakeKmsServer::On(const std::string& action, FakeHandler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[action] = std::move(handler);
}
void FakeKmsServer::OnLogin(FakeHandler handler) { On("login", std::move(handler)); }
void FakeKmsServer::OnTokenLookup(FakeHandler handler) { On("token-lookup", std::move(handler)); }

FakeHandler FakeKmsServer::HandlerFor(const std::string& action) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handlers_.find(action);
  return it == handlers_.end() ? FakeHandler() : it->second;
}

void FakeKmsServer::Record(const FakeRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[r.action].push_back(r);
}

std::vector<FakeRequest> FakeKmsServer::requests(const std::string& action) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find(action);
  return it == requests_.end() ? std::vector<FakeRequest>() : it->second;
}

int FakeKmsServer::count(const std::string& action) const { return static_cast<int>(requests(action).size()); }

void FakeKmsServer::WaitForRelease() {
  std::unique_lock<std::mutex> lock(mu_);
  // Bounded, so a failing test cannot hang the server forever.
  released_cv_.wait_for(lock, std::chrono::seconds(20), [this] { return released_; });
}

void FakeKmsServer::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
  released_cv_.notify_all();
}

nlohmann::json LoginBody(const std::string& user_id, const std::string& user_name, const std::string& issued_at,
                         const std::string& expires_at) {
  return {{"token",
           {{"issued_at", issued_at},
            {"expires_at", expires_at},
            {"methods", {"password"}},
            {"user", {{"id", user_id}, {"name", user_name}, {"domain", {{"id", "d1"}, {"name", "dom"}}}}},
            {"project", {{"id", "p1"}, {"name", "eu-de"}}}}}};
}

}  // namespace kmsfs::kms::testing
