// FakeKmsServer: an in-process HTTP server standing in for the KMS and IAM in
// HttpClient unit tests. Each test programs the answers per action and reads
// back what the client sent; nothing here knows any KMS semantics.
//
// Binds 127.0.0.1 on a free port; stopped and joined by the destructor.
//
// Thread-safety: handlers run on the server's worker threads; On*() must be
// called before the client sends; requests()/count() may be read any time.
#ifndef KMSFS_TESTS_KMS_FAKE_KMS_SERVER_H_
#define KMSFS_TESTS_KMS_FAKE_KMS_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
}

namespace kmsfs::kms::testing {

struct FakeRequest {
  std::string method;
  std::string path;
  std::string action;      // KMS action, or "login" / "token-lookup"
  std::string project_id;  // from the KMS URL
  std::string auth_token;  // X-Auth-Token
  std::string subject_token;  // X-Subject-Token
  std::string content_type;
  std::string body;
  nlohmann::json json;     // parsed body (discarded if not JSON)
  std::vector<std::pair<std::string, std::string>> headers;  // every header, as received
};

struct FakeReply {
  int status = 200;
  std::string body = "{}";
  std::map<std::string, std::string> headers;

  static FakeReply Json(const nlohmann::json& j, int status = 200) { return {status, j.dump(), {}}; }
  static FakeReply Error(int status, const std::string& code, const std::string& msg) {
    return {status, nlohmann::json{{"error", {{"error_code", code}, {"error_msg", msg}}}}.dump(), {}};
  }
};

using FakeHandler = std::function<FakeReply(const FakeRequest&)>;

class FakeKmsServer {
 public:
  FakeKmsServer();
  ~FakeKmsServer();
  FakeKmsServer(const FakeKmsServer&) = delete;
  FakeKmsServer& operator=(const FakeKmsServer&) = delete;

  // "http://127.0.0.1:PORT"
  std::string endpoint() const;
  int port() const { return port_; }

  // POST /v1.0/{project}/kms/<action>. Unprogrammed actions answer 400 KMS.0201.
  void On(const std::string& action, FakeHandler handler);
  // POST /v3/auth/tokens and GET /v3/auth/tokens.
  void OnLogin(FakeHandler handler);
  void OnTokenLookup(FakeHandler handler);

  // Requests received so far for `action` ("login", "token-lookup", or a KMS action).
  std::vector<FakeRequest> requests(const std::string& action) const;
  int count(const std::string& action) const;

  // Makes handlers that call WaitForRelease() block until Release() (or the destructor).
  void WaitForRelease();
  void Release();

 private:
  void Record(const FakeRequest& r);
  FakeHandler HandlerFor(const std::string& action) const;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, FakeHandler> handlers_;
  std::map<std::string, std::vector<FakeRequest>> requests_;
  std::condition_variable released_cv_;
  bool released_ = false;
};

// A Keystone-shaped login answer body.
nlohmann::json LoginBody(const std::string& user_id, const std::string& user_name, const std::string& issued_at,
                         const std::string& expires_at);

}  // namespace kmsfs::kms::testing

#endif  // KMSFS_TESTS_KMS_FAKE_KMS_SERVER_H_
