#include "kms/server/root_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/bytes.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using ::kmsfs::testing::TempDir;

TEST(KmsdRootKeyTest, CreatesThirtyTwoByteFileWithMode0600) {
  TempDir dir;
  auto ring = RootKeyring::LoadOrCreate(dir.Join("root.key"));
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(dir.Join("root.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
}

TEST(KmsdRootKeyTest, ReloadedKeyOpensWhatTheFirstSealed) {
  TempDir dir;
  std::vector<uint8_t> blob;
  {
    auto ring = RootKeyring::LoadOrCreate(dir.Join("root.key"));
    ASSERT_TRUE(ring.ok());
    blob = (*ring)->Seal("row-1", AsBytes("secret material"));
  }
  auto again = RootKeyring::LoadOrCreate(dir.Join("root.key"));
  ASSERT_TRUE(again.ok());
  auto plain = (*again)->Open("row-1", blob);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->Equals(AsBytes("secret material")));
}

TEST(KmsdRootKeyTest, OpenFailsForAnotherLabelOrTamperedBlob) {
  auto ring = RootKeyring::FromBytes(SecretBytes::Random(32));
  ASSERT_TRUE(ring.ok());
  std::vector<uint8_t> blob = (*ring)->Seal("row-1", AsBytes("m"));
  EXPECT_FALSE((*ring)->Open("row-2", blob).ok());
  for (size_t i = 0; i < blob.size(); ++i) {
    std::vector<uint8_t> bad = blob;
    bad[i] ^= 0x80;
    EXPECT_FALSE((*ring)->Open("row-1", bad).ok()) << i;
  }
  EXPECT_FALSE((*ring)->Open("row-1", {}).ok());
}

TEST(KmsdRootKeyTest, AnotherRootKeyCannotOpen) {
  auto a = RootKeyring::FromBytes(SecretBytes::Random(32));
  auto b = RootKeyring::FromBytes(SecretBytes::Random(32));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE((*b)->Open("x", (*a)->Seal("x", AsBytes("m"))).ok());
}

TEST(KmsdRootKeyTest, RefusesFileReadableByOthers) {
  TempDir dir;
  ASSERT_TRUE(RootKeyring::LoadOrCreate(dir.Join("root.key")).ok());
  ASSERT_EQ(::chmod(dir.Join("root.key").c_str(), 0644), 0);
  auto ring = RootKeyring::LoadOrCreate(dir.Join("root.key"));
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(ring.status().message().find("0644"), std::string::npos);
  EXPECT_NE(ring.status().message().find("chmod 600"), std::string::npos);
}

TEST(KmsdRootKeyTest, RefusesFileOfWrongSize) {
  TempDir dir;
  ::kmsfs::testing::WriteFileOrDie(dir.Join("root.key"), "too short");
  ASSERT_EQ(::chmod(dir.Join("root.key").c_str(), 0600), 0);
  auto ring = RootKeyring::LoadOrCreate(dir.Join("root.key"));
  ASSERT_FALSE(ring.ok());
  EXPECT_NE(ring.status().message().find("32"), std::string::npos);
}

TEST(KmsdRootKeyTest, MaterialFingerprintDependsOnKeyIdAndMaterial) {
  auto ring = RootKeyring::FromBytes(SecretBytes::Random(32));
  ASSERT_TRUE(ring.ok());
  SecretBytes m1 = SecretBytes::Random(32), m2 = SecretBytes::Random(32);
  EXPECT_EQ((*ring)->MaterialFingerprint("k1", m1), (*ring)->MaterialFingerprint("k1", m1));
  EXPECT_NE((*ring)->MaterialFingerprint("k1", m1), (*ring)->MaterialFingerprint("k1", m2));
  EXPECT_NE((*ring)->MaterialFingerprint("k1", m1), (*ring)->MaterialFingerprint("k2", m1));
}

}  // namespace
}  // namespace kmsfs::kms::server
