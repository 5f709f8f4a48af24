#include "kms/server/users_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/server/require_root.h"
#include "tests/testutil/temp_dir.h"

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
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","colour":"x"}])", "unknown field"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","role":"root"}])", "\"role\""},
      {R"([{"name":"a","id":"i","project_id":"p","domain":"d"}])", "exactly one of \"password\" and \"password_hash\""},
      {R"([{"name":"a","password":"p","password_hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA","id":"i",
          "project_id":"p","domain":"d"}])",
       "exactly one"},
      {R"([{"name":"a","password_hash":"pbkdf2:abc","id":"i","project_id":"p","domain":"d"}])", "Argon2id"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","project_name":"eu de","domain":"d"}])",
       "\"project_name\""},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p1","project_name":"eu-de","domain":"d"},
          {"name":"b","password":"p","id":"j","project_id":"p2","project_name":"eu-de","domain":"d"}])",
       "names two projects"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","access_keys":{}}])", "list of objects"},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","access_keys":[{"access":"SHORT","secret":"abcdefgh12"}]}])",
       "\"access\""},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d","access_keys":[{"access":"AKAKAKAKAK","secret":"short"}]}])",
       "\"secret\""},
      {R"([{"name":"a","password":"p","id":"i","project_id":"p","domain":"d",
            "access_keys":[{"access":"AKAKAKAKAK","secret":"secret-key-1"}]},
          {"name":"b","password":"p","id":"j","project_id":"p","domain":"d",
            "access_keys":[{"access":"AKAKAKAKAK","secret":"secret-key-2"}]}])",
       "listed twice"},
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

TEST(KmsdUsersFileTest, ReadsHashesProjectNamesRolesAndAccessKeys) {
  auto users = ParseUsers(R"([
    {"name":"a","password_hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g","id":"i","project_id":"p",
     "project_name":"eu-de","domain":"d","role":"none",
     "access_keys":[{"access":"AKAKAKAKAKAKAKAKAKAK","secret":"secret-key-1"}]},
    {"name":"b","password":"pw","id":"j","project_id":"q","domain":"d"}])", "u.json");
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  const UserSpec& a = (*users)[0];
  EXPECT_TRUE(a.password.empty());
  EXPECT_EQ(a.password_hash.rfind("$argon2id$", 0), 0u);
  EXPECT_EQ(a.project_name, "eu-de");
  EXPECT_EQ(a.role, "none");
  ASSERT_EQ(a.access_keys.size(), 1u);
  EXPECT_EQ(a.access_keys[0].access, "AKAKAKAKAKAKAKAKAKAK");
  EXPECT_TRUE(a.access_keys[0].secret.Equals(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>("secret-key-1"), 12)));
  const UserSpec& b = (*users)[1];
  EXPECT_EQ(b.project_name, "q") << "a project's name is its id unless the file names it";
  EXPECT_EQ(b.role, "kms_admin") << "as before roles existed: a domain's users own its keys";
}

// kmsd decides who may log in from this file: nobody else may change it, and
// nobody else may read the passwords and keys in it.
TEST(KmsdUsersFileTest, LoadRefusesFilesOthersMayChangeOrRead) {
  ::kmsfs::testing::TempDir t;
  const std::string path = t.Join("users.json");
  ::kmsfs::testing::WriteFileOrDie(path, kValid);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(LoadUsersFile(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0620), 0);
  EXPECT_NE(LoadUsersFile(path).status().message().find("group or others may write it"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_NE(LoadUsersFile(path).status().message().find("holds plain passwords or secret keys others may read"),
            std::string::npos);
  // Hashes only: readable is fine.
  ::kmsfs::testing::WriteFileOrDie(path, R"([{"name":"a","password_hash":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
                                             "id":"i","project_id":"p","domain":"d"}])");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(LoadUsersFile(path).ok());
  ASSERT_EQ(::symlink(path.c_str(), t.Join("link.json").c_str()), 0);
  EXPECT_NE(LoadUsersFile(t.Join("link.json")).status().message().find("symbolic link"), std::string::npos);
  KMSD_REQUIRE_ROOT();
  ASSERT_EQ(::chown(path.c_str(), 4321, 4321), 0);
  EXPECT_NE(LoadUsersFile(path).status().message().find("owned by uid 4321"), std::string::npos);
}

}  // namespace
}  // namespace kmsfs::kms::server
