#include "fs/fuse/readahead.h"

#include <gtest/gtest.h>

namespace kmsfs::fuse {
namespace {

constexpr char kMountinfo[] =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "40 22 0:42 / /tmp/exp/mnt rw,nosuid,nodev,relatime shared:20 - fuse.kmsfs /tmp/exp/back rw\n"
    "41 22 0:43 / /tmp/with\\040space rw,relatime shared:21 - fuse.kmsfs /b rw\n"
    "42 40 0:44 / /tmp/exp/mnt rw,relatime shared:22 - fuse.kmsfs /tmp/other rw\n"
    "43 22 0:45 / /tmp/back\\134slash rw - tmpfs tmpfs rw\n";

TEST(MountDeviceTest, FindsTheNewestMountOnAPath) {
  // Two mounts stacked on /tmp/exp/mnt: the later line is the visible one.
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/exp/mnt"), "0:44");
  EXPECT_EQ(MountDevice(kMountinfo, "/"), "254:0");
}

TEST(MountDeviceTest, UnescapesOctalInPaths) {
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/with space"), "0:43");
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/back\\slash"), "0:45");
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/with\\040space"), std::nullopt);
}

TEST(MountDeviceTest, UnknownPathOrMalformedTextGivesNothing) {
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/exp"), std::nullopt);
  EXPECT_EQ(MountDevice(kMountinfo, "/tmp/exp/mnt/"), std::nullopt);
  EXPECT_EQ(MountDevice("", "/"), std::nullopt);
  EXPECT_EQ(MountDevice("garbage\n\n1 2\n1 2 nocolon / /x\n", "/x"), std::nullopt);
  EXPECT_EQ(MountDevice("1 2 3:4 / /trailing\\", "/trailing\\"), "3:4");
}

}  // namespace
}  // namespace kmsfs::fuse
