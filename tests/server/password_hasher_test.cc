#include "kms/server/password_hasher.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "base/bytes.h"

namespace kmsfs::kms::server {
namespace {

// Cheap enough for tests, costly enough to be timed.
PasswordHasher::Options Moderate() {
  PasswordHasher::Options o;
  o.opslimit = 2;
  o.memlimit = 8u << 20;
  return o;
}

TEST(KmsdPasswordHasherTest, HashesAreArgon2idAndVerify) {
  PasswordHasher h(Moderate());
  auto hash = h.Hash(AsBytes("correct horse"));
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$v=19$m=8192,t=2,p=1$", 0), 0u) << *hash;
  EXPECT_TRUE(PasswordHasher::IsArgon2idString(*hash));
  EXPECT_TRUE(h.Verify(*hash, AsBytes("correct horse")).value());
  EXPECT_FALSE(h.Verify(*hash, AsBytes("correct horsf")).value());
  auto again = h.Hash(AsBytes("correct horse"));
  EXPECT_NE(*again, *hash) << "every hash has its own salt";
}

TEST(KmsdPasswordHasherTest, MalformedHashesNeverVerify) {
  PasswordHasher h(Moderate());
  for (const char* bad : {"", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$argon2id$v=19$m=8,t=1,p=2$c2FsdA$aA",
                          "$argon2id$v=19$m=8,t=1,p=1$!!$aA", "$argon2id$v=19$m=8,t=1,p=1", "plaintext"}) {
    EXPECT_FALSE(PasswordHasher::IsArgon2idString(bad)) << bad;
    EXPECT_FALSE(h.Verify(bad, AsBytes("x")).value()) << bad;
  }
}

// An unknown login name costs what a wrong password of the strongest stored
// hash costs: VerifyUnknown verifies against a hash of exactly those
// Argon2id parameters (memory, passes, lanes), so it does the same work.
TEST(KmsdPasswordHasherTest, UnknownUsersCostWhatTheStrongestKnownHashCosts) {
  PasswordHasher h(Moderate());
  PasswordHasher::Options stronger = Moderate();
  stronger.memlimit = 32u << 20;
  stronger.opslimit = 3;
  auto strong = PasswordHasher(stronger).Hash(AsBytes("pw"));
  ASSERT_TRUE(strong.ok());
  auto weak = PasswordHasher(Moderate()).Hash(AsBytes("pw"));
  ASSERT_TRUE(weak.ok());
  const std::string strong_params = PasswordHasher::ParametersOf(*strong);
  ASSERT_NE(strong_params.find("m=32768,t=3"), std::string::npos) << strong_params;
  ASSERT_NE(strong_params, PasswordHasher::ParametersOf(*weak));

  h.MatchCostOf(*weak);
  h.MatchCostOf(*strong);
  EXPECT_EQ(h.UnknownHashParameters(), strong_params);
  h.MatchCostOf(*weak);  // a cheaper hash never lowers it
  EXPECT_EQ(h.UnknownHashParameters(), strong_params);
  for (const char* pw : {"pw", "wrong", ""}) EXPECT_FALSE(h.VerifyUnknown(AsBytes(pw)).value()) << pw;
  EXPECT_EQ(PasswordHasher::ParametersOf("not a hash"), "");
}

TEST(KmsdPasswordHasherTest, ConcurrentHashesAreBoundedAndTheRestRefusedInTime) {
  PasswordHasher::Options o;
  o.opslimit = 3;
  o.memlimit = 64u << 20;
  o.max_concurrent = 1;
  o.max_wait = std::chrono::milliseconds(1);
  PasswordHasher h(o);
  auto hash = h.Hash(AsBytes("pw"));
  ASSERT_TRUE(hash.ok());
  std::atomic<int> refused{0}, done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto r = h.Verify(*hash, AsBytes("pw"));
      if (!r.ok() && r.status().code() == StatusCode::kResourceExhausted) ++refused;
      if (r.ok()) ++done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(done.load(), 1);
  EXPECT_GE(refused.load(), 1) << "four verifications at once with room for one";
  EXPECT_EQ(done.load() + refused.load(), 4);
}

}  // namespace
}  // namespace kmsfs::kms::server
