#include "kms/api_json.h"

#include <gtest/gtest.h>

namespace kmsfs::kms {
namespace {

using nlohmann::json;

SecureString S(const std::string& s) { return SecureString(s.begin(), s.end()); }

TEST(ApiJsonTest, TakeHexSecretFieldDecodesAndScrubsTheBody) {
  SecureString body = S(R"({"key_id":"k","data_key" : "00FFab10","datakey_length":"4"})");
  StatusOr<SecretBytes> key = TakeHexSecretField(body, "data_key");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->Equals(std::vector<uint8_t>{0x00, 0xff, 0xab, 0x10}));
  EXPECT_EQ(std::string(body.c_str()), R"({"key_id":"k","data_key" : "00000000","datakey_length":"4"})");
  std::optional<json> parsed = ParseObject(body);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(IsTakenSecretField(*parsed, "data_key", 4));
}

TEST(ApiJsonTest, TakeHexSecretFieldSkipsTheNameUsedAsAValue) {
  SecureString body = S(R"({"note":"data_key","data_key":"AB"})");
  StatusOr<SecretBytes> key = TakeHexSecretField(body, "data_key");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->Equals(std::vector<uint8_t>{0xab}));
}

TEST(ApiJsonTest, TakeHexSecretFieldRejectsMissingOrNonHex) {
  SecureString missing = S(R"({"key_id":"k"})");
  EXPECT_FALSE(TakeHexSecretField(missing, "data_key").ok());
  SecureString bad = S(R"({"data_key":"XYZ1"})");
  EXPECT_FALSE(TakeHexSecretField(bad, "data_key").ok());
  EXPECT_EQ(std::string(bad.c_str()), R"({"data_key":"0000"})");  // scrubbed even when rejected
  SecureString number = S(R"({"data_key":12})");
  EXPECT_FALSE(TakeHexSecretField(number, "data_key").ok());
}

TEST(ApiJsonTest, TakenFieldMustBeTheTopLevelMember) {
  // An escaped quote in a key makes the scan see a "data_key" that is not the real member.
  SecureString body = S(R"({"x\"data_key":"AB","data_key":"CD"})");
  StatusOr<SecretBytes> key = TakeHexSecretField(body, "data_key");
  ASSERT_TRUE(key.ok());
  std::optional<json> parsed = ParseObject(body);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(IsTakenSecretField(*parsed, "data_key", key->size()));
}

TEST(ApiJsonTest, AppendHexUpperMatchesKnownText) {
  SecureString out;
  AppendHexUpper(std::vector<uint8_t>{0x00, 0x09, 0x0a, 0x9f, 0xf5, 0xff}, out);
  EXPECT_EQ(std::string(out.c_str()), "00090A9FF5FF");
}

TEST(ApiJsonTest, SplicedSecretMemberParsesBackExactly) {
  const std::string password = "p\"a\\s\ns\x01w";
  SecureString escaped;
  AppendJsonEscaped({reinterpret_cast<const uint8_t*>(password.data()), password.size()}, escaped);
  SecureString body = SpliceSecretMember("password", escaped, json{{"name", "alice"}, {"domain", {{"name", "d"}}}});
  json parsed = json::parse(body.c_str());
  EXPECT_EQ(parsed["password"], password);
  EXPECT_EQ(parsed["name"], "alice");
  EXPECT_EQ(parsed["domain"]["name"], "d");
}

TEST(ApiJsonTest, ErrorBodiesOfKmsAndKeystoneShapes) {
  ErrorBody kms = ParseErrorBody(R"({"error":{"error_code":"KMS.0207","error_msg":"The key does not exist."}})");
  EXPECT_EQ(kms.code, "KMS.0207");
  EXPECT_EQ(kms.message, "The key does not exist.");
  ErrorBody keystone = ParseErrorBody(R"({"error":{"code":401,"message":"bad password","title":"Unauthorized"}})");
  EXPECT_EQ(keystone.code, "");
  EXPECT_EQ(keystone.message, "bad password");
  ErrorBody html = ParseErrorBody("<html>502</html>");
  EXPECT_TRUE(html.code.empty() && html.message.empty());
}

TEST(ApiJsonTest, ScalarsAreReadTolerantly) {
  json o = {{"a", "12"}, {"b", 12}, {"c", "x"}, {"t", "true"}, {"u", true}, {"f", "false"}};
  EXPECT_EQ(GetInt(o, "a"), 12);
  EXPECT_EQ(GetInt(o, "b"), 12);
  EXPECT_EQ(GetInt(o, "c"), std::nullopt);
  EXPECT_EQ(GetInt(o, "missing"), std::nullopt);
  EXPECT_EQ(GetText(o, "b"), "12");
  EXPECT_EQ(GetText(o, "missing"), "");
  EXPECT_TRUE(GetBool(o, "t"));
  EXPECT_TRUE(GetBool(o, "u"));
  EXPECT_FALSE(GetBool(o, "f"));
}

TEST(ApiJsonTest, ListsParseWithUnknownFieldsAndIntegerTotal) {
  json o = json::parse(R"({"keys":["k1","k2"],"key_details":[{"key_id":"k1","key_state":"2","new_field":1},
      {"key_id":"k2","key_state":"3"}],"next_marker":"2","truncated":"true","total":5,"extra":{}})");
  KeyList list = ParseKeyList(o);
  ASSERT_EQ(list.keys.size(), 2u);
  ASSERT_EQ(list.key_details.size(), 2u);
  EXPECT_EQ(list.key_details[1].key_state, "3");
  EXPECT_EQ(list.next_marker, "2");
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(list.total, 5);
}

TEST(ApiJsonTest, EmptyBodyReadsAsEmptyObject) {
  std::optional<json> parsed = ParseObject("");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->is_object() && parsed->empty());
  EXPECT_FALSE(ParseObject("[1]"));
  EXPECT_FALSE(ParseObject("{"));
}

}  // namespace
}  // namespace kmsfs::kms
