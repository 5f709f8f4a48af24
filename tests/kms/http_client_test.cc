// HttpClient against an in-process fake KMS: request bodies, retries, error
// mapping, token handling. No real time passes in backoffs (injected sleep).
#include "kms/http_kms_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/hex.h"
#include "tests/kms/fake_kms_server.h"

namespace kmsfs::kms {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeKmsServer;
using testing::FakeReply;
using testing::FakeRequest;
using testing::LoginBody;

constexpr char kProject[] = "b168fe00ff56492495a7d22974df2d0b";
constexpr char kKey[] = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
constexpr char kFarFuture[] = "2099-01-01T00:00:00.000000Z";

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Sha256Hex(std::span<const uint8_t> data) {
  uint8_t d[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(d, data.data(), data.size());
  return HexEncodeUpper(d);
}

class HttpClientTest : public ::testing::Test {
 protected:
  ConnectionConfig TokenConfig() {
    ConnectionConfig c;
    c.endpoint = server_.endpoint();
    c.project_id = kProject;
    c.token = SecretFromText("static-token");
    c.retry.on_backoff = [this](milliseconds d) {
      std::lock_guard<std::mutex> lock(sleeps_mu_);
      sleeps_.push_back(d);
    };
    return c;
  }
  ConnectionConfig PasswordConfig(const std::string& password = "pw") {
    ConnectionConfig c = TokenConfig();
    c.token = SecretBytes();
    c.auth_url = server_.endpoint() + "/v3";
    c.username = "alice";
    c.domain = "alice-domain";
    c.password = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(password.data()), password.size()});
    return c;
  }
  std::unique_ptr<HttpClient> Make(ConnectionConfig c) {
    auto client = HttpClient::New(std::move(c));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  // Login answers "tok-1", "tok-2", ... valid for a day.
  void ServeCountingLogins(const std::string& issued = "2024-01-01T00:00:00.000000Z",
                           const std::string& expires = "2024-01-02T00:00:00.000000Z") {
    server_.OnLogin([this, issued, expires](const FakeRequest&) {
      FakeReply r = FakeReply::Json(LoginBody("u-alice", "alice", issued, expires), 201);
      r.headers["X-Subject-Token"] = "tok-" + std::to_string(++logins_);
      return r;
    });
  }
  size_t sleep_count() {
    std::lock_guard<std::mutex> lock(sleeps_mu_);
    return sleeps_.size();
  }

  // Declared before the server: its handlers use them until its destructor
  // has joined every worker.
  std::mutex sleeps_mu_;
  std::vector<milliseconds> sleeps_;
  std::atomic<int> logins_{0};
  FakeKmsServer server_;
};

FakeReply KeyInfoReply() { return FakeReply::Json({{"key_info", {{"key_id", kKey}, {"key_state", "2"}}}}); }

// --- retries

TEST_F(HttpClientTest, RetriesAfter503AndSucceeds) {
  std::atomic<int> n{0};
  server_.On("describe-key", [&](const FakeRequest&) {
    return ++n == 1 ? FakeReply::Error(503, "KMS.0104", "A system exception occurred.") : KeyInfoReply();
  });
  auto client = Make(TokenConfig());
  StatusOr<KeyInfo> info = client->DescribeKey(kKey);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->key_id, kKey);
  EXPECT_EQ(server_.count("describe-key"), 2);
  EXPECT_EQ(sleep_count(), 1u);
  EXPECT_LE(sleeps_[0], milliseconds(100));
  EXPECT_EQ(client->stats().retries, 1u);
  EXPECT_EQ(client->stats().calls, 1u);
  EXPECT_EQ(client->stats().errors, 0u);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsOf500) {
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply::Error(500, "KMS.0101", "KMS error."); });
  auto client = Make(TokenConfig());
  StatusOr<KeyInfo> info = client->DescribeKey(kKey);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(KmsErrorCode(info.status()), "KMS.0101");
  EXPECT_EQ(KmsHttpStatus(info.status()), 500);
  EXPECT_NE(info.status().message().find("gave up after 4 attempts"), std::string::npos) << info.status().message();
  EXPECT_EQ(server_.count("describe-key"), 4);
  ASSERT_EQ(sleep_count(), 3u);
  EXPECT_LE(sleeps_[0], milliseconds(100));
  EXPECT_LE(sleeps_[1], milliseconds(200));
  EXPECT_LE(sleeps_[2], milliseconds(400));
  EXPECT_EQ(client->stats().errors, 1u);
  EXPECT_EQ(client->stats().retries, 3u);
}

TEST_F(HttpClientTest, MaxAttemptsOneMeansNoRetry) {
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply::Error(503, "KMS.0104", "busy"); });
  ConnectionConfig c = TokenConfig();
  c.retry.max_attempts = 1;
  auto client = Make(std::move(c));
  EXPECT_EQ(client->DescribeKey(kKey).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.count("describe-key"), 1);
  EXPECT_EQ(sleep_count(), 0u);
}

TEST_F(HttpClientTest, Retries429AndHonoursRetryAfter) {
  std::atomic<int> n{0};
  server_.On("describe-key", [&](const FakeRequest&) {
    if (++n > 1) return KeyInfoReply();
    FakeReply r = FakeReply::Error(429, "", "Too Many Requests");
    r.headers["Retry-After"] = "1";
    return r;
  });
  auto client = Make(TokenConfig());
  ASSERT_TRUE(client->DescribeKey(kKey).ok());
  EXPECT_EQ(server_.count("describe-key"), 2);
  ASSERT_EQ(sleep_count(), 1u);
  EXPECT_EQ(sleeps_[0], milliseconds(1000));
}

TEST_F(HttpClientTest, Exhausted429IsResourceExhausted) {
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply::Error(429, "", "Too Many Requests"); });
  auto client = Make(TokenConfig());
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(KmsHttpStatus(s), 429);
  EXPECT_EQ(server_.count("describe-key"), 4);
}

struct ClientErrorCase {
  int http;
  const char* kms_code;
  const char* kms_msg;
  StatusCode want;
};

class HttpClientErrorTest : public HttpClientTest, public ::testing::WithParamInterface<ClientErrorCase> {};

TEST_P(HttpClientErrorTest, ClientErrorsAreNeverRetriedAndMapToTheirCode) {
  const ClientErrorCase& c = GetParam();
  server_.On("decrypt-datakey", [&](const FakeRequest&) { return FakeReply::Error(c.http, c.kms_code, c.kms_msg); });
  auto client = Make(TokenConfig());
  StatusOr<SecretBytes> dek = client->DecryptDataKey(kKey, "00AA", 64, {});
  ASSERT_FALSE(dek.ok());
  const Status& s = dek.status();
  EXPECT_EQ(s.code(), c.want) << s.ToString();
  EXPECT_EQ(KmsErrorCode(s), c.kms_code);
  EXPECT_EQ(KmsHttpStatus(s), c.http);
  EXPECT_EQ(server_.count("decrypt-datakey"), 1);
  EXPECT_EQ(sleep_count(), 0u);
  const std::string want_msg = std::string("decrypt-datakey on key ") + kKey + " at 127.0.0.1:" +
                               std::to_string(server_.port()) + ": " + c.kms_code + " " + c.kms_msg + " (HTTP " +
                               std::to_string(c.http) + ")";
  EXPECT_EQ(s.message().substr(0, want_msg.size()), want_msg);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, HttpClientErrorTest,
    ::testing::Values(ClientErrorCase{400, "KMS.0205", "Invalid key ID.", StatusCode::kInvalidArgument},
                      ClientErrorCase{400, "KMS.0209", "The key has been disabled.", StatusCode::kFailedPrecondition},
                      ClientErrorCase{400, "KMS.0210", "The key is in Scheduled deletion state and cannot be used.",
                                      StatusCode::kFailedPrecondition},
                      ClientErrorCase{400, "KMS.2201", "Invalid cipher_text.", StatusCode::kDataLoss},
                      ClientErrorCase{403, "KMS.0306", "No access permissions.", StatusCode::kPermissionDenied},
                      ClientErrorCase{403, "KMS.0330", "User has no permission.", StatusCode::kPermissionDenied},
                      ClientErrorCase{403, "KMS.0301", "Invalid or null X-Auth-Token.", StatusCode::kUnauthenticated},
                      ClientErrorCase{403, "KMS.0321", "URIs in URL and X-Auth-Token do not match.",
                                      StatusCode::kUnauthenticated},
                      ClientErrorCase{404, "KMS.0207", "The key does not exist.", StatusCode::kNotFound}));

TEST_F(HttpClientTest, CreateKeyErrorsMapToAlreadyExistsAndResourceExhausted) {
  std::atomic<int> n{0};
  server_.On("create-key", [&](const FakeRequest&) {
    return ++n == 1 ? FakeReply::Error(400, "KMS.1104", "Duplicate key aliases.")
                    : FakeReply::Error(400, "KMS.1105", "Too many keys.");
  });
  auto client = Make(TokenConfig());
  CreateKeyRequest req;
  req.key_alias = "a";
  EXPECT_EQ(client->CreateKey(req).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(client->CreateKey(req).status().code(), StatusCode::kResourceExhausted);
}

TEST_F(HttpClientTest, ErrorWithoutKmsBodyStillNamesTheStatus) {
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply{502, "<html>bad gateway</html>", {}}; });
  ConnectionConfig c = TokenConfig();
  c.retry.max_attempts = 2;
  auto client = Make(std::move(c));
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(KmsHttpStatus(s), 502);
  EXPECT_NE(s.message().find("HTTP 502"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("bad gateway"), std::string::npos);  // bodies are never echoed
}

TEST_F(HttpClientTest, RequestIdIsQuotedInErrors) {
  server_.On("describe-key", [](const FakeRequest&) {
    FakeReply r = FakeReply::Error(404, "KMS.0207", "The key does not exist.");
    r.headers["X-Request-Id"] = "0123456789abcdef0123456789abcdef";
    return r;
  });
  auto client = Make(TokenConfig());
  EXPECT_NE(client->DescribeKey(kKey).status().message().find("request 0123456789abcdef0123456789abcdef"),
            std::string::npos);
}

// --- transport failures

int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);  // nobody listens there now
  return ntohs(addr.sin_port);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailableAfterRetries) {
  ConnectionConfig c = TokenConfig();
  c.endpoint = "http://127.0.0.1:" + std::to_string(UnusedPort());
  auto client = Make(std::move(c));
  StatusOr<std::string> wrapped = client->EncryptDataKey(kKey, SecretBytes::Random(64), {});
  ASSERT_FALSE(wrapped.ok());
  EXPECT_EQ(wrapped.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(KmsHttpStatus(wrapped.status()), 0);
  EXPECT_NE(wrapped.status().message().find("cannot reach the KMS at http://127.0.0.1:"), std::string::npos)
      << wrapped.status().message();
  EXPECT_NE(wrapped.status().message().find("4 attempts"), std::string::npos);
  EXPECT_EQ(sleep_count(), 3u);
}

TEST_F(HttpClientTest, ReadTimeoutIsHonoured) {
  server_.On("describe-key", [&](const FakeRequest&) {
    server_.WaitForRelease();
    return KeyInfoReply();
  });
  ConnectionConfig c = TokenConfig();
  c.request_timeout = milliseconds(300);
  c.retry.max_attempts = 2;
  auto client = Make(std::move(c));
  Status s = client->DescribeKey(kKey).status();
  server_.Release();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("timed out"), std::string::npos) << s.message();
  EXPECT_EQ(sleep_count(), 1u);
}

// --- authentication

TEST_F(HttpClientTest, SendsTheStaticTokenAndJsonToTheProjectUrl) {
  server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
  auto client = Make(TokenConfig());
  ASSERT_TRUE(client->DescribeKey(kKey).ok());
  std::vector<FakeRequest> reqs = server_.requests("describe-key");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].project_id, kProject);
  EXPECT_EQ(reqs[0].auth_token, "static-token");
  EXPECT_EQ(reqs[0].content_type, "application/json");
  EXPECT_EQ(reqs[0].json, json({{"key_id", kKey}}));
  EXPECT_EQ(server_.count("login"), 0);
}

TEST_F(HttpClientTest, PasswordLoginSendsTheKeystoneBody) {
  ServeCountingLogins();
  server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
  const std::string password = "p\"w\\d \x01ü";
  auto client = Make(PasswordConfig(password));
  ASSERT_TRUE(client->DescribeKey(kKey).ok());
  std::vector<FakeRequest> logins = server_.requests("login");
  ASSERT_EQ(logins.size(), 1u);
  const json want = {
      {"auth",
       {{"identity",
         {{"methods", {"password"}},
          {"password", {{"user", {{"name", "alice"}, {"password", password}, {"domain", {{"name", "alice-domain"}}}}}}}}},
        {"scope", {{"project", {{"id", kProject}}}}}}}};
  EXPECT_EQ(logins[0].json, want) << logins[0].body;
  EXPECT_EQ(server_.requests("describe-key")[0].auth_token, "tok-1");
}

TEST_F(HttpClientTest, TokenIsReusedUntilItNearsExpiry) {
  ServeCountingLogins();
  server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
  auto client = Make(PasswordConfig());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->DescribeKey(kKey).ok());
  EXPECT_EQ(server_.count("login"), 1);
  EXPECT_EQ(client->stats().auth_refreshes, 0u);
}

TEST_F(HttpClientTest, TokenAboutToExpireIsRenewedBeforeTheCall) {
  // A 1 ms lifetime: once that has passed, the next call logs in first.
  ServeCountingLogins("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.001Z");
  server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
  auto client = Make(PasswordConfig());
  ASSERT_TRUE(client->DescribeKey(kKey).ok());
  const auto token_end = std::chrono::steady_clock::now() + milliseconds(2);
  while (std::chrono::steady_clock::now() < token_end) std::this_thread::yield();
  ASSERT_TRUE(client->DescribeKey(kKey).ok());
  EXPECT_EQ(server_.count("login"), 2);
  EXPECT_EQ(server_.requests("describe-key")[1].auth_token, "tok-2");
  EXPECT_EQ(client->stats().auth_refreshes, 1u);
}

TEST_F(HttpClientTest, LoginAnswerExpiringBeforeItWasIssuedIsRefused) {
  ServeCountingLogins("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z");
  server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
  auto client = Make(PasswordConfig());
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("expires before it was issued"), std::string::npos) << s.message();
  EXPECT_EQ(server_.count("describe-key"), 0);
  EXPECT_EQ(server_.count("login"), 1);
}

TEST_F(HttpClientTest, LoginAnswerWithHostileTimesNeverCrashes) {
  for (const auto& [issued, expires] : std::vector<std::pair<std::string, std::string>>{
           {"0000-01-01T00:00:00Z", "9999-12-31T23:59:60.999999999Z"},
           {"1970-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59"},
           {"", "9999-12-31T23:59:59Z"},
           {"2024-01-01T00:00:00Z", "99999-01-01T00:00:00Z"},
           {"2024-01-01T00:00:00Z", "-2024-01-01T00:00:00Z"},
           {"2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z"},
           {"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.1234567890Z"},
           {"2024-01-01T00:00:00Z", "2024-01-01T00:00:00+99:99"}}) {
    ServeCountingLogins(issued, expires);
    server_.On("describe-key", [](const FakeRequest&) { return KeyInfoReply(); });
    auto client = Make(PasswordConfig());
    EXPECT_TRUE(client->DescribeKey(kKey).ok()) << issued << " / " << expires;
    // The token is then used for at most a day (iam_auth_test checks the bound).
    EXPECT_TRUE(client->DescribeKey(kKey).ok());
  }
}

TEST_F(HttpClientTest, ExpiredTokenAnswerTriggersOneLoginAndRetry) {
  ServeCountingLogins();
  server_.On("describe-key", [](const FakeRequest& r) {
    return r.auth_token == "tok-1" ? FakeReply::Error(403, "KMS.0303", "X-Auth-Token expired.") : KeyInfoReply();
  });
  auto client = Make(PasswordConfig());
  StatusOr<KeyInfo> info = client->DescribeKey(kKey);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(server_.count("login"), 2);
  EXPECT_EQ(server_.count("describe-key"), 2);
  EXPECT_EQ(client->stats().auth_refreshes, 1u);
  EXPECT_EQ(client->stats().calls, 1u);
  EXPECT_EQ(client->stats().errors, 0u);
  EXPECT_EQ(sleep_count(), 0u);
}

TEST_F(HttpClientTest, RepeatedUnauthorizedGivesUpAfterOneRefresh) {
  ServeCountingLogins();
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply::Error(401, "", "Unauthorized"); });
  auto client = Make(PasswordConfig());
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(KmsHttpStatus(s), 401);
  EXPECT_EQ(server_.count("login"), 2);
  EXPECT_EQ(server_.count("describe-key"), 2);
}

TEST_F(HttpClientTest, StaticTokenExpiryIsFinalAndSaysSo) {
  server_.On("describe-key", [](const FakeRequest&) { return FakeReply::Error(403, "KMS.0303", "X-Auth-Token expired."); });
  auto client = Make(TokenConfig());
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(KmsErrorCode(s), "KMS.0303");
  EXPECT_NE(s.message().find("get a new one"), std::string::npos) << s.message();
  EXPECT_EQ(server_.count("describe-key"), 1);
  EXPECT_EQ(server_.count("login"), 0);
}

TEST_F(HttpClientTest, ConcurrentRejectionsShareOneLogin) {
  ServeCountingLogins();
  server_.On("describe-key", [](const FakeRequest& r) {
    return r.auth_token == "tok-1" ? FakeReply::Error(403, "KMS.0303", "X-Auth-Token expired.") : KeyInfoReply();
  });
  auto client = Make(PasswordConfig());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) ok += client->DescribeKey(kKey).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(server_.count("login"), 2);
}

TEST_F(HttpClientTest, WrongPasswordIsUnauthenticatedAndNamesTheUser) {
  server_.OnLogin([](const FakeRequest&) {
    return FakeReply::Json({{"error", {{"code", 401}, {"message", "The username or password is wrong."}}}}, 401);
  });
  auto client = Make(PasswordConfig());
  Status s = client->DescribeKey(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(KmsHttpStatus(s), 401);
  EXPECT_NE(s.message().find("IAM login as alice"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("The username or password is wrong."), std::string::npos);
  EXPECT_EQ(server_.count("describe-key"), 0);
  EXPECT_EQ(client->stats().errors, 1u);
}

TEST_F(HttpClientTest, UserIdComesFromTheLoginAnswer) {
  ServeCountingLogins();
  auto client = Make(PasswordConfig());
  StatusOr<std::string> id = client->UserId();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "u-alice");
  EXPECT_EQ(client->PrincipalDescription(), "alice (user id u-alice, domain alice-domain)");
}

TEST_F(HttpClientTest, UserIdOfAStaticTokenIsLookedUpOnceAtTheEndpoint) {
  server_.OnTokenLookup([](const FakeRequest& r) {
    if (r.auth_token != "static-token" || r.subject_token != "static-token") {
      return FakeReply::Error(401, "", "bad");
    }
    return FakeReply::Json(LoginBody("u-bob", "bob", "2024-01-01T00:00:00Z", kFarFuture));
  });
  auto client = Make(TokenConfig());
  EXPECT_EQ(client->PrincipalDescription(), "the user of the given token");
  ASSERT_EQ(client->UserId().value(), "u-bob");
  ASSERT_EQ(client->UserId().value(), "u-bob");
  EXPECT_EQ(server_.count("token-lookup"), 1);
  EXPECT_EQ(server_.requests("token-lookup")[0].path, "/v3/auth/tokens");
  EXPECT_EQ(client->PrincipalDescription(), "bob (user id u-bob, from token)");
  EXPECT_EQ(client->PrincipalDescription().find("static-token"), std::string::npos);
}

TEST_F(HttpClientTest, UserIdLookupUsesTheAuthUrlWhenGiven) {
  server_.OnTokenLookup([](const FakeRequest&) {
    return FakeReply::Json(LoginBody("u-carol", "carol", "2024-01-01T00:00:00Z", kFarFuture));
  });
  ConnectionConfig c = TokenConfig();
  c.endpoint = "http://127.0.0.1:" + std::to_string(UnusedPort());  // must not be used
  c.auth_url = server_.endpoint() + "/v3/";
  auto client = Make(std::move(c));
  StatusOr<std::string> id = client->UserId();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "u-carol");
}

// --- request bodies and answers

TEST_F(HttpClientTest, EncryptDataKeySendsDekAndDigestAsHexWithStringLength) {
  SecretBytes dek = SecretBytes::Random(64);
  const std::string want_plain = HexEncodeUpper(dek.span()) + Sha256Hex(dek.span());
  server_.On("encrypt-datakey", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json.size(), 4u) << r.body;
    EXPECT_EQ(r.json["key_id"], kKey);
    EXPECT_TRUE(r.json["plain_text"].is_string());
    EXPECT_EQ(r.json["plain_text"].get<std::string>().size(), 192u);
    EXPECT_EQ(Upper(r.json["plain_text"].get<std::string>()), want_plain);
    EXPECT_EQ(r.json["datakey_plain_length"], "64");
    EXPECT_EQ(r.json["encryption_context"], json({{"kmsfs_file_id", "00ff"}}));
    return FakeReply::Json({{"key_id", kKey}, {"cipher_text", "020098ABCDEF"}, {"datakey_length", "64"}});
  });
  auto client = Make(TokenConfig());
  StatusOr<std::string> wrapped = client->EncryptDataKey(kKey, dek, {{"kmsfs_file_id", "00ff"}});
  ASSERT_TRUE(wrapped.ok()) << wrapped.status().ToString();
  EXPECT_EQ(*wrapped, "020098ABCDEF");
}

TEST_F(HttpClientTest, EncryptDataKeyMatchesTheDocumentedZeroKeyExample) {
  // spec §4.3: 64 zero bytes, digest F5A5FD42…59FB4B.
  server_.On("encrypt-datakey", [](const FakeRequest& r) {
    EXPECT_EQ(r.json["plain_text"], std::string(128, '0') +
                                        "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B");
    EXPECT_FALSE(r.json.contains("encryption_context"));  // empty context is left out
    return FakeReply::Json({{"cipher_text", "AB"}});
  });
  auto client = Make(TokenConfig());
  ASSERT_TRUE(client->EncryptDataKey(kKey, SecretBytes(64), {}).ok());
}

TEST_F(HttpClientTest, CreateDataKeyAsksFor512BitsAndReturnsBothHalves) {
  SecretBytes dek = SecretBytes::Random(64);
  server_.On("create-datakey", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"datakey_length", "512"}}));
    return FakeReply::Json({{"key_id", kKey}, {"plain_text", HexEncodeUpper(dek.span())}, {"cipher_text", "0200CC"}});
  });
  auto client = Make(TokenConfig());
  StatusOr<DataKey> dk = client->CreateDataKey(kKey, 64, {});
  ASSERT_TRUE(dk.ok()) << dk.status().ToString();
  EXPECT_TRUE(dk->plain.Equals(dek));
  EXPECT_EQ(dk->cipher_text, "0200CC");
  EXPECT_EQ(dk->key_id, kKey);
}

TEST_F(HttpClientTest, CreateDataKeyWithoutPlaintextReturnsTheCiphertext) {
  server_.On("create-datakey-without-plaintext", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"datakey_length", "512"}, {"encryption_context", {{"a", "b"}}}}));
    return FakeReply::Json({{"key_id", kKey}, {"cipher_text", "0200DD"}});
  });
  auto client = Make(TokenConfig());
  EXPECT_EQ(client->CreateDataKeyWithoutPlaintext(kKey, 64, {{"a", "b"}}).value(), "0200DD");
}

class DecryptDataKeyTest : public HttpClientTest {
 protected:
  void ServeDecrypt(const std::string& data_key_hex, const std::string& dgst_hex) {
    server_.On("decrypt-datakey", [=](const FakeRequest& r) {
      EXPECT_EQ(r.json, json({{"key_id", kKey},
                              {"cipher_text", "0200AABB"},
                              {"datakey_cipher_length", "64"},
                              {"encryption_context", {{"kmsfs_file_id", "01"}}}}));
      json answer = {{"data_key", data_key_hex}, {"datakey_length", "64"}};
      if (!dgst_hex.empty()) answer["datakey_dgst"] = dgst_hex;
      return FakeReply::Json(answer);
    });
  }
  StatusOr<SecretBytes> Decrypt() {
    auto client = Make(TokenConfig());
    return client->DecryptDataKey(kKey, "0200AABB", 64, {{"kmsfs_file_id", "01"}});
  }
  SecretBytes dek_ = SecretBytes::Random(64);
};

TEST_F(DecryptDataKeyTest, ReturnsTheKeyWhenTheDigestMatches) {
  ServeDecrypt(HexEncodeUpper(dek_.span()), Sha256Hex(dek_.span()));
  StatusOr<SecretBytes> got = Decrypt();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->Equals(dek_));
}

TEST_F(DecryptDataKeyTest, AcceptsLowerCaseHex) {
  ServeDecrypt(HexEncode(dek_.span()), kmsfs::HexEncode(HexDecode(Sha256Hex(dek_.span())).value()));
  ASSERT_TRUE(Decrypt().ok());
}

TEST_F(DecryptDataKeyTest, WrongDigestIsDataLoss) {
  SecretBytes other = SecretBytes::Random(64);
  ServeDecrypt(HexEncodeUpper(dek_.span()), Sha256Hex(other.span()));
  Status s = Decrypt().status();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("datakey_dgst"), std::string::npos);
}

TEST_F(DecryptDataKeyTest, MissingDigestIsDataLoss) {
  ServeDecrypt(HexEncodeUpper(dek_.span()), "");
  EXPECT_EQ(Decrypt().status().code(), StatusCode::kDataLoss);
}

TEST_F(DecryptDataKeyTest, WrongKeyLengthIsDataLoss) {
  SecretBytes short_key = SecretBytes::Random(32);
  ServeDecrypt(HexEncodeUpper(short_key.span()), Sha256Hex(short_key.span()));
  EXPECT_EQ(Decrypt().status().code(), StatusCode::kDataLoss);
}

TEST_F(HttpClientTest, DataRoundTripBodies) {
  server_.On("encrypt-data", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"plain_text", "12345678"}}));
    return FakeReply::Json({{"key_id", kKey}, {"cipher_text", "AgDoAA=="}});
  });
  server_.On("decrypt-data", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"cipher_text", "AgDoAA=="}, {"encryption_context", {{"k", "v"}}}}));
    return FakeReply::Json({{"key_id", kKey}, {"plain_text", "12345678"}, {"plain_text_base64", "MTIzNDU2Nzg="}});
  });
  auto client = Make(TokenConfig());
  EXPECT_EQ(client->EncryptData(kKey, "12345678", {}).value(), "AgDoAA==");
  EXPECT_EQ(client->DecryptData("AgDoAA==", {{"k", "v"}}).value(), "12345678");
}

TEST_F(HttpClientTest, KeyActionsSendStringsAndParseEitherShape) {
  server_.On("create-key", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_alias", "vol1"}, {"origin", "external"}, {"key_description", "d"}}));
    return FakeReply::Json({{"key_info", {{"key_id", kKey}, {"domain_id", "dom1"}}}});
  });
  server_.On("list-keys", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"limit", "2"}, {"marker", "0"}, {"key_state", "2"}}));
    return FakeReply::Json({{"keys", {kKey}},
                            {"key_details", {{{"key_id", kKey}, {"key_state", "2"}, {"key_rotation_enabled", "false"}}}},
                            {"next_marker", "1"},
                            {"truncated", "true"},
                            {"total", 3}});
  });
  server_.On("schedule-key-deletion", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"pending_days", "7"}}));
    return FakeReply::Json({{"key_id", kKey}, {"key_state", "4"}});
  });
  server_.On("cancel-key-deletion", [](const FakeRequest&) {
    return FakeReply::Json({{"key_id", kKey}, {"key_state", "3"}});
  });
  server_.On("enable-key", [](const FakeRequest&) {
    return FakeReply::Json({{"key_info", {{"key_id", kKey}, {"key_state", "2"}}}});
  });
  server_.On("disable-key", [](const FakeRequest&) {
    return FakeReply::Json({{"key_info", {{"key_id", kKey}, {"key_state", "3"}}}});
  });
  server_.On("enable-key-rotation", [](const FakeRequest&) { return FakeReply{200, "", {}}; });
  server_.On("gen-random", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"random_data_length", "512"}}));
    return FakeReply::Json({{"random_data", std::string(128, 'A')}});
  });
  auto client = Make(TokenConfig());
  CreateKeyRequest create;
  create.key_alias = "vol1";
  create.origin = "external";
  create.key_description = "d";
  KeyInfo created = client->CreateKey(create).value();
  EXPECT_EQ(created.key_id, kKey);
  EXPECT_EQ(created.domain_id, "dom1");
  ListKeysRequest list_req;
  list_req.limit = 2;
  list_req.marker = 0;
  list_req.key_state = 2;
  KeyList list = client->ListKeys(list_req).value();
  EXPECT_EQ(list.total, 3);
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(list.next_marker, "1");
  ASSERT_EQ(list.key_details.size(), 1u);
  EXPECT_EQ(client->ScheduleKeyDeletion(kKey, 7).value().key_state, "4");
  EXPECT_EQ(client->CancelKeyDeletion(kKey).value().key_state, "3");
  EXPECT_EQ(client->EnableKey(kKey).value().key_state, "2");
  EXPECT_EQ(client->DisableKey(kKey).value().key_state, "3");
  EXPECT_TRUE(client->EnableKeyRotation(kKey).ok());
  std::vector<uint8_t> random = client->GenRandom(512).value();
  EXPECT_EQ(random.size(), 64u);
}

TEST_F(HttpClientTest, EmptyListKeysBodyIsAnEmptyObject) {
  server_.On("list-keys", [](const FakeRequest& r) {
    EXPECT_TRUE(r.json.is_object() && r.json.empty()) << r.body;
    return FakeReply::Json({{"keys", json::array()}, {"key_details", json::array()}, {"truncated", "false"}, {"total", 0}});
  });
  auto client = Make(TokenConfig());
  EXPECT_EQ(client->ListKeys({}).value().total, 0);
}

TEST_F(HttpClientTest, GrantActionsBodiesAndAnswers) {
  const std::string grant_id(64, 'a');
  server_.On("create-grant", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey},
                            {"grantee_principal", "u-bob"},
                            {"operations", {"decrypt-datakey", "describe-key"}},
                            {"name", "bob-read"},
                            {"retiring_principal", "u-bob"}}));
    return FakeReply::Json({{"grant_id", grant_id}});
  });
  server_.On("list-grants", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"limit", "10"}}));
    return FakeReply::Json({{"grants",
                             {{{"key_id", kKey},
                               {"grant_id", grant_id},
                               {"grantee_principal", "u-bob"},
                               {"grantee_principal_type", "user"},
                               {"operations", {"decrypt-datakey"}},
                               {"issuing_principal", "u-alice"},
                               {"creation_date", "1497341531000"},
                               {"name", "bob-read"},
                               {"retiring_principal", ""}}}},
                            {"next_marker", ""},
                            {"truncated", "false"},
                            {"total", 1}});
  });
  server_.On("revoke-grant", [&](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"grant_id", grant_id}}));
    return FakeReply{204, "", {}};
  });
  server_.On("retire-grant", [](const FakeRequest&) { return FakeReply{200, "{}", {}}; });
  server_.On("list-retirable-grants", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"limit", "5"}, {"marker", "5"}}));
    return FakeReply::Json({{"grants", json::array()}, {"total", "0"}});
  });
  auto client = Make(TokenConfig());
  CreateGrantRequest cg;
  cg.key_id = kKey;
  cg.grantee_principal = "u-bob";
  cg.operations = {"decrypt-datakey", "describe-key"};
  cg.name = "bob-read";
  cg.retiring_principal = "u-bob";
  EXPECT_EQ(client->CreateGrant(cg).value(), grant_id);
  ListGrantsRequest lg;
  lg.key_id = kKey;
  lg.limit = 10;
  GrantList grants = client->ListGrants(lg).value();
  ASSERT_EQ(grants.grants.size(), 1u);
  EXPECT_EQ(grants.grants[0].operations, std::vector<std::string>{"decrypt-datakey"});
  EXPECT_EQ(grants.grants[0].issuing_principal, "u-alice");
  EXPECT_EQ(grants.total, 1);
  EXPECT_TRUE(client->RevokeGrant(kKey, grant_id).ok());
  EXPECT_TRUE(client->RetireGrant(kKey, grant_id).ok());
  ListGrantsRequest lr;
  lr.limit = 5;
  lr.marker = 5;
  EXPECT_EQ(client->ListRetirableGrants(lr).value().total, 0);
}

TEST_F(HttpClientTest, ImportActionsBodiesAndAnswers) {
  server_.On("get-parameters-for-import", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}, {"wrapping_algorithm", "RSAES_OAEP_SHA_256"}}));
    return FakeReply::Json(
        {{"key_id", kKey}, {"import_token", "dG9rZW4="}, {"expiration_time", 1501578672}, {"public_key", "cGs="}});
  });
  server_.On("import-key-material", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey},
                            {"import_token", "dG9rZW4="},
                            {"encrypted_key_material", "bWF0"},
                            {"expiration_time", 1999999999}}));
    EXPECT_TRUE(r.json["expiration_time"].is_number());
    return FakeReply::Json(json::object());
  });
  server_.On("delete-imported-key-material", [](const FakeRequest& r) {
    EXPECT_EQ(r.json, json({{"key_id", kKey}}));
    return FakeReply::Json(json::object());
  });
  auto client = Make(TokenConfig());
  ImportParameters p = client->GetParametersForImport(kKey, "RSAES_OAEP_SHA_256").value();
  EXPECT_EQ(p.expiration_time, 1501578672);
  EXPECT_EQ(p.import_token, "dG9rZW4=");
  EXPECT_EQ(p.public_key, "cGs=");
  ImportKeyMaterialRequest imp;
  imp.key_id = kKey;
  imp.import_token = "dG9rZW4=";
  imp.encrypted_key_material = "bWF0";
  imp.expiration_time = 1999999999;
  EXPECT_TRUE(client->ImportKeyMaterial(imp).ok());
  EXPECT_TRUE(client->DeleteImportedKeyMaterial(kKey).ok());
}

TEST_F(HttpClientTest, MalformedSuccessAnswerIsAnError) {
  server_.On("create-grant", [](const FakeRequest&) { return FakeReply{200, "not json", {}}; });
  auto client = Make(TokenConfig());
  CreateGrantRequest cg;
  cg.key_id = kKey;
  Status s = client->CreateGrant(cg).status();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(client->stats().errors, 1u);
}

TEST_F(HttpClientTest, NewRejectsAnIncompleteConfig) {
  ConnectionConfig c = TokenConfig();
  c.endpoint.clear();
  StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::New(std::move(c));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kmsfs::kms
