#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/hex.h"
#include "tests/testutil/bytes.h"

namespace kmsfs::crypto {
namespace {

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // The KMS documentation's example: SHA-256 of a 64-byte all-zero DEK.
  const std::vector<uint8_t> zeros(64, 0);
  EXPECT_EQ(HexEncodeUpper(Sha256(zeros)), "F5A5FD42D16A20302798EF6ED309979B43003D2320D9F0E8EA9831A92759FB4B");
}

TEST(HmacSha256Test, MatchesRfc4231Case2) {
  const Sha256Digest mac = HmacSha256(SecretBytes::CopyFrom(AsBytes("Jefe")), AsBytes("what do ya want for nothing?"));
  EXPECT_EQ(HexEncode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// A key longer than SHA-256's block is hashed first (RFC 4231 case 6).
TEST(HmacSha256Test, MatchesRfc4231Case6) {
  const SecretBytes key = SecretBytes::CopyFrom(std::vector<uint8_t>(131, 0xaa));
  const Sha256Digest mac = HmacSha256(key, AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"));
  EXPECT_EQ(HexEncode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256Test, VerifyAcceptsOnlyTheExactMac) {
  const SecretBytes key = SecretBytes::CopyFrom(AsBytes("Jefe"));
  Sha256Digest mac = HmacSha256(key, AsBytes("message"));
  EXPECT_TRUE(HmacSha256Verify(key, AsBytes("message"), mac));
  EXPECT_FALSE(HmacSha256Verify(key, AsBytes("messagE"), mac));
  EXPECT_FALSE(HmacSha256Verify(SecretBytes::CopyFrom(AsBytes("Jeff")), AsBytes("message"), mac));
  EXPECT_FALSE(HmacSha256Verify(key, AsBytes("message"), std::span<const uint8_t>(mac).first(31)));
  EXPECT_FALSE(HmacSha256Verify(key, AsBytes("message"), {}));
  mac[31] ^= 1;
  EXPECT_FALSE(HmacSha256Verify(key, AsBytes("message"), mac));
}

TEST(ConstantTimeEqualsTest, ComparesContentsAndSizes) {
  EXPECT_TRUE(ConstantTimeEquals(AsBytes("abc"), AsBytes("abc")));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("abc"), AsBytes("ab")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes(""), AsBytes("a")));
}

}  // namespace
}  // namespace kmsfs::crypto
