// Issue 19: "a million-entry lookup/forget churn keeps fds and memory
// bounded", through a real mount: every node the kernel knows holds one
// O_PATH descriptor in the daemon, and when the kernel forgets the nodes
// (here: its dentry and inode caches dropped) the descriptors must go too.
// The unit-level million cycles are in tests/core/inode_table_test.cc and
// tests/core/tree_test.cc.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include "tests/testutil/kmsd_mount_test.h"

namespace kmsfs::testing {
namespace {

// The daemon's descriptors other than sockets: its KMS connections (kept
// alive for reuse after a burst of pool refills, up to the transport's
// bound) are not what the kernel's forgets give back.
int DescriptorCount(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[64];
    const ssize_t len = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    if (len > 0 && std::string_view(target, static_cast<size_t>(len)).starts_with("socket:")) continue;
    ++n;
  }
  closedir(d);
  return n;
}

bool DropKernelCaches() {
  const int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, "2", 1) == 1;
  close(fd);
  return ok;
}

// Waits (at most 60 s) until the daemon holds at most `limit` descriptors,
// dropping the kernel's caches again every few seconds: forgets arrive
// asynchronously, and a node in use at the first drop is freed by a later one.
bool WaitForDescriptorsAtMost(pid_t pid, int limit, int* last) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto next_drop = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= next_drop) {
      if (!DropKernelCaches()) return false;
      next_drop = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    }
    *last = DescriptorCount(pid);
    if (*last >= 0 && *last <= limit) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

class InodeChurnTest : public KmsdMountTest {};

TEST_F(InodeChurnTest, ThousandsOfNodesGiveTheirDescriptorsBackWhenTheKernelForgetsThem) {
  if (geteuid() != 0) GTEST_SKIP() << "dropping the kernel's caches needs root";
  // 20,000 nodes, or fewer where the daemon could not hold that many
  // descriptors at all (see the next test). Most are directories: a node
  // and its descriptor live the same way for any type, and a file's header
  // (an xattr block of its own on ext4) makes removing thousands of them
  // after the caches were dropped cost a disk read each.
  struct rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const int kNodes = static_cast<int>(std::min<rlim_t>(20000, lim.rlim_max / 4 * 3));
  const int kFiles = 500;
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  const pid_t pid = v->DaemonPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(mkdir(v->Path("d").c_str(), 0755), 0);
  int baseline = 0;
  ASSERT_TRUE(WaitForDescriptorsAtMost(pid, 1 << 20, &baseline));
  auto name = [&](int i) { return v->Path("d/" + std::string(i < kFiles ? "f" : "n") + std::to_string(i)); };

  for (int i = 0; i < kNodes; ++i) {
    if (i < kFiles) {
      const int fd = open(name(i).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0) << i << ": " << std::strerror(errno);
      close(fd);
    } else {
      ASSERT_EQ(mkdir(name(i).c_str(), 0755), 0) << i << ": " << std::strerror(errno);
    }
  }
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    struct stat st;
    for (int i = 0; i < kNodes; ++i) ASSERT_EQ(stat(name(i).c_str(), &st), 0) << i;
    const int peak = DescriptorCount(pid);
    EXPECT_GT(peak, baseline + kNodes / 2) << "the kernel kept fewer nodes than the test assumes";
    EXPECT_GT(v->Status()["inodes"]["known"].get<uint64_t>(), static_cast<uint64_t>(kNodes / 2));

    int last = -1;
    EXPECT_TRUE(WaitForDescriptorsAtMost(pid, baseline + 16, &last))
        << "the daemon still holds " << last << " descriptors (baseline " << baseline << ", peak " << peak << ")";
    const auto status = v->Status();
    EXPECT_LE(status["inodes"]["known"].get<uint64_t>(), 8u) << status.dump();
    EXPECT_EQ(status["inodes"]["made"].get<uint64_t>() - status["inodes"]["forgotten"].get<uint64_t>(),
              status["inodes"]["known"].get<uint64_t>() - 1)
        << status.dump();
  }
  // The names are all still there after the churn.
  EXPECT_EQ(ReadFile(name(123)), "");
  struct stat st;
  EXPECT_EQ(stat(name(kNodes - 1).c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

// Whether this process may raise hard resource limits (CAP_SYS_RESOURCE in
// its effective set): root in a container may lack it.
bool MayRaiseHardLimits() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
    constexpr int kCapSysResource = 24;
    return (caps >> kCapSysResource) & 1;
  }
  return false;
}

// The daemon inherits the open-file limit of whoever mounts; when allowed
// (CAP_SYS_RESOURCE) it raises the hard limit to fs.nr_open. Each node the
// kernel keeps costs a descriptor, so a daemon stuck at a small inherited
// limit fails lookups and creates with EMFILE once the kernel caches that
// many nodes. Without the capability it raises its soft limit to the hard
// one, fails cleanly with EMFILE past it, and serves again once the kernel
// forgets nodes.
TEST_F(InodeChurnTest, ARootDaemonServesMoreNodesThanTheOpenFileLimitItInherits) {
  constexpr int kInheritedSoftLimit = 1024;
  constexpr int kInheritedHardLimit = 2048;
  constexpr int kNodes = 3000;
  const bool may_raise = MayRaiseHardLimits();
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.mount = false;
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  CommandResult r = RunCommand({"/usr/bin/prlimit",
                                "--nofile=" + std::to_string(kInheritedSoftLimit) + ":" +
                                    std::to_string(kInheritedHardLimit),
                                BuildDir() + "/kmsfs", "mount", v->backing_dir(), v->mountpoint(), "--log-file",
                                v->log_file()},
                               v->Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct Unmounter {
    std::string mountpoint;
    ~Unmounter() { RunCommand({"/bin/fusermount3", "-u", "-z", mountpoint}); }
  } unmounter{v->mountpoint()};
  const std::string limits = ReadFile("/proc/" + std::to_string(v->DaemonPid()) + "/limits");
  // Directories: a node each, no key to fetch.
  int made = 0;
  int err = 0;
  for (; made < kNodes; ++made) {
    if (mkdir(v->Path("d" + std::to_string(made)).c_str(), 0755) != 0) {
      err = errno;
      break;
    }
  }
  if (may_raise) {
    EXPECT_EQ(made, kNodes) << "mkdir failed: " << std::strerror(err) << "; the daemon's limits:\n" << limits;
    return;
  }
  // Soft raised to hard: more nodes than the inherited soft limit.
  EXPECT_GT(made, kInheritedSoftLimit) << limits;
  EXPECT_LT(made, kNodes) << "no CAP_SYS_RESOURCE, yet the daemon went past its hard limit?\n" << limits;
  EXPECT_EQ(err, EMFILE) << std::strerror(err);
  // Once the kernel forgets the nodes (dentries and inodes dropped, as under
  // memory pressure), their descriptors come back and the mount serves again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    std::ofstream("/proc/sys/vm/drop_caches") << "2\n";
    served = mkdir(v->Path("after").c_str(), 0755) == 0;
    if (!served) {
      ASSERT_EQ(errno, EMFILE) << std::strerror(errno);
    }
  }
  EXPECT_TRUE(served) << "the mount never served again after its nodes were removed";
}

}  // namespace
}  // namespace kmsfs::testing
