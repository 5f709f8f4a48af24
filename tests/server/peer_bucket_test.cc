#include <gtest/gtest.h>

#include "kms/server/connection_gate.h"

namespace kmsfs::kms::server {
namespace {

// Per-client limits count loopback as one client (any local user may bind
// any loopback address) and an IPv6 host by its /64; other IPv4 addresses
// count apart.
TEST(KmsdPeerBucketTest, LoopbackIsOneClientAndIpv6CountsByItsSlash64) {
  EXPECT_EQ(PeerBucket("127.0.0.1"), "loopback");
  EXPECT_EQ(PeerBucket("127.0.0.2"), "loopback");
  EXPECT_EQ(PeerBucket("127.255.1.9"), "loopback");
  EXPECT_EQ(PeerBucket("::1"), "loopback");
  EXPECT_EQ(PeerBucket("192.0.2.1"), "192.0.2.1");
  EXPECT_NE(PeerBucket("192.0.2.1"), PeerBucket("192.0.2.2"));
  EXPECT_EQ(PeerBucket("128.0.0.1"), "128.0.0.1");
  EXPECT_EQ(PeerBucket("2001:db8:1:2:aaaa::1"), PeerBucket("2001:db8:1:2:bbbb::7"));
  EXPECT_NE(PeerBucket("2001:db8:1:2::1"), PeerBucket("2001:db8:1:3::1"));
  EXPECT_EQ(PeerBucket("not an address"), "not an address");
}

}  // namespace
}  // namespace kmsfs::kms::server
