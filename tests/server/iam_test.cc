// IAM fidelity: the service catalog in token answers, version documents,
// the token method, domain-scoped tokens, project names and the project
// list, as Keystone and the Huawei Cloud IAM answer them.
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

Json LoginBody(const KmsdUser& u, const Json& scope) {
  Json body = {{"auth",
                {{"identity",
                  {{"methods", {"password"}},
                   {"password", {{"user", {{"name", u.name}, {"password", u.password}, {"domain", {{"name", u.domain}}}}}}}}}}}};
  if (!scope.is_null()) body["auth"]["scope"] = scope;
  return body;
}

class KmsdIamTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.users[0].project_name = "eu-de";
    o.extra_args = {"--region", "eu-de"};
    return o;
  }
  HttpReply Login(const Json& body, const std::string& header_token = "") {
    return PostJson(kmsd_->endpoint(), "/v3/auth/tokens", body.dump(), header_token);
  }
};

TEST_F(KmsdIamTest, TokenAnswerCarriesACatalogWithTheKmsEndpoint) {
  HttpReply r = Login(LoginBody(users_[0], {{"project", {{"name", "eu-de"}}}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const Json token = Json::parse(r.body)["token"];
  EXPECT_EQ(token["project"]["id"], users_[0].project_id);
  EXPECT_EQ(token["project"]["name"], "eu-de");
  EXPECT_EQ(token["roles"][0]["name"], "kms_admin");
  std::map<std::string, Json> services;
  for (const Json& s : token["catalog"]) services[s["type"]] = s;
  ASSERT_TRUE(services.count("kms")) << r.body;
  ASSERT_TRUE(services.count("identity")) << r.body;
  const Json kms = services["kms"]["endpoints"][0];
  EXPECT_EQ(kms["url"], kmsd_->endpoint() + "/v1.0/" + users_[0].project_id);
  EXPECT_EQ(kms["interface"], "public");
  EXPECT_EQ(kms["region"], "eu-de");
  EXPECT_EQ(kms["region_id"], "eu-de");
  EXPECT_EQ(services["identity"]["endpoints"][0]["url"], kmsd_->endpoint() + "/v3");
  // A KMS call at the catalog's URL + "/kms/<action>" works.
  const std::string url = kms["url"];
  const std::string path = url.substr(kmsd_->endpoint().size()) + "/kms/list-keys";
  HttpReply call = PostJson(kmsd_->endpoint(), path, "{}", r.headers["X-Subject-Token"]);
  EXPECT_EQ(call.status, 200) << call.body;
}

TEST_F(KmsdIamTest, VersionDocumentsOfIdentityAndKms) {
  HttpReply v3 = SendHttp(kmsd_->endpoint(), "GET", "/v3", "", {});
  ASSERT_EQ(v3.status, 200) << v3.body;
  const Json version = Json::parse(v3.body)["version"];
  EXPECT_EQ(version["id"], "v3.0");
  EXPECT_EQ(version["status"], "stable");
  EXPECT_EQ(version["links"][0]["href"], kmsd_->endpoint() + "/v3/");
  HttpReply root = SendHttp(kmsd_->endpoint(), "GET", "/", "", {});
  ASSERT_EQ(root.status, 200) << root.body;
  const Json kms = Json::parse(root.body)["versions"][0];
  EXPECT_EQ(kms["id"], "v1.0");
  EXPECT_EQ(kms["status"], "CURRENT");
  EXPECT_EQ(kms["links"][0]["href"], kmsd_->endpoint() + "/v1.0/");
  HttpReply one = SendHttp(kmsd_->endpoint(), "GET", "/v1.0", "", {});
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Json::parse(one.body)["version"], kms);
}

TEST_F(KmsdIamTest, TokenMethodGivesANewTokenForAToken) {
  const Json body = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"id", alice_.token()}}}}}}}};
  HttpReply r = Login(body);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string fresh = r.headers["X-Subject-Token"];
  EXPECT_NE(fresh, alice_.token());
  EXPECT_EQ(Json::parse(r.body)["token"]["methods"], Json::array({"token"}));
  KmsWire wire(kmsd_->endpoint(), users_[0], fresh);
  EXPECT_EQ(wire.Call("list-keys", Json::object()).status, 200);
  // The token may come in X-Auth-Token instead.
  const Json header_only = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", Json::object()}}}}}};
  EXPECT_EQ(Login(header_only, alice_.token()).status, 201);
  EXPECT_EQ(Login(header_only, "not-a-token").status, 401);
  const Json bad = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"id", "nope"}}}}}}}};
  EXPECT_EQ(Login(bad).status, 401);
}

TEST_F(KmsdIamTest, DomainScopedTokensServeIamButNotKms) {
  HttpReply r = Login(LoginBody(users_[0], {{"domain", {{"name", users_[0].domain}}}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const Json token = Json::parse(r.body)["token"];
  EXPECT_FALSE(token.contains("project"));
  EXPECT_EQ(token["domain"]["name"], users_[0].domain);
  const std::string domain_token = r.headers["X-Subject-Token"];
  KmsWire wire(kmsd_->endpoint(), users_[0], domain_token);
  EXPECT_KMS_ERROR(wire.Call("list-keys", Json::object()), 403, "KMS.0305");
  HttpReply projects = SendHttp(kmsd_->endpoint(), "GET", "/v3/auth/projects", "", {{"X-Auth-Token", domain_token}});
  ASSERT_EQ(projects.status, 200) << projects.body;
  EXPECT_EQ(Json::parse(projects.body)["projects"][0]["id"], users_[0].project_id);
  // A domain token can be exchanged for a project token.
  const Json rescope = {{"auth",
                         {{"identity", {{"methods", {"token"}}, {"token", {{"id", domain_token}}}}},
                          {"scope", {{"project", {{"id", users_[0].project_id}}}}}}}};
  HttpReply project_token = Login(rescope);
  ASSERT_EQ(project_token.status, 201) << project_token.body;
  KmsWire rescoped(kmsd_->endpoint(), users_[0], project_token.headers["X-Subject-Token"]);
  EXPECT_EQ(rescoped.Call("list-keys", Json::object()).status, 200);
  EXPECT_EQ(Login(LoginBody(users_[0], {{"domain", {{"id", "someone-elses"}}}})).status, 401);
}

TEST_F(KmsdIamTest, ProjectsAreFoundByName) {
  HttpReply r = SendHttp(kmsd_->endpoint(), "GET", "/v3/projects?name=eu-de", "", {{"X-Auth-Token", alice_.token()}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json projects = Json::parse(r.body)["projects"];
  ASSERT_EQ(projects.size(), 1u);
  EXPECT_EQ(projects[0]["id"], users_[0].project_id);
  EXPECT_EQ(projects[0]["name"], "eu-de");
  HttpReply none = SendHttp(kmsd_->endpoint(), "GET", "/v3/projects?name=eu-nl", "", {{"X-Auth-Token", alice_.token()}});
  EXPECT_EQ(Json::parse(none.body)["projects"].size(), 0u);
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", "/v3/projects", "", {}).status, 401);
  // The project's id does not also work as its name once it has one.
  EXPECT_EQ(Login(LoginBody(users_[0], {{"project", {{"name", users_[0].project_id}}}})).status, 401);
  EXPECT_EQ(Login(LoginBody(users_[0], {{"project", {{"name", "eu-de"}, {"domain", {{"name", users_[0].domain}}}}}}))
                .status,
            201);
  EXPECT_EQ(Login(LoginBody(users_[0], {{"project", {{"name", "eu-de"}, {"domain", {{"name", "bob-domain"}}}}}}))
                .status,
            401);
}

}  // namespace
}  // namespace kmsfs::testing
