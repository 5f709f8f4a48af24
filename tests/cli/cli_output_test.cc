// key list, key describe and grant list for people and scripts, through the
// real binary against kmsd: aligned tables with dates, --json, and nothing
// on stdout when the command fails.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/kms/fake_kms_server.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

class CliOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = DefaultTestUsers()[0];
    bob_ = DefaultTestUsers()[1];
    env_ = KmsEnv(*kmsd_, alice_);
  }
  std::string CreateKey(const std::string& alias) {
    CommandResult r = RunKmsfs({"key", "create", "--alias", alias}, env_);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return TrimTrailing(r.out);
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser alice_, bob_;
  std::map<std::string, std::string> env_;
};

TEST_F(CliOutputTest, KeyListIsAnAlignedTableWithDates) {
  const std::string key = CreateKey("a-rather-long-alias-name");
  CommandResult r = RunKmsfs({"key", "list"}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, row;
  std::getline(lines, header);
  EXPECT_EQ(header.substr(0, 6), "KEY_ID");
  const size_t alias_col = header.find("ALIAS");
  const size_t created_col = header.find("CREATED");
  ASSERT_NE(alias_col, std::string::npos);
  ASSERT_NE(created_col, std::string::npos);
  bool found = false;
  while (std::getline(lines, row)) {
    if (row.substr(0, key.size()) != key) continue;
    found = true;
    EXPECT_EQ(row.substr(alias_col, 24), "a-rather-long-alias-name") << r.out;
    EXPECT_TRUE(std::regex_match(row.substr(created_col), std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)")))
        << row;
    EXPECT_NE(row.find("enabled"), std::string::npos);
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(CliOutputTest, KeyListAndDescribeTakeJson) {
  const std::string key = CreateKey("json-key");
  CommandResult r = RunKmsfs({"key", "list", "--json"}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json list = nlohmann::json::parse(r.out);
  bool found = false;
  for (const auto& k : list.at("keys")) {
    if (k.at("key_id") != key) continue;
    found = true;
    EXPECT_EQ(k.at("alias"), "json-key");
    EXPECT_EQ(k.at("state"), "enabled");
    EXPECT_EQ(k.at("state_code"), 2);
    EXPECT_TRUE(k.at("created_ms").is_number_integer());
    EXPECT_TRUE(std::regex_match(k.at("created").get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  }
  EXPECT_TRUE(found) << r.out;
  r = RunKmsfs({"key", "describe", key, "--json"}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json one = nlohmann::json::parse(r.out);
  EXPECT_EQ(one.at("key_id"), key);
  EXPECT_EQ(one.at("origin"), "kms");
}

TEST_F(CliOutputTest, KeyDescribeShowsDatesAsDates) {
  const std::string key = CreateKey("described");
  CommandResult r = RunKmsfs({"key", "describe", key}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(created: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(state: +enabled \(2\))"))) << r.out;
}

TEST_F(CliOutputTest, FailingListPrintsNothingOnStdout) {
  auto env = env_;
  env["OS_PASSWORD"] = "wrong";
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{"key", "list"}, {"key", "list", "--json"}, {"key", "describe", "x", "--json"}}) {
    CommandResult r = RunKmsfs(cmd, env);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "") << "stdout before an error: " << r.out;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(CliOutputTest, GrantListIsATableOrJson) {
  MountedVolume::Options opts;
  opts.kmsd = kmsd_.get();
  opts.user = alice_;
  opts.mount = false;
  auto volume = MountedVolume::Start(opts);
  ASSERT_NE(volume, nullptr);
  CommandResult r = RunKmsfs({"grant", "create", volume->backing_dir(), "--grantee", bob_.id, "--name", "for-bob"},
                             env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string grant_id = TrimTrailing(r.out);
  r = RunKmsfs({"grant", "list", volume->backing_dir()}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 8), "GRANT_ID") << r.out;
  EXPECT_NE(r.out.find(grant_id), std::string::npos);
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(for-bob +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)"))) << r.out;
  r = RunKmsfs({"grant", "list", volume->backing_dir(), "--json"}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("key_id"), volume->key_id());
  ASSERT_EQ(j.at("grants").size(), 1u);
  EXPECT_EQ(j["grants"][0].at("grant_id"), grant_id);
  EXPECT_EQ(j["grants"][0].at("grantee"), bob_.id);
  EXPECT_EQ(j["grants"][0].at("operations"), nlohmann::json({"decrypt-datakey", "describe-key"}));
}

// A KMS (or something posing as one) that never stops answering "truncated"
// cannot keep `key list` going forever, nor make it print a partial table.
TEST(CliOutputHostileKmsTest, EndlessTruncatedListingEndsWithAnError) {
  kms::testing::FakeKmsServer fake;
  std::atomic<int> pages{0};
  fake.On("list-keys", [&](const kms::testing::FakeRequest&) {
    nlohmann::json details = nlohmann::json::array();
    for (int i = 0; i < 1000; ++i) details.push_back({{"key_id", "k" + std::to_string(i)}, {"key_state", "2"}});
    ++pages;
    return kms::testing::FakeReply::Json({{"key_details", details}, {"truncated", "true"}, {"total", 1000}});
  });
  CommandResult r = RunKmsfs({"key", "list"}, {{"KMSFS_KMS_ENDPOINT", fake.endpoint()},
                                               {"OS_PROJECT_ID", "p"},
                                               {"OS_AUTH_TOKEN", "t"},
                                               {"OS_AUTH_URL", ""},
                                               {"KMSFS_CREDENTIALS", ""}});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("still answers 'truncated'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_LE(pages.load(), 101);
}

TEST_F(CliOutputTest, VersionIsOneLine) {
  CommandResult r = RunKmsfs({"--version"}, {});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("kmsfs \\d+\\.\\d+\\.\\d+\n"))) << r.out;
}

}  // namespace
}  // namespace kmsfs::testing
