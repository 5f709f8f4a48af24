// AK/SK: access keys from the users file and from the IAM credentials APIs,
// and kmsd's check of SDK-HMAC-SHA256 signatures on every kind of call, as
// the cloud's API gateway checks them.
#include <ctime>

#include "tests/server/kms_wire.h"
#include "tests/server/signed_http.h"

namespace kmsfs::testing {
namespace {

constexpr const char* kAk = "QTWAOYTTINDUT2QVKYUC";
constexpr const char* kSk = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";

class KmsdAkSkTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.users[0].access_keys = {{kAk, kSk}};
    return o;
  }
  // A KMS action as alice, signed with `key`, in `project` (alice's by default).
  KmsReply Signed(const std::string& action, const Json& body, const SigningKey& key = {kAk, kSk, ""},
                  const SignOptions& options = {}, std::string project = "") {
    if (project.empty()) project = users_[0].project_id;
    HttpReply r = SendSigned(kmsd_->endpoint(), "POST", "/v1.0/" + project + "/kms/" + action, body.dump(), key,
                             project, options);
    KmsReply k;
    k.status = r.status;
    k.raw = r.body;
    k.headers = r.headers;
    k.body = Json::parse(r.body, nullptr, false);
    return k;
  }
  static std::string GatewayMessage(const KmsReply& r) { return r.body.value("error_msg", std::string()); }
};

TEST_F(KmsdAkSkTest, EveryKindOfKmsCallWorksSignedWithAnAccessKeyOfTheUsersFile) {
  KmsReply created = Signed("create-key", {{"key_alias", "signed"}});
  ASSERT_EQ(created.status, 200) << created.raw;
  const std::string key = created.body["key_info"]["key_id"];
  EXPECT_EQ(created.body["key_info"]["domain_id"], alice_.Call("describe-key", {{"key_id", key}}).body["key_info"]["domain_id"]);
  const std::string dek = DekPlainText(Bytes(64, 5));
  KmsReply wrapped = Signed("encrypt-datakey", {{"key_id", key}, {"plain_text", dek}, {"datakey_plain_length", "64"}});
  ASSERT_EQ(wrapped.status, 200) << wrapped.raw;
  KmsReply unwrapped = Signed("decrypt-datakey", {{"key_id", key}, {"cipher_text", wrapped.body["cipher_text"]},
                                                  {"datakey_cipher_length", "64"}});
  ASSERT_EQ(unwrapped.status, 200) << unwrapped.raw;
  EXPECT_EQ(unwrapped.body["data_key"], dek.substr(0, 128));
  // What a token made, a signature opens, and the other way round.
  KmsReply by_token = alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", wrapped.body["cipher_text"]},
                                                      {"datakey_cipher_length", "64"}});
  EXPECT_EQ(by_token.status, 200) << by_token.raw;
  EXPECT_EQ(Signed("list-keys", Json::object()).body["total"], alice_.Call("list-keys", Json::object()).body["total"]);
  ASSERT_EQ(Signed("create-datakey", {{"key_id", key}}).status, 200);
  // A GET with a query (the IAM API, signed the same way).
  HttpReply listed = SendSigned(kmsd_->endpoint(), "GET", "/v3.0/OS-CREDENTIAL/credentials?user_id=" + users_[0].id,
                                "", {kAk, kSk, ""});
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(Json::parse(listed.body)["credentials"][0]["access"], kAk);
  // Another user's query is refused even when signed correctly.
  HttpReply others = SendSigned(kmsd_->endpoint(), "GET", "/v3.0/OS-CREDENTIAL/credentials?user_id=" + users_[1].id,
                                "", {kAk, kSk, ""});
  EXPECT_EQ(others.status, 403) << others.body;
}

TEST_F(KmsdAkSkTest, BadSignaturesGetTheGatewaysAnswer) {
  auto expect_refused = [&](const KmsReply& r, const std::string& detail) {
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_EQ(r.body.value("error_code", std::string()), "APIGW.0301") << r.raw;
    EXPECT_NE(GatewayMessage(r).find("Incorrect IAM authentication information: " + detail), std::string::npos)
        << r.raw;
    EXPECT_EQ(r.body.value("request_id", std::string()), r.headers.count("X-Request-Id") ? r.headers.at("X-Request-Id") : "?");
  };
  const Json body = {{"random_data_length", "512"}};
  expect_refused(Signed("gen-random", body, {kAk, std::string(kSk) + "x", ""}), "verify aksk signature fail");
  expect_refused(Signed("gen-random", body, {"NOSUCHACCESSKEY00000", kSk, ""}), "ak not exist");
  SignOptions stale;
  stale.date_sec = static_cast<int64_t>(std::time(nullptr)) - 16 * 60;
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, stale), "x-sdk-date is expired");
  SignOptions future;
  future.date_sec = static_cast<int64_t>(std::time(nullptr)) + 16 * 60;
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, future), "x-sdk-date is expired");
  SignOptions tampered;
  tampered.send_body_instead = true;
  tampered.body_sent_instead = R"({"random_data_length":"1024"})";
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, tampered), "verify aksk signature fail");
  SignOptions unsigned_payload;
  unsigned_payload.extra_headers = {{"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}};
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, unsigned_payload), "kmsd requires the body to be signed");
  expect_refused(Signed("gen-random", body, {kAk, kSk, "a-security-token"}),
                 "x-security-token given for a permanent access key");
  // A malformed Authorization header.
  HttpReply malformed = SendHttp(kmsd_->endpoint(), "POST", "/v1.0/" + users_[0].project_id + "/kms/gen-random",
                                 body.dump(), {{"Authorization", "SDK-HMAC-SHA256 Access=" + std::string(kAk)}});
  EXPECT_EQ(malformed.status, 401) << malformed.body;
  EXPECT_NE(malformed.body.find("APIGW.0301"), std::string::npos);
  // The date must be signed, else an old request could be sent again with a new one.
  SignOptions date_unsigned;
  date_unsigned.signed_headers_instead = "content-type;host;x-project-id";
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, date_unsigned),
                 "verify aksk signature fail: x-sdk-date is not among the signed headers");
  // A signed header changed or repeated after signing.
  SignOptions changed;
  changed.headers_after_signing = {{"X-Project-Id", users_[1].project_id}};
  changed.replace_signed_headers = true;
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, changed), "verify aksk signature fail");
  SignOptions repeated;
  repeated.headers_after_signing = {{"X-Project-Id", users_[1].project_id}};
  expect_refused(Signed("gen-random", body, {kAk, kSk, ""}, repeated),
                 "verify aksk signature fail: signed header x-project-id is sent twice");
  // Within 15 minutes is fine.
  SignOptions skewed;
  skewed.date_sec = static_cast<int64_t>(std::time(nullptr)) - 14 * 60;
  EXPECT_EQ(Signed("gen-random", body, {kAk, kSk, ""}, skewed).status, 200);
}

TEST_F(KmsdAkSkTest, ASignatureCoversTheActionAndTheProject) {
  // The signed request names alice's project; another project is refused as
  // with a token, and a signed request cannot be redirected to another action.
  EXPECT_KMS_ERROR(Signed("list-keys", Json::object(), {kAk, kSk, ""}, {}, users_[1].project_id), 403, "KMS.0321");
  HttpReply r = SendSigned(kmsd_->endpoint(), "POST", "/v1.0/" + users_[0].project_id + "/kms/list-keys", "{}",
                           {kAk, kSk, ""}, users_[0].project_id);
  ASSERT_EQ(r.status, 200);
}

TEST_F(KmsdAkSkTest, PermanentKeysFromTheCredentialsApiWorkUntilDisabledOrDeleted) {
  const std::string base = "/v3.0/OS-CREDENTIAL/credentials";
  HttpReply made = PostJson(kmsd_->endpoint(), base,
                            Json({{"credential", {{"user_id", users_[0].id}, {"description", "ci"}}}}).dump(),
                            alice_.token());
  ASSERT_EQ(made.status, 201) << made.body;
  const Json credential = Json::parse(made.body)["credential"];
  EXPECT_EQ(credential["user_id"], users_[0].id);
  EXPECT_EQ(credential["status"], "active");
  EXPECT_EQ(credential["description"], "ci");
  EXPECT_EQ(credential["access"].get<std::string>().size(), 20u);
  EXPECT_EQ(credential["secret"].get<std::string>().size(), 40u);
  const SigningKey key{credential["access"], credential["secret"], ""};
  EXPECT_EQ(Signed("list-keys", Json::object(), key).status, 200);

  // Listed (with the users file's key) without secrets; shown; another user may not see it.
  HttpReply list = SendHttp(kmsd_->endpoint(), "GET", base + "?user_id=" + users_[0].id, "",
                            {{"X-Auth-Token", alice_.token()}});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Json::parse(list.body)["credentials"].size(), 2u);
  EXPECT_EQ(list.body.find(key.secret), std::string::npos);
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", base + "/" + key.access, "", {{"X-Auth-Token", bob_.token()}}).status,
            404);
  EXPECT_EQ(PostJson(kmsd_->endpoint(), base, Json({{"credential", {{"user_id", users_[0].id}}}}).dump(), bob_.token())
                .status,
            403);
  // Two keys per user at most (the file's key counts).
  HttpReply third = PostJson(kmsd_->endpoint(), base, Json({{"credential", {{"user_id", users_[0].id}}}}).dump(),
                             alice_.token());
  EXPECT_EQ(third.status, 409) << third.body;

  HttpReply off = SendHttp(kmsd_->endpoint(), "PUT", base + "/" + key.access,
                           Json({{"credential", {{"status", "inactive"}}}}).dump(), {{"X-Auth-Token", alice_.token()}});
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(Json::parse(off.body)["credential"]["status"], "inactive");
  EXPECT_EQ(Signed("list-keys", Json::object(), key).status, 401);
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "DELETE", base + "/" + key.access, "", {{"X-Auth-Token", alice_.token()}})
                .status,
            204);
  EXPECT_EQ(SendHttp(kmsd_->endpoint(), "GET", base + "/" + key.access, "", {{"X-Auth-Token", alice_.token()}})
                .status,
            404);
}

TEST_F(KmsdAkSkTest, TemporaryKeysNeedTheirSecurityTokenAndComeFromAToken) {
  const Json request = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"duration_seconds", 900}}}}}}}};
  HttpReply made = PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/securitytokens", request.dump(), alice_.token());
  ASSERT_EQ(made.status, 201) << made.body;
  const Json c = Json::parse(made.body)["credential"];
  ASSERT_TRUE(c.contains("expires_at")) << made.body;
  const SigningKey key{c["access"], c["secret"], c["securitytoken"]};
  EXPECT_EQ(Signed("list-keys", Json::object(), key).status, 200);
  KmsReply without = Signed("list-keys", Json::object(), {key.access, key.secret, ""});
  EXPECT_EQ(without.status, 401);
  EXPECT_NE(GatewayMessage(without).find("x-security-token is missing"), std::string::npos) << without.raw;
  EXPECT_EQ(Signed("list-keys", Json::object(), {key.access, key.secret, key.security_token + "x"}).status, 401);
  // The token id may be in the body instead of the header; a bad token gets nothing.
  Json with_id = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"id", bob_.token()}}}}}}}};
  HttpReply bobs = PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/securitytokens", with_id.dump(), "");
  ASSERT_EQ(bobs.status, 201) << bobs.body;
  Json bad_id = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"id", "nope"}}}}}}}};
  EXPECT_EQ(PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/securitytokens", bad_id.dump(), "").status, 401);
  Json too_long = {{"auth", {{"identity", {{"methods", {"token"}}, {"token", {{"duration_seconds", 86401}}}}}}}};
  EXPECT_EQ(PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/securitytokens", too_long.dump(), alice_.token()).status,
            400);
}

TEST_F(KmsdAkSkTest, AUserRemovedFromTheUsersFileLosesItsAccessKeys) {
  ASSERT_EQ(Signed("list-keys", Json::object()).status, 200);
  HttpReply made = PostJson(kmsd_->endpoint(), "/v3.0/OS-CREDENTIAL/credentials",
                            Json({{"credential", {{"user_id", users_[0].id}}}}).dump(), alice_.token());
  ASSERT_EQ(made.status, 201);
  const Json c = Json::parse(made.body)["credential"];
  KmsdProcess::Options without_alice = KmsdOptions();
  without_alice.users.erase(without_alice.users.begin());
  without_alice.data_dir = kmsd_->data_dir();
  ASSERT_TRUE(kmsd_->Stop() == 0);
  kmsd_ = KmsdProcess::Start(without_alice);
  ASSERT_NE(kmsd_, nullptr);
  KmsReply file_key = Signed("list-keys", Json::object());
  EXPECT_EQ(file_key.status, 401);
  EXPECT_NE(GatewayMessage(file_key).find("ak not exist"), std::string::npos) << file_key.raw;
  EXPECT_EQ(Signed("list-keys", Json::object(), {c["access"], c["secret"], ""}).status, 401);
}

}  // namespace
}  // namespace kmsfs::testing
