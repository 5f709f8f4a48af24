#include "kms/server/users_file.h"

#include <gtest/gtest.h>

namespace kmsfs::kms::server {
namespace {

constexpr const char* kValid = R"([
  {"name":"alice","password":"pw1","id":"a1","project_id":"p1","domain":"wonder"},
  {"name":"bob","password":"pw2","id":"b2","project_id":"p2","domain":"builders","domain_id":"bd"}
])";

TEST(KmsdUsersFileTest, ParsesUsersAndDerivesDomainIds) {
  auto users = ParseUsers(kValid, "users.json");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  ASSERT_EQ(users->size(), 2u);
  const UserSpec& a = (*users)[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.id, "a1");
  EXPECT_EQ(a.project_id, "p1");
  EXPECT_EQ(a.domain, "wonder");
  EXPECT_EQ(a.domain_id, DomainIdFor("wonder"));
  EXPECT_TRUE(a.password.Equals(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("pw1"), 3)));
  EXPECT_EQ((*users)[1].domain_id, "bd");
}

TEST(KmsdUsersFileTest, DomainIdIsStableLowerHex) {
  std::string id = DomainIdFor("wonder");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, DomainIdFor("wonder"));
  EXPECT_NE(id, DomainIdFor("wonder2"));
}

struct BadCase {
  const char* json;
  const char* expected_words;
};

TEST(KmsdUsersFileTest, RejectsInvalidFilesNamingTheProblem) {
  const BadCase cases[] = {
      {"not json", "not valid JSON"},
      {"{}", "JSON list"},
      {"[]", "no users"},
      {"[1]", "entry 1 is not an object"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p"}])", "missing field \"domain\""},
      {R"([{"name":"a","password":"p","id":"i-1","project_id":"p","domain":"d"}])", "\"id\""},
      {R"([{"name":"a","password":"","id":"i","project_id":"p","domain":"d"}])", "\"password\""},
      {R"([{"name":"a b","password":"p","id":"i","project_id":"p","domain":"d"}])", "\"name\""},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p/x","domain":"d"}])", "\"project_id\""},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","role":"x"}])", "unknown field"},
      {R"([{"name":"a","password":1,"id":"i","project_id":"p","domain":"d"}])", "must be a string"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d"},
          {"name":"b","password":"p","id":"i","project_id":"p","domain":"d"}])",
       "duplicate user id"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d"},
          {"name":"a","password":"p","id":"j","project_id":"p","domain":"d"}])",
       "duplicate user name"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d"},
          {"name":"b","password":"p","id":"j","project_id":"p","domain":"e"}])",
       "used by two domains"},
  };
  for (const BadCase& c : cases) {
    auto users = ParseUsers(c.json, "u.json");
    ASSERT_FALSE(users.ok()) << c.json;
    EXPECT_NE(users.status().message().find(c.expected_words), std::string::npos)
        << users.status().message() << " (wanted: " << c.expected_words << ")";
    EXPECT_NE(users.status().message().find("u.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace kmsfs::kms::server
