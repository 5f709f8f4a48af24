// The mount options table: parsing with bounds and retired flags, and the
// README's copy of the options table.
#include "fs/cli/mount_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kmsfs::cli {
namespace {

StatusOr<MountOptions> Parse(std::vector<std::string> words) {
  words.insert(words.begin(), {"backing", "mnt"});
  std::vector<std::string> values = MountValueFlags(), switches = MountSwitches();
  auto args = Args::Parse(words, {values.begin(), values.end()}, {switches.begin(), switches.end()});
  if (!args.ok()) return args.status();
  return ParseMountOptions(*args);
}

TEST(MountOptionsTest, DefaultsComeFromTheTable) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->cache_ttl, 300);
  EXPECT_EQ(o->cache_max, 16384);
  EXPECT_EQ(o->pool_size, 256);
  EXPECT_FALSE(o->background_cpu.has_value());
  EXPECT_FALSE(o->foreground);
}

TEST(MountOptionsTest, FlagsTunesAndFuseOptionsParse) {
  auto o = Parse({"-f", "--cache-ttl", "2", "--tune", "pool-size=0", "--tune", "readahead=5", "-o", "ro,allow_other",
                  "--accept-key", "k1", "--log-file", "/tmp/l"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->foreground);
  EXPECT_EQ(o->cache_ttl, 2);
  EXPECT_EQ(o->pool_size, 0);
  EXPECT_EQ(o->readahead, 5);
  EXPECT_TRUE(o->explicit_ro);
  EXPECT_EQ(o->fuse_opts, (std::vector<std::string>{"ro", "allow_other"}));
  EXPECT_EQ(o->accept_key, "k1");
  EXPECT_EQ(o->log_file, "/tmp/l");
}

TEST(MountOptionsTest, BadValuesNameTheFlagAndItsBounds) {
  for (const auto& words : std::vector<std::vector<std::string>>{
           {"--cache-ttl", "-1"}, {"--cache-ttl", "x"}, {"--cache-max", "1048577"}, {"--tune", "pool-size=65537"},
           {"--tune", "prefetch"}, {"--tune", "nope=1"}, {"-o", "ro,rw"}, {"--pool-size", "1"}, {"--spin-us", "0"}}) {
    auto o = Parse(words);
    ASSERT_FALSE(o.ok()) << words[0] << " " << words[1];
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(Parse({"--tune", "pool-size=65537"}).status().message().find("0 to 65536"), std::string::npos);
  EXPECT_NE(Parse({"--pool-size", "1"}).status().message().find("--tune pool-size="), std::string::npos);
}

TEST(MountOptionsTest, ReadmeShowsTheTableAsGenerated) {
  std::ifstream in(std::string(KMSFS_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const std::string begin = "<!-- mount options: begin -->\n", end = "<!-- mount options: end -->";
  const size_t a = readme.find(begin), b = readme.find(end);
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(readme.substr(a + begin.size(), b - a - begin.size()), MountOptionsMarkdown())
      << "README.md's mount options table is out of date: replace it with\n" << MountOptionsMarkdown();
  EXPECT_NE(MountOptionsHelp().find("--tune KEY=VALUE"), std::string::npos);
}

using Words = std::vector<std::string>;

TEST(MountOptionsTest, MountFuse3CallBecomesKmsfsMount) {
  // What mount.fuse3 runs for `mount -t fuse.kmsfs /srv/b /mnt/v -o ...`.
  auto w = MountHelperWords({"/srv/b", "/mnt/v", "-o",
                             "rw,credentials=/etc/kmsfs/alice.env,cache-ttl=60,shared-storage,tune.prefetch=8,"
                             "allow_other,default_permissions,dev,suid"});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, (Words{"/srv/b", "/mnt/v", "--credentials", "/etc/kmsfs/alice.env", "--cache-ttl", "60",
                       "--shared-storage", "--tune", "prefetch=8", "-o", "allow_other", "-o", "default_permissions"}));
  // The result parses as `kmsfs mount` words do.
  Words flags(w->begin() + 2, w->end());
  std::erase(flags, "--credentials");
  std::erase(flags, "/etc/kmsfs/alice.env");
  auto o = Parse(flags);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->cache_ttl, 60);
  EXPECT_EQ(o->prefetch, 8);
  EXPECT_TRUE(o->shared_storage);
}

TEST(MountOptionsTest, MountHelperDropsWhatMountItselfHandles) {
  auto w = MountHelperWords({"/b", "/m", "-o",
                             "_netdev,nofail,auto,noauto,user,users,nouser,owner,group,defaults,x-systemd.automount,"
                             "comment=x,dev,suid,rw,,ro,noatime",
                             "-n", "-v"});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, (Words{"/b", "/m", "-o", "ro", "-o", "noatime"}));
  auto bare = MountHelperWords({"/b", "/m"});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(*bare, (Words{"/b", "/m"}));
}

TEST(MountOptionsTest, MountHelperRefusesOptionsWithoutTheirValues) {
  for (const char* opts : {"credentials", "credentials=", "cache-ttl", "log-file=", "tune.readahead",
                           "shared-storage=1"}) {
    auto w = MountHelperWords({"/b", "/m", "-o", opts});
    EXPECT_FALSE(w.ok()) << opts;
  }
  EXPECT_FALSE(MountHelperWords({"/b", "/m", "--token", "x"}).ok());
  EXPECT_FALSE(MountHelperWords({"/b", "/m", "extra"}).ok());
}

TEST(MountOptionsTest, OnlyAPathFirstIsAMountHelperCall) {
  EXPECT_TRUE(IsMountHelperCall({"/srv/b", "/mnt/v", "-o", "ro"}));
  EXPECT_TRUE(IsMountHelperCall({"./b", "m"}));
  EXPECT_FALSE(IsMountHelperCall({"mount", "/srv/b", "/mnt/v"}));
  EXPECT_FALSE(IsMountHelperCall({"status", "/mnt/v"}));
  EXPECT_FALSE(IsMountHelperCall({"/srv/b"}));
  EXPECT_FALSE(IsMountHelperCall({"--credentials=/x", "/m"}));
}

}  // namespace
}  // namespace kmsfs::cli
