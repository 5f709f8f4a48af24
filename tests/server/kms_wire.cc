#include "tests/server/kms_wire.h"

#include <openssl/evp.h>

#include <atomic>

namespace kmsfs::testing {
namespace {

std::string HexUpper(const std::vector<uint8_t>& b) {
  static const char* kDigits = "0123456789ABCDEF";
  std::string out;
  for (uint8_t c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

KmsReply ToKmsReply(const HttpReply& r) {
  KmsReply k;
  k.status = r.status;
  k.raw = r.body;
  k.headers = r.headers;
  k.body = Json::parse(r.body, nullptr, false);
  return k;
}

}  // namespace

std::string KmsReply::code() const {
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"].value("error_code", std::string("?"));
}

KmsReply KmsWire::CallInProject(const std::string& project, const std::string& action, const Json& body) const {
  return ToKmsReply(PostJson(endpoint_, "/v1.0/" + project + "/kms/" + action, body.dump(), token_));
}

KmsReply KmsWire::Call(const std::string& action, const Json& body) const {
  return CallInProject(user_.project_id, action, body);
}

KmsReply KmsWire::CallRaw(const std::string& action, const std::string& body) const {
  return ToKmsReply(PostJson(endpoint_, "/v1.0/" + user_.project_id + "/kms/" + action, body, token_));
}

KmsReply KmsWire::Get(const std::string& action) const {
  return ToKmsReply(
      SendHttp(endpoint_, "GET", "/v1.0/" + user_.project_id + "/kms/" + action, "", {{"X-Auth-Token", token_}}));
}

std::string KmsWire::CreateKey(const std::string& alias, const std::string& origin) const {
  KmsReply r = Call("create-key", {{"key_alias", alias}, {"origin", origin}});
  EXPECT_EQ(r.status, 200) << r.raw;
  if (!r.ok()) return "";
  return r.body["key_info"]["key_id"].get<std::string>();
}

std::string KmsWire::EncryptDek(const std::string& key_id, const std::vector<uint8_t>& dek, const Json& ctx) const {
  Json body = {{"key_id", key_id}, {"plain_text", DekPlainText(dek)},
               {"datakey_plain_length", std::to_string(dek.size())}};
  if (!ctx.is_null()) body["encryption_context"] = ctx;
  KmsReply r = Call("encrypt-datakey", body);
  EXPECT_EQ(r.status, 200) << r.raw;
  return r.ok() ? r.body["cipher_text"].get<std::string>() : "";
}

std::string KmsWire::GrantTo(const std::string& key_id, const std::string& grantee,
                             const std::vector<std::string>& ops, const Json& extra) const {
  Json body = {{"key_id", key_id}, {"grantee_principal", grantee}, {"operations", ops}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  KmsReply r = Call("create-grant", body);
  EXPECT_EQ(r.status, 200) << r.raw;
  return r.ok() ? r.body["grant_id"].get<std::string>() : "";
}

std::string KmsWire::StateOf(const std::string& key_id) const {
  KmsReply r = Call("describe-key", {{"key_id", key_id}});
  if (!r.ok()) return r.code();
  return r.body["key_info"]["key_state"].get<std::string>();
}

std::string DekPlainText(const std::vector<uint8_t>& dek) {
  std::vector<uint8_t> both = dek;
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(dek.data(), dek.size(), digest, &len, EVP_sha256(), nullptr);
  both.insert(both.end(), digest, digest + 32);
  return HexUpper(both);
}

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 31);
  return out;
}

std::string UniqueAlias() {
  static std::atomic<int> n{0};
  return "test-key-" + std::to_string(++n);
}

void KmsdTest::SetUp() {
  KmsdProcess::Options opts = KmsdOptions();
  users_ = opts.users;
  kmsd_ = KmsdProcess::Start(opts);
  ASSERT_NE(kmsd_, nullptr);
  ASSERT_GE(users_.size(), 3u);
  alice_ = KmsWire(kmsd_->endpoint(), users_[0], kmsd_->Login(users_[0]));
  bob_ = KmsWire(kmsd_->endpoint(), users_[1], kmsd_->Login(users_[1]));
  carol_ = KmsWire(kmsd_->endpoint(), users_[2], kmsd_->Login(users_[2]));
}

void KmsdTest::RefreshEndpoints() {
  for (KmsWire* w : {&alice_, &bob_, &carol_}) w->set_endpoint(kmsd_->endpoint());
}

}  // namespace kmsfs::testing
