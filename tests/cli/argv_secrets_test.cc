// Secrets leave argv before any subcommand runs (fs/cli/argv_secrets.h).
#include "fs/cli/argv_secrets.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace kmsfs::cli {
namespace {

// An argv whose strings live in one writable block, as the kernel lays them out.
class FakeArgv {
 public:
  explicit FakeArgv(const std::vector<std::string>& words) {
    for (const std::string& w : words) block_.insert(block_.end(), w.c_str(), w.c_str() + w.size() + 1);
    size_t at = 0;
    for (const std::string& w : words) {
      argv_.push_back(block_.data() + at);
      at += w.size() + 1;
    }
    argv_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(argv_.size()) - 1; }
  char** argv() { return argv_.data(); }
  // The block as /proc/PID/cmdline would show it.
  std::string cmdline() const { return std::string(block_.begin(), block_.end()); }

 private:
  std::vector<char> block_;
  std::vector<char*> argv_;
};

std::string AsString(const SecretBytes& s) { return std::string(reinterpret_cast<const char*>(s.data()), s.size()); }

TEST(ArgvSecretsTest, TokenValueIsTakenAndOverwrittenInPlace) {
  FakeArgv a({"kmsfs", "mount", "--token", "gAAAA-secret-token", "/b", "/m"});
  StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(AsString(cl->token), "gAAAA-secret-token");
  EXPECT_EQ(cl->words, (std::vector<std::string>{"mount", "/b", "/m"}));
  EXPECT_EQ(a.cmdline().find("secret"), std::string::npos);
  EXPECT_NE(a.cmdline().find("--token"), std::string::npos);
  EXPECT_EQ(std::string(a.argv()[3]), std::string(18, '*'));
}

TEST(ArgvSecretsTest, InlineTokenValueIsTakenAndOverwritten) {
  FakeArgv a({"kmsfs", "key", "list", "--token=abc=def"});
  StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(AsString(cl->token), "abc=def");
  EXPECT_EQ(cl->words, (std::vector<std::string>{"key", "list"}));
  EXPECT_EQ(std::string(a.argv()[3]), "--token=*******");
}

TEST(ArgvSecretsTest, LastTokenWinsAndEveryOneIsScrubbed) {
  FakeArgv a({"kmsfs", "key", "list", "--token", "first-secret", "--token=second-secret"});
  StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(AsString(cl->token), "second-secret");
  EXPECT_EQ(a.cmdline().find("secret"), std::string::npos);
}

TEST(ArgvSecretsTest, WordsWithoutSecretsPassThrough) {
  FakeArgv a({"kmsfs", "mount", "/b", "/m", "-o", "ro", "--password-file", "/pw", "--token-ttl", "5"});
  StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->token.empty());
  EXPECT_EQ(cl->words, (std::vector<std::string>{"mount", "/b", "/m", "-o", "ro", "--password-file", "/pw",
                                                 "--token-ttl", "5"}));
}

TEST(ArgvSecretsTest, AfterDoubleDashEverythingIsPositional) {
  FakeArgv a({"kmsfs", "key", "describe", "--", "--token", "k"});
  StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
  ASSERT_TRUE(cl.ok());
  EXPECT_TRUE(cl->token.empty());
  EXPECT_EQ(cl->words, (std::vector<std::string>{"key", "describe", "--", "--token", "k"}));
}

TEST(ArgvSecretsTest, TokenWithoutValueIsAUsageError) {
  for (const std::vector<std::string>& words :
       {std::vector<std::string>{"kmsfs", "key", "list", "--token"}, {"kmsfs", "key", "list", "--token="}}) {
    FakeArgv a(words);
    StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
    ASSERT_FALSE(cl.ok());
    EXPECT_EQ(cl.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(cl.status().message().find("--token needs a value"), std::string::npos);
  }
}

TEST(ArgvSecretsTest, PasswordOnTheCommandLineIsRefusedAndScrubbed) {
  for (const std::vector<std::string>& words :
       {std::vector<std::string>{"kmsfs", "key", "list", "--password", "hunter2-secret"},
        {"kmsfs", "key", "list", "--password=hunter2-secret"}}) {
    FakeArgv a(words);
    StatusOr<CommandLine> cl = TakeSecretsFromArgv(a.argc(), a.argv());
    ASSERT_FALSE(cl.ok());
    EXPECT_EQ(cl.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(cl.status().message().find("--password-file"), std::string::npos);
    EXPECT_NE(cl.status().message().find("--credentials"), std::string::npos);
    EXPECT_EQ(cl.status().message().find("hunter2"), std::string::npos);
    EXPECT_EQ(a.cmdline().find("hunter2"), std::string::npos);
  }
}

}  // namespace
}  // namespace kmsfs::cli
