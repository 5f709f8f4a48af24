// Seeded random operations through a mount, checked against an in-memory
// model. The seed is printed on failure; KMSFS_TEST_SEED replays one.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"

namespace kmsfs::testing {
namespace {

TEST(RandomOpsTest, TwentyThousandOpsMatchTheModel) {
  KMSFS_REQUIRE_FUSE();
  auto kmsd = KmsdProcess::Start({});
  ASSERT_NE(kmsd, nullptr);
  MountedVolume::Options o;
  o.kmsd = kmsd.get();
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);

  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("KMSFS_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (replay with KMSFS_TEST_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  auto rand = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };

  constexpr int kFiles = 4;
  std::vector<std::string> model(kFiles);
  std::vector<int> fds(kFiles);
  auto name = [&](int i) { return v->Path("file" + std::to_string(i)); };
  for (int i = 0; i < kFiles; ++i) {
    fds[i] = open(name(i).c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    ASSERT_GE(fds[i], 0);
  }
  const uint64_t kMaxOffset = 300 * 1024;
  for (int op = 0; op < 20000; ++op) {
    const int f = static_cast<int>(rand(kFiles));
    std::string& m = model[f];
    switch (rand(10)) {
      case 0: case 1: case 2: case 3: {  // write
        const uint64_t off = rand(kMaxOffset);
        const size_t len = 1 + rand(rand(4) == 0 ? 70000 : 5000);
        const std::string data = Pattern(len, static_cast<uint32_t>(rng()));
        ASSERT_EQ(pwrite(fds[f], data.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len)) << "op " << op;
        if (m.size() < off + len) m.resize(off + len, '\0');
        m.replace(off, len, data);
        break;
      }
      case 4: case 5: case 6: {  // read
        const uint64_t off = rand(m.size() + 5000);
        const size_t len = 1 + rand(20000);
        std::string buf(len, '\0');
        ssize_t n = pread(fds[f], buf.data(), len, static_cast<off_t>(off));
        const size_t want = off >= m.size() ? 0 : std::min<size_t>(len, m.size() - off);
        ASSERT_EQ(n, static_cast<ssize_t>(want)) << "op " << op;
        ASSERT_EQ(buf.substr(0, want), m.substr(std::min<size_t>(off, m.size()), want)) << "op " << op;
        break;
      }
      case 7: {  // truncate
        const uint64_t size = rand(kMaxOffset);
        ASSERT_EQ(ftruncate(fds[f], static_cast<off_t>(size)), 0) << "op " << op;
        m.resize(size, '\0');
        break;
      }
      case 8: {  // rename over another file
        const int g = static_cast<int>(rand(kFiles));
        if (g == f) break;
        ASSERT_EQ(rename(name(f).c_str(), name(g).c_str()), 0) << "op " << op;
        close(fds[g]);
        fds[g] = fds[f];
        model[g] = m;
        fds[f] = open(name(f).c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
        ASSERT_GE(fds[f], 0);
        model[f].clear();
        break;
      }
      case 9: {  // reopen
        close(fds[f]);
        fds[f] = open(name(f).c_str(), O_RDWR);
        ASSERT_GE(fds[f], 0) << "op " << op;
        break;
      }
    }
  }
  for (int i = 0; i < kFiles; ++i) close(fds[i]);
  // Everything again after a remount, from the backing files alone.
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);
  for (int i = 0; i < kFiles; ++i) {
    int fd = open(name(i).c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    std::string all;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
    close(fd);
    EXPECT_EQ(all.size(), model[i].size()) << "file " << i;
    EXPECT_TRUE(all == model[i]) << "file " << i << " differs after remount";
  }
}

}  // namespace
}  // namespace kmsfs::testing
