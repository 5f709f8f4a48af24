// The caller's account over the wire (service_account.cc): GET user-quotas
// and GET user-instances.
#include "tests/server/kms_wire.h"

namespace kmsfs::testing {
namespace {

class KmsdAccountTest : public KmsdTest {};

Json QuotaOf(const KmsReply& r, const std::string& type) {
  for (const Json& q : r.body["quotas"]["resources"]) {
    if (q["type"] == type) return q;
  }
  return nullptr;
}

TEST_F(KmsdAccountTest, UserQuotasCountCustomKeysAndTheFullestKeysGrants) {
  KmsReply empty = alice_.Get("user-quotas");
  ASSERT_EQ(empty.status, 200) << empty.raw;
  EXPECT_EQ(QuotaOf(empty, "CMK"), Json({{"type", "CMK"}, {"used", 0}, {"quota", 100}}))
      << "the default key is not counted";
  EXPECT_EQ(QuotaOf(empty, "grant_per_CMK"), Json({{"type", "grant_per_CMK"}, {"used", 0}, {"quota", 100}}));

  const std::string a = alice_.CreateKey("quota-a");
  const std::string b = alice_.CreateKey("quota-b");
  alice_.GrantTo(a, bob_.user().id, {"describe-key"});
  alice_.GrantTo(b, bob_.user().id, {"describe-key"});
  alice_.GrantTo(b, carol_.user().id, {"describe-key"});
  KmsReply r = alice_.Get("user-quotas");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(QuotaOf(r, "CMK")["used"], 2);
  EXPECT_EQ(QuotaOf(r, "grant_per_CMK")["used"], 2);
  // Another project's view is its own.
  EXPECT_EQ(QuotaOf(bob_.Get("user-quotas"), "CMK")["used"], 0);
}

TEST_F(KmsdAccountTest, UserInstancesCountsCustomKeysOfTheProject) {
  KmsReply r = alice_.Get("user-instances");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, Json({{"instance_num", 0}}));
  alice_.CreateKey("instance-1");
  alice_.CreateKey("instance-2");
  EXPECT_EQ(alice_.Get("user-instances").body, Json({{"instance_num", 2}}));
  EXPECT_EQ(bob_.Get("user-instances").body, Json({{"instance_num", 0}}));
}

TEST_F(KmsdAccountTest, AccountActionsAreGetOnlyAndNeedAToken) {
  for (const char* action : {"user-quotas", "user-instances"}) {
    {
      SCOPED_TRACE(action);
      EXPECT_KMS_ERROR(alice_.Call(action, Json::object()), 405, "KMS.0215");
    }
    const std::string path = "/v1.0/" + alice_.user().project_id + "/kms/" + action;
    HttpReply no_token = SendHttp(kmsd_->endpoint(), "GET", path, "", {});
    EXPECT_EQ(no_token.status, 403) << no_token.body;
    EXPECT_NE(no_token.body.find("KMS.0301"), std::string::npos) << no_token.body;
    HttpReply other_project = SendHttp(kmsd_->endpoint(), "GET", "/v1.0/" + bob_.user().project_id + "/kms/" + action,
                                       "", {{"X-Auth-Token", alice_.token()}});
    EXPECT_EQ(other_project.status, 403) << other_project.body;
    EXPECT_NE(other_project.body.find("KMS.0321"), std::string::npos) << other_project.body;
  }
  // Other known actions stay POST-only.
  EXPECT_KMS_ERROR(alice_.Get("list-keys"), 405, "KMS.0215");
  EXPECT_KMS_ERROR(alice_.Get("no-such-action"), 400, "KMS.0201");
}

}  // namespace
}  // namespace kmsfs::testing
