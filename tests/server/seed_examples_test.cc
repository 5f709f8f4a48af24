// The example requests of the three original API pages (seeds/*.md), sent
// exactly as written there, with only the ids substituted.
#include <regex>

#include "tests/server/byok_util.h"
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

std::string Substitute(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class KmsdSeedExamplesTest : public KmsdTest {};

TEST_F(KmsdSeedExamplesTest, EncryptDatakeyExampleRequest) {
  std::string key = alice_.CreateKey("seed");
  const std::string example = R"({
        "key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f",
        "plain_text": "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B",
        "datakey_plain_length": "64"
    })";
  KmsReply r = alice_.CallRaw("encrypt-datakey", Substitute(example, "0d0466b0-e727-4d9c-b35d-f84bb474a37f", key));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key_id"], key);
  EXPECT_EQ(r.body["datakey_length"], "64");
  const std::string ct = r.body["cipher_text"];
  EXPECT_TRUE(std::regex_match(ct, std::regex("[0-9A-F]{376}")));
  // Same layout as the page's example response: 0200 9800 … key id … 00000000 … trailer.
  EXPECT_EQ(ct.substr(0, 8), "02009800");
  std::string key_hex;
  for (char c : key) {
    char b[3];
    std::snprintf(b, sizeof(b), "%02X", static_cast<unsigned char>(c));
    key_hex += b;
  }
  EXPECT_EQ(ct.substr(232, 72), key_hex);
  EXPECT_EQ(ct.substr(304, 8), "00000000");
  KmsReply d = alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}});
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["data_key"], std::string(128, '0'));
  EXPECT_EQ(d.body["datakey_dgst"], "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B");
}

TEST_F(KmsdSeedExamplesTest, CreateGrantExampleRequest) {
  std::string key = alice_.CreateKey("seed");
  const std::string example = R"({      
        "key_id": "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e",
        "operations": [
           "describe-key",
           "create-datakey",
           "encrypt-datakey"
         ],
         "grantee_principal":"13gg44z4g2sglzk0egw0u726zoyzvrs8",
         "name":"my_grant",
         "retiring_principal":"13gg44z4g2sglzk0egw0u726zoyzvrs8"
    })";
  std::string body = Substitute(Substitute(example, "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e", key),
                                "13gg44z4g2sglzk0egw0u726zoyzvrs8", users_[1].id);
  KmsReply r = alice_.CallRaw("create-grant", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(std::regex_match(r.body["grant_id"].get<std::string>(), std::regex("[0-9a-f]{64}")));
  EXPECT_EQ(r.body.size(), 1u);
  // The example's grantee may now describe, create and encrypt, and retire the grant.
  EXPECT_EQ(bob_.Call("describe-key", {{"key_id", key}}).status, 200);
  EXPECT_EQ(bob_.Call("create-datakey", {{"key_id", key}, {"datakey_length", "512"}}).status, 200);
  EXPECT_EQ(bob_.Call("retire-grant", {{"key_id", key}, {"grant_id", r.body["grant_id"]}}).status, 200);
  // The page's ids as written are well-formed: an unknown key is 404, not a syntax error.
  EXPECT_KMS_ERROR(alice_.CallRaw("create-grant", example), 404, "KMS.0207");
}

TEST_F(KmsdSeedExamplesTest, GetParametersForImportExampleRequest) {
  std::string key = alice_.CreateKey("seed", "external");
  const std::string example = R"({      
        "key_id": "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e",
         "wrapping_algorithm":"RSAES_OAEP_SHA_1"
    })";
  KmsReply r = alice_.CallRaw("get-parameters-for-import",
                              Substitute(example, "bb6a3d22-dc93-47ac-b5bd-88df7ad35f1e", key));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["key_id"], key);
  EXPECT_TRUE(r.body["expiration_time"].is_number_integer());  // a number, as in the example response
  EXPECT_NEAR(r.body["expiration_time"].get<double>(), static_cast<double>(std::time(nullptr) + 86400), 5.0);
  std::string token = r.body["import_token"];
  EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-zA-Z+/=]{200,6144}")));
  EXPECT_TRUE(r.body["public_key"].get<std::string>().rfind("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 0) == 0)
      << "an RSA-2048 SubjectPublicKeyInfo starts like the example's";
  EXPECT_EQ(RsaPublicKeyBits(r.body["public_key"]), 2048);
  std::string wrapped = WrapKeyMaterial(r.body["public_key"], "RSAES_OAEP_SHA_1", Bytes(32, 3));
  EXPECT_TRUE(std::regex_match(wrapped, std::regex("[0-9a-zA-Z+/=]{344,360}")));
  KmsReply imp = alice_.Call("import-key-material",
                             {{"key_id", key}, {"import_token", token}, {"encrypted_key_material", wrapped}});
  EXPECT_EQ(imp.status, 200) << imp.raw;
}

}  // namespace
}  // namespace kmsfs::testing
