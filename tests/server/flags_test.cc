#include "kms/server/flags.h"

#include <gtest/gtest.h>
#include <sched.h>

#include "base/cpu_affinity.h"

namespace kmsfs::kms::server {
namespace {

TEST(KmsdFlagsTest, ParsesEveryFlagInBothForms) {
  auto f = ParseKmsdFlags({"--listen", "127.0.0.1:8765", "--data=/tmp/d", "--users", "u.json", "--latency-ms=5",
                           "--tls-cert", "c.pem", "--tls-key", "k.pem", "--token-ttl", "60",
                           "--import-token-ttl=30", "--cpu", "none", "--region", "eu-de"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->listen_host, "127.0.0.1");
  EXPECT_EQ(f->listen_port, 8765);
  EXPECT_EQ(f->data_dir, "/tmp/d");
  EXPECT_EQ(f->users_file, "u.json");
  EXPECT_EQ(f->latency_ms, 5);
  EXPECT_EQ(f->tls_cert, "c.pem");
  EXPECT_EQ(f->tls_key, "k.pem");
  EXPECT_EQ(f->token_ttl_sec, 60);
  EXPECT_EQ(f->import_token_ttl_sec, 30);
  EXPECT_EQ(f->cpu, std::nullopt);
  EXPECT_EQ(f->region, "eu-de");
}

TEST(KmsdFlagsTest, DefaultsAndIpv6) {
  auto f = ParseKmsdFlags({"--listen", "[::1]:0", "--data", "d"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->listen_host, "::1");
  EXPECT_EQ(f->listen_port, 0);
  EXPECT_EQ(f->token_ttl_sec, 86400);
  EXPECT_EQ(f->import_token_ttl_sec, 86400);
  EXPECT_EQ(f->latency_ms, 0);
  EXPECT_TRUE(f->users_file.empty());
  EXPECT_EQ(f->region, "local");
  // Every kmsd thread on the last CPU the process may use, where kmsfs keeps
  // its background threads.
  const std::vector<int> cpus = AllowedCpus();
  EXPECT_EQ(f->cpu, cpus.size() > 1 ? std::optional<int>(cpus.back()) : std::nullopt);
  auto first = ParseKmsdFlags({"--listen", "h:1", "--data", "d", "--cpu=" + std::to_string(cpus.front())});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->cpu, cpus.front());
}

TEST(KmsdFlagsTest, HelpWinsOverEverythingElse) {
  auto f = ParseKmsdFlags({"--bogus", "--help"});
  EXPECT_FALSE(f.ok());  // an unknown flag before --help is still an error
  f = ParseKmsdFlags({"-h"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->help);
  EXPECT_NE(KmsdUsage().find("--import-token-ttl"), std::string::npos);
  EXPECT_NE(KmsdUsage().find("--token-ttl"), std::string::npos);
}

TEST(KmsdFlagsTest, RejectsBadInputWithTheFlagName) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"--data", "d"}, "--listen"},
      {{"--listen", "127.0.0.1:1"}, "--data"},
      {{"--listen", "127.0.0.1", "--data", "d"}, "--listen"},
      {{"--listen", ":80", "--data", "d"}, "--listen"},
      {{"--listen", "h:99999", "--data", "d"}, "port"},
      {{"--listen", "h:1", "--data", "d", "--latency-ms", "-1"}, "--latency-ms"},
      {{"--listen", "h:1", "--data", "d", "--token-ttl", "0"}, "--token-ttl"},
      {{"--listen", "h:1", "--data", "d", "--import-token-ttl", "x"}, "--import-token-ttl"},
      {{"--listen", "h:1", "--data", "d", "--tls-cert", "c"}, "--tls-key"},
      {{"--listen", "h:1", "--data"}, "--data"},
      {{"--listen", "h:1", "--data", "d", "extra"}, "extra"},
      {{"--listen", "h:1", "--data", "d", "--cpu", "first"}, "--cpu"},
      {{"--listen", "h:1", "--data", "d", "--cpu", std::to_string(CPU_SETSIZE)}, "--cpu"},
      {{"--listen", "h:1", "--data", "d", "--cpu", "-1"}, "--cpu"},
      {{"--listen", "h:1", "--data", "d", "--region", "eu/de"}, "--region"},
      {{"--listen", "h:1", "--data", "d", "--region", ""}, "--region"},
  };
  for (const auto& [args, word] : cases) {
    auto f = ParseKmsdFlags(args);
    ASSERT_FALSE(f.ok()) << word;
    EXPECT_NE(f.status().message().find(word), std::string::npos) << f.status().message();
  }
}

}  // namespace
}  // namespace kmsfs::kms::server
