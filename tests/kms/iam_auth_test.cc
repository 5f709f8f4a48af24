// The pure parts of IamAuth: reading IAM times and login answers, where a
// hostile or broken IAM must not be able to make the client keep a token
// forever, refresh in a loop, or overflow its clock arithmetic.
#include "kms/iam_auth.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

namespace kmsfs::kms {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kJan2024Ms = 1704067200000;  // 2024-01-01T00:00:00Z

std::string Answer(const std::string& issued, const std::string& expires) {
  nlohmann::json token = {{"user", {{"id", "u-1"}, {"name", "alice"}}},
                          {"catalog", nlohmann::json::array({{{"type", "kms"}, {"endpoints", nlohmann::json::array()}}})}};
  if (!issued.empty()) token["issued_at"] = issued;
  if (!expires.empty()) token["expires_at"] = expires;
  return nlohmann::json{{"token", token}}.dump();
}

TEST(ParseIamTimeTest, ReadsTheFormsIamWrites) {
  EXPECT_EQ(*ParseIamTime("2024-01-01T00:00:00Z"), kJan2024Ms);
  EXPECT_EQ(*ParseIamTime("2024-01-01T00:00:00.000000Z"), kJan2024Ms);
  EXPECT_EQ(*ParseIamTime("2024-01-01T00:00:00.250Z"), kJan2024Ms + 250);
  EXPECT_EQ(*ParseIamTime("2024-01-01T00:00:00.123456789Z"), kJan2024Ms + 123);
  EXPECT_EQ(*ParseIamTime("2024-01-01T00:00:00"), kJan2024Ms);
  EXPECT_EQ(*ParseIamTime("2024-01-01T01:30:00+01:30"), kJan2024Ms);
  EXPECT_EQ(*ParseIamTime("2023-12-31T22:00:00-02:00"), kJan2024Ms);
  EXPECT_EQ(*ParseIamTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseIamTime("2024-02-29T00:00:00Z"), kJan2024Ms + 59LL * 86400000);
}

TEST(ParseIamTimeTest, RefusesEverythingElse) {
  for (const char* bad : {"", "2024", "2024-01-01", "2024-01-01 00:00:00Z", " 2024-01-01T00:00:00Z",
                          "+2024-01-01T00:00:00Z", "-024-01-01T00:00:00Z", "20240-01-01T00:00:00Z",
                          "1969-12-31T23:59:59Z", "2024-00-01T00:00:00Z", "2024-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z",
                          "2024-01-01T00:60:00Z", "2024-01-01T00:00:61Z", "2024-01-01T00:00:00.Z",
                          "2024-01-01T00:00:00.1234567890Z", "2024-01-01T00:00:00+24:00",
                          "2024-01-01T00:00:00+01:60", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00ZZ",
                          "2024-01-01T00:00:00+a1:00", "2024-1-01T00:00:00Z", "2024-01-01T00:00:00\x01"}) {
    StatusOr<int64_t> t = ParseIamTime(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(ParseIamTimeTest, ExtremeYearsStayInRange) {
  StatusOr<int64_t> last = ParseIamTime("9999-12-31T23:59:60.999Z");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, 253402300800999);  // 10000-01-01T00:00:00.999Z
}

TEST(ParseTokenAnswerTest, LifetimeIsExpiryMinusIssue) {
  StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z"), 0);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->user_id, "u-1");
  EXPECT_EQ(a->user_name, "alice");
  ASSERT_TRUE(a->lifetime.has_value());
  EXPECT_EQ(*a->lifetime, std::chrono::hours(6));
}

TEST(ParseTokenAnswerTest, WithoutIssueTimeLifetimeIsCountedFromNow) {
  StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("", "2024-01-01T00:10:00Z"), kJan2024Ms);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->lifetime.has_value());
  EXPECT_EQ(*a->lifetime, std::chrono::minutes(10));
}

TEST(ParseTokenAnswerTest, FarFutureExpiryIsCappedAtADay) {
  StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"), 0);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->lifetime.has_value());
  EXPECT_EQ(*a->lifetime, kMaxTokenLifetime);
  EXPECT_EQ(kMaxTokenLifetime, std::chrono::hours(24));
}

TEST(ParseTokenAnswerTest, UnreadableOrMissingExpiryLeavesTheLifetimeUnknown) {
  for (const std::string& expires : {std::string(), std::string("tomorrow"), std::string("99999-01-01T00:00:00Z")}) {
    StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("2024-01-01T00:00:00Z", expires), kJan2024Ms);
    ASSERT_TRUE(a.ok()) << expires;
    EXPECT_FALSE(a->lifetime.has_value()) << expires;
  }
  EXPECT_EQ(kUnknownTokenLifetime, std::chrono::hours(1));
}

TEST(ParseTokenAnswerTest, TokenExpiringBeforeItWasIssuedIsRefused) {
  for (const char* expires : {"2024-01-01T00:00:00Z", "2023-12-31T23:59:59.999Z"}) {
    StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("2024-01-01T00:00:00Z", expires), 0);
    ASSERT_FALSE(a.ok()) << expires;
    EXPECT_EQ(a.status().code(), StatusCode::kUnauthenticated);
    EXPECT_NE(a.status().message().find("expires before it was issued"), std::string::npos);
  }
}

TEST(ParseTokenAnswerTest, TokenAlreadyExpiredByOurClockIsRefused) {
  StatusOr<TokenAnswer> a = ParseTokenAnswer(Answer("", "2024-01-01T00:00:00Z"), kJan2024Ms + 1);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(a.status().message().find("clock"), std::string::npos);
}

TEST(ParseTokenAnswerTest, NonObjectBodiesGiveAnEmptyAnswer) {
  for (const char* body : {"", "[]", "null", "{\"token\":[1]}", "{\"token\":{\"user\":\"x\",\"expires_at\":5}}",
                           "not json"}) {
    StatusOr<TokenAnswer> a = ParseTokenAnswer(body, kJan2024Ms);
    ASSERT_TRUE(a.ok()) << body;
    EXPECT_TRUE(a->user_id.empty());
    EXPECT_FALSE(a->lifetime.has_value());
  }
}

}  // namespace
}  // namespace kmsfs::kms
