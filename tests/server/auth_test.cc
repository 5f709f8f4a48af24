// IAM emulation (POST/GET /v3/auth/tokens) and the token checks every KMS
// call makes (spec §1.2, §1.8 step 2), plus URL and method errors.
#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>

#include "tests/server/kms_wire.h"
#include "tests/server/raw_http.h"

namespace kmsfs::testing {
namespace {

Json PasswordBody(const KmsdUser& u, const Json& scope = nullptr, const Json& user_override = nullptr) {
  Json user = {{"name", u.name}, {"password", u.password}, {"domain", {{"name", u.domain}}}};
  if (!user_override.is_null()) user = user_override;
  Json body = {{"auth", {{"identity", {{"methods", {"password"}}, {"password", {{"user", user}}}}}}}};
  if (!scope.is_null()) body["auth"]["scope"] = scope;
  return body;
}

KmsReply Login(const KmsdProcess& kmsd, const Json& body) {
  HttpReply r = PostJson(kmsd.endpoint(), "/v3/auth/tokens", body.dump(), "");
  KmsReply k;
  k.status = r.status;
  k.raw = r.body;
  k.headers = r.headers;
  k.body = Json::parse(r.body, nullptr, false);
  return k;
}

// POST /v3/auth/tokens from `source_ip`; the raw answer (status line first).
std::string LoginFrom(const KmsdProcess& kmsd, const std::string& source_ip, const Json& body) {
  int fd = ConnectFrom(kmsd.port(), source_ip);
  if (fd < 0) return "";
  const std::string text = body.dump();
  SendAll(fd, "POST /v3/auth/tokens HTTP/1.1\r\nHost: kmsd\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text);
  std::string answer = ReadAnswer(fd, std::chrono::seconds(30));
  ::close(fd);
  return answer;
}

int StatusOf(const std::string& answer) {
  return answer.size() > 12 ? std::atoi(answer.substr(9, 3).c_str()) : 0;
}

class KmsdAuthTest : public KmsdTest {};

TEST_F(KmsdAuthTest, LoginReturns201WithSubjectTokenAndKeystoneBody) {
  const KmsdUser& alice = users_[0];
  KmsReply r = Login(*kmsd_, PasswordBody(alice, {{"project", {{"id", alice.project_id}}}}));
  ASSERT_EQ(r.status, 201) << r.raw;
  ASSERT_TRUE(r.headers.count("X-Subject-Token"));
  EXPECT_GE(r.headers["X-Subject-Token"].size(), 32u);
  const Json& t = r.body["token"];
  EXPECT_EQ(t["project"]["id"], alice.project_id);
  EXPECT_EQ(t["project"]["name"], alice.project_id);
  EXPECT_EQ(t["user"]["id"], alice.id);
  EXPECT_EQ(t["user"]["name"], "alice");
  EXPECT_EQ(t["user"]["domain"]["name"], "alice-domain");
  EXPECT_EQ(t["user"]["domain"]["id"].get<std::string>().size(), 32u);
  EXPECT_TRUE(std::regex_match(t["expires_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  // The token works for a KMS call.
  KmsWire wire(kmsd_->endpoint(), alice, r.headers["X-Subject-Token"]);
  EXPECT_EQ(wire.Call("list-keys", Json::object()).status, 200);
}

TEST_F(KmsdAuthTest, LoginAcceptsProjectNameUserIdDomainIdAndNoScope) {
  const KmsdUser& bob = users_[1];
  EXPECT_EQ(Login(*kmsd_, PasswordBody(bob, {{"project", {{"name", bob.project_id}}}})).status, 201);
  EXPECT_EQ(Login(*kmsd_, PasswordBody(bob, nullptr, {{"id", bob.id}, {"password", bob.password}})).status, 201);
  KmsReply no_scope = Login(*kmsd_, PasswordBody(bob));
  ASSERT_EQ(no_scope.status, 201);
  EXPECT_EQ(no_scope.body["token"]["project"]["id"], bob.project_id);
  std::string domain_id = no_scope.body["token"]["user"]["domain"]["id"];
  Json by_domain_id = {{"name", bob.name}, {"password", bob.password}, {"domain", {{"id", domain_id}}}};
  EXPECT_EQ(Login(*kmsd_, PasswordBody(bob, nullptr, by_domain_id)).status, 201);
}

TEST_F(KmsdAuthTest, BadCredentialsAre401WithKeystoneError) {
  KmsdUser alice = users_[0];
  KmsdUser wrong_pw = alice;
  wrong_pw.password = "nope";
  KmsdUser wrong_domain = alice;
  wrong_domain.domain = "bob-domain";
  KmsdUser unknown = alice;
  unknown.name = "mallory";
  for (const KmsdUser& u : {wrong_pw, wrong_domain, unknown}) {
    KmsReply r = Login(*kmsd_, PasswordBody(u));
    EXPECT_EQ(r.status, 401) << u.name << " " << r.raw;
    EXPECT_EQ(r.body["error"]["code"], 401);
    EXPECT_EQ(r.body["error"]["title"], "Unauthorized");
    EXPECT_FALSE(r.headers.count("X-Subject-Token"));
  }
}

TEST_F(KmsdAuthTest, ScopeToAnotherUsersProjectIs401) {
  KmsReply r = Login(*kmsd_, PasswordBody(users_[0], {{"project", {{"id", users_[1].project_id}}}}));
  EXPECT_EQ(r.status, 401) << r.raw;
  KmsReply other_domain = Login(*kmsd_, PasswordBody(users_[0], {{"domain", {{"name", "bob-domain"}}}}));
  EXPECT_EQ(other_domain.status, 401) << other_domain.raw;
}

TEST_F(KmsdAuthTest, MalformedLoginBodiesAre400) {
  for (const std::string& body : {std::string("not json"), std::string("[]"), std::string("{}"),
                                  std::string(R"({"auth":1})"), std::string(R"({"auth":{"identity":{}}})"),
                                  std::string(R"({"auth":{"identity":{"methods":["password"],"password":{}}}})"),
                                  std::string(R"({"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"x"}}}}})")}) {
    HttpReply r = PostJson(kmsd_->endpoint(), "/v3/auth/tokens", body, "");
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["error"]["code"], 400) << r.body;
  }
}

TEST_F(KmsdAuthTest, TokenIntrospectionReturnsTheTokenBody) {
  HttpReply r = SendHttp(kmsd_->endpoint(), "GET", "/v3/auth/tokens", "",
                         {{"X-Auth-Token", alice_.token()}, {"X-Subject-Token", bob_.token()}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["token"]["user"]["id"], users_[1].id);
  EXPECT_EQ(j["token"]["project"]["id"], users_[1].project_id);
  HttpReply unknown = SendHttp(kmsd_->endpoint(), "GET", "/v3/auth/tokens", "",
                               {{"X-Auth-Token", alice_.token()}, {"X-Subject-Token", "nope"}});
  EXPECT_EQ(unknown.status, 404);
  HttpReply no_auth = SendHttp(kmsd_->endpoint(), "GET", "/v3/auth/tokens", "", {{"X-Subject-Token", bob_.token()}});
  EXPECT_EQ(no_auth.status, 401);
}

TEST_F(KmsdAuthTest, MissingOrBlankTokenIs0301) {
  KmsWire none(kmsd_->endpoint(), users_[0], "");
  EXPECT_KMS_ERROR(none.Call("list-keys", Json::object()), 403, "KMS.0301");
  KmsWire blank(kmsd_->endpoint(), users_[0], "   ");
  EXPECT_KMS_ERROR(blank.Call("list-keys", Json::object()), 403, "KMS.0301");
}

TEST_F(KmsdAuthTest, UnknownTokenIs0302) {
  KmsWire forged(kmsd_->endpoint(), users_[0], alice_.token() + "x");
  EXPECT_KMS_ERROR(forged.Call("list-keys", Json::object()), 403, "KMS.0302");
}

TEST_F(KmsdAuthTest, TokenOfAnotherProjectIs0321) {
  EXPECT_KMS_ERROR(alice_.CallInProject(users_[1].project_id, "list-keys", Json::object()), 403, "KMS.0321");
  EXPECT_KMS_ERROR(alice_.CallInProject("not-a-project", "list-keys", Json::object()), 403, "KMS.0321");
}

TEST_F(KmsdAuthTest, TokenChecksComeBeforeBodyChecks) {
  KmsWire none(kmsd_->endpoint(), users_[0], "");
  EXPECT_KMS_ERROR(none.CallRaw("create-key", "{{{garbage"), 403, "KMS.0301");
  EXPECT_KMS_ERROR(alice_.CallInProject(users_[1].project_id, "create-key", "nonsense"), 403, "KMS.0321");
}

TEST_F(KmsdAuthTest, UnknownActionIs0201BeforeTokenChecks) {
  KmsWire none(kmsd_->endpoint(), users_[0], "");
  EXPECT_KMS_ERROR(none.Call("no-such-action", Json::object()), 400, "KMS.0201");
  EXPECT_KMS_ERROR(alice_.Call("no-such-action", Json::object()), 400, "KMS.0201");
  EXPECT_KMS_ERROR(alice_.Call("create-key/extra", Json::object()), 400, "KMS.0201");
}

TEST_F(KmsdAuthTest, WrongMethodIs0215) {
  for (const char* method : {"GET", "PUT", "DELETE", "PATCH"}) {
    HttpReply r = SendHttp(kmsd_->endpoint(), method, "/v1.0/" + users_[0].project_id + "/kms/create-key", "{}",
                           {{"X-Auth-Token", alice_.token()}});
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_NE(r.body.find("KMS.0215"), std::string::npos) << r.body;
  }
}

TEST_F(KmsdAuthTest, KmsApisKmsdLacksGetTheGatewaysUnpublishedApiAnswer) {
  for (const std::string& path : {"/v1.0/" + users_[0].project_id + "/kms/sign",
                                 "/v1.0/" + users_[0].project_id + "/kms/key-policies/x",
                                 "/v1.0/" + users_[0].project_id + "/keystores", std::string("/v2/p/kms/keys")}) {
    HttpReply r = SendHttp(kmsd_->endpoint(), "POST", path, "{}", {{"X-Auth-Token", alice_.token()}});
    EXPECT_EQ(r.status, 404) << path;
    const Json body = Json::parse(r.body, nullptr, false);
    EXPECT_EQ(body.value("error_code", std::string()), "APIGW.0101") << path << ": " << r.body;
    EXPECT_EQ(body.value("error_msg", std::string()),
              "The API does not exist or has not been published in the environment");
  }
}

TEST_F(KmsdAuthTest, AliasAndTagApisGetTheGatewaysUnpublishedApiAnswer) {
  const std::string kms = "/v1.0/" + users_[0].project_id + "/kms";
  const std::string key = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
  const std::pair<const char*, std::string> calls[] = {
      {"POST", kms + "/aliases"},          {"GET", kms + "/aliases"},
      {"DELETE", kms + "/aliases"},        {"POST", kms + "/alias/associate"},
      {"GET", kms + "/tags"},              {"POST", kms + "/resource_instances/action"},
      {"GET", kms + "/" + key + "/tags"},  {"POST", kms + "/" + key + "/tags"},
      {"POST", kms + "/" + key + "/tags/action"}, {"DELETE", kms + "/" + key + "/tags/owner"},
  };
  for (const auto& [method, path] : calls) {
    HttpReply r = SendHttp(kmsd_->endpoint(), method, path, "{}", {{"X-Auth-Token", alice_.token()}});
    EXPECT_EQ(r.status, 404) << method << " " << path;
    const Json body = Json::parse(r.body, nullptr, false);
    EXPECT_EQ(body.value("error_code", std::string()), "APIGW.0101") << path << ": " << r.body;
  }
  // Actions of the same prefix that kmsd serves are not caught by these routes.
  EXPECT_EQ(alice_.Call("list-keys", Json::object()).status, 200);
}

TEST_F(KmsdAuthTest, UnknownPathsAreJson404) {
  HttpReply r = SendHttp(kmsd_->endpoint(), "GET", "/v9/whatever", "", {});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("KMS.0201"), std::string::npos);
  EXPECT_EQ(r.headers["X-Request-Id"].size(), 32u);
}

TEST_F(KmsdAuthTest, EveryAnswerCarriesARequestId) {
  KmsReply ok = alice_.Call("list-keys", Json::object());
  KmsReply err = alice_.Call("describe-key", {{"key_id", "nope"}});
  for (const KmsReply& r : {ok, err}) {
    ASSERT_TRUE(r.headers.count("X-Request-Id"));
    EXPECT_TRUE(std::regex_match(r.headers.at("X-Request-Id"), std::regex("[0-9a-f]{32}")));
  }
  EXPECT_NE(ok.headers.at("X-Request-Id"), err.headers.at("X-Request-Id"));
}

TEST_F(KmsdAuthTest, RepeatedFailedLoginsAreAnswered429UntilTheirDelayEnds) {
  KmsdUser wrong = users_[0];
  wrong.password = "not-" + wrong.password;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(StatusOf(LoginFrom(*kmsd_, "127.0.0.1", PasswordBody(wrong))), 401) << i;
  const auto delayed_at = std::chrono::steady_clock::now();
  // Refused without a look at the password, even the right one, for a while.
  const std::string refused = LoginFrom(*kmsd_, "127.0.0.1", PasswordBody(users_[0]));
  EXPECT_EQ(StatusOf(refused), 429) << refused;
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos) << refused;
  EXPECT_NE(refused.find("\"code\":429"), std::string::npos) << refused;
  // Every loopback address is one client (any local user may bind any of
  // them): another one is delayed too. Other users are not delayed.
  EXPECT_EQ(StatusOf(LoginFrom(*kmsd_, "127.0.0.2", PasswordBody(users_[0]))), 429);
  EXPECT_EQ(StatusOf(LoginFrom(*kmsd_, "127.0.0.1", PasswordBody(users_[1]))), 201);
  // The delay ends by itself.
  int status = 0;
  const auto deadline = delayed_at + std::chrono::seconds(10);
  while (status != 201 && std::chrono::steady_clock::now() < deadline) {
    status = StatusOf(LoginFrom(*kmsd_, "127.0.0.1", PasswordBody(users_[0])));
    if (status == 429) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // waiting out the delay
  }
  EXPECT_EQ(status, 201);
  EXPECT_GE(std::chrono::steady_clock::now() - delayed_at, std::chrono::milliseconds(900));
}

// The users file holds plain passwords, so kmsd hashes them at full cost.
class KmsdFullCostPasswordTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.cheap_password_hashes = false;
    return o;
  }
};

// A login under an unknown name is answered exactly as one with a wrong
// password (the same work is done: KmsdPasswordHasherTest.
// UnknownUsersCostWhatTheStrongestKnownHashCosts), so the answer tells
// nobody which names exist.
TEST_F(KmsdFullCostPasswordTest, UnknownNamesAreAnsweredExactlyLikeWrongPasswords) {
  auto answer = [&](const Json& body) {
    const std::string reply = LoginFrom(*kmsd_, "127.0.0.1", body);
    EXPECT_EQ(StatusOf(reply), 401) << reply;
    const size_t end = reply.find("\r\n\r\n");
    return end == std::string::npos ? reply : reply.substr(end + 4);
  };
  KmsdUser wrong = users_[0];
  wrong.password = "not-" + wrong.password;
  KmsdUser nobody = users_[0];
  nobody.name = "nobody-by-that-name";
  EXPECT_EQ(answer(PasswordBody(nobody)), answer(PasswordBody(wrong)));
}

TEST_F(KmsdFullCostPasswordTest, ParallelLoginsDoNotExhaustMemory) {
  const long before_kb = ProcStatusKb(kmsd_->pid(), "VmHWM");
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      const int status = StatusOf(LoginFrom(*kmsd_, "127.0.1." + std::to_string(i + 1), PasswordBody(users_[i % 3])));
      if (status == 201 || status == 429) ++answered;  // 429: no turn within the wait
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered.load(), 12);
  const long peak_kb = ProcStatusKb(kmsd_->pid(), "VmHWM");
  // Two Argon2id computations of 64 MiB at a time, not twelve.
  EXPECT_LT(peak_kb - before_kb, 3 * 64 * 1024) << before_kb << " KiB before, peak " << peak_kb;
}

class KmsdShortTokenTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.token_ttl_sec = 1;
    return o;
  }
};

TEST_F(KmsdShortTokenTest, ExpiredTokenIs0303) {
  ASSERT_EQ(alice_.Call("list-keys", Json::object()).status, 200);
  // Waiting for time to pass (the token's 1 s lifetime), not for readiness.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_KMS_ERROR(alice_.Call("list-keys", Json::object()), 403, "KMS.0303");
  KmsWire fresh(kmsd_->endpoint(), users_[0], kmsd_->Login(users_[0]));
  EXPECT_EQ(fresh.Call("list-keys", Json::object()).status, 200);
}

}  // namespace
}  // namespace kmsfs::testing
