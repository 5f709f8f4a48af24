// Wire-level helpers for kmsd integration tests: JSON calls to
// /v1.0/{project}/kms/<action> as one user, and a fixture with alice, bob
// and carol logged in to a fresh kmsd.
#ifndef KMSFS_TESTS_SERVER_KMS_WIRE_H_
#define KMSFS_TESTS_SERVER_KMS_WIRE_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testutil/kmsd_process.h"

namespace kmsfs::testing {

using Json = nlohmann::json;

struct KmsReply {
  int status = 0;
  Json body;            // parsed body (discarded value if not JSON)
  std::string raw;
  std::map<std::string, std::string> headers;
  // error.error_code, or "" on success
  std::string code() const;
  bool ok() const { return status == 200; }
};

// A user's view of the KMS: its project id in the URL and its token.
class KmsWire {
 public:
  KmsWire() = default;
  KmsWire(std::string endpoint, KmsdUser user, std::string token)
      : endpoint_(std::move(endpoint)), user_(std::move(user)), token_(std::move(token)) {}

  KmsReply Call(const std::string& action, const Json& body) const;
  KmsReply CallRaw(const std::string& action, const std::string& body) const;
  // Same call, but with another project id in the URL.
  KmsReply CallInProject(const std::string& project, const std::string& action, const Json& body) const;
  // GET /v1.0/{project}/kms/<action> (user-quotas, user-instances).
  KmsReply Get(const std::string& action) const;

  // Happy-path shortcuts; each EXPECTs success.
  std::string CreateKey(const std::string& alias, const std::string& origin = "kms") const;
  std::string EncryptDek(const std::string& key_id, const std::vector<uint8_t>& dek, const Json& ctx = nullptr) const;
  std::string GrantTo(const std::string& key_id, const std::string& grantee, const std::vector<std::string>& ops,
                      const Json& extra = Json::object()) const;
  std::string StateOf(const std::string& key_id) const;

  const KmsdUser& user() const { return user_; }
  const std::string& token() const { return token_; }
  void set_endpoint(std::string e) { endpoint_ = std::move(e); }

 private:
  std::string endpoint_;
  KmsdUser user_;
  std::string token_;
};

// plain_text of encrypt-datakey: hex(dek || SHA-256(dek)), upper case.
std::string DekPlainText(const std::vector<uint8_t>& dek);
std::vector<uint8_t> Bytes(size_t n, uint8_t seed);
std::string UniqueAlias();

// A fresh kmsd (options from KmsdOptions()) with alice, bob, carol logged in.
class KmsdTest : public ::testing::Test {
 protected:
  void SetUp() override;
  virtual KmsdProcess::Options KmsdOptions() const { return {}; }
  // Logs everyone in again (after Restart, tokens are kept; this is for new endpoints).
  void RefreshEndpoints();

  std::unique_ptr<KmsdProcess> kmsd_;
  std::vector<KmsdUser> users_;
  KmsWire alice_, bob_, carol_;
};

#define EXPECT_KMS_ERROR(reply_expr, http, kms_code)                                     \
  do {                                                                                   \
    const ::kmsfs::testing::KmsReply kms_reply_ = (reply_expr);                         \
    EXPECT_EQ(kms_reply_.status, http) << kms_reply_.raw;                                \
    EXPECT_EQ(kms_reply_.code(), kms_code) << kms_reply_.raw;                            \
  } while (0)

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_SERVER_KMS_WIRE_H_
