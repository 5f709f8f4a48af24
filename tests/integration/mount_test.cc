// End-to-end behaviour of a kmsfs mount: what reaches the backing directory,
// what stays hidden, remounts, the errors of DESIGN.md's table, and the CLI.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <cstring>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <algorithm>
#include <sstream>
#include <string>

#include "base/cpu_affinity.h"
#include "crypto/aead.h"
#include "crypto/aes_gcm_backend.h"
#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

// Returns the content, or sets `err` to the errno of the first failing call.
std::map<std::string, uint64_t> HashTree(const std::string& root) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    std::string data = ReadFile(e.path().string());
    out[stdfs::relative(e.path(), root).string()] = Fnv1a(data.data(), data.size());
  }
  return out;
}

class MountTest : public KmsdMountTest {};

TEST_F(MountTest, BackingFilesHoldNoPlaintextAndEveryOneHasAHeader) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  const std::string marker = "KMSFS-PLAINTEXT-MARKER-0123456789";
  std::string body;
  for (int i = 0; i < 2000; ++i) body += marker;
  ASSERT_EQ(mkdir(v->Path("dir").c_str(), 0755), 0);
  WriteFileOrDie(v->Path("a.txt"), body);
  WriteFileOrDie(v->Path("dir/b.txt"), marker);
  WriteFileOrDie(v->Path("empty"), "");
  const std::string empty = v->BackingPath("empty");
  ASSERT_TRUE(v->Unmount());
  int files = 0;
  for (const auto& e : stdfs::recursive_directory_iterator(v->backing_dir())) {
    // Names are encrypted too: none of the plaintext names shows.
    for (const char* name : {"a.txt", "dir", "b.txt", "empty"}) {
      EXPECT_NE(e.path().filename().string(), name) << e.path();
    }
    if (!e.is_regular_file() || e.path().filename() == ".kmsfs.json") continue;
    ++files;
    std::string raw = ReadFile(e.path().string());
    EXPECT_EQ(raw.find("KMSFS-PLAINTEXT"), std::string::npos) << e.path();
    char hdr[4096];
    EXPECT_GT(getxattr(e.path().c_str(), "user.kmsfs", hdr, sizeof hdr), 0) << e.path();
  }
  EXPECT_EQ(files, 3);
  // An empty file is a header and nothing else.
  EXPECT_EQ(stdfs::file_size(empty), 0u);
}

TEST_F(MountTest, RemountPreservesEveryByte) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("sub").c_str(), 0700), 0);
  for (int i = 0; i < 30; ++i) {
    WriteFileOrDie(v->Path((i % 2 ? "sub/f" : "f") + std::to_string(i)), Pattern(static_cast<size_t>(i) * 3001, i));
  }
  auto before = HashTree(v->mountpoint());
  ASSERT_TRUE(v->Unmount());
  CommandResult r = v->Mount();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(HashTree(v->mountpoint()), before);
}

TEST_F(MountTest, TheLogNamesTheCipherAndTheLibraryThatComputesIt) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  // The mounted daemon logs once it serves, just after the mount returns.
  std::string log;
  for (int i = 0; i < 500 && log.find("serving ") == std::string::npos; ++i) {
    usleep(10'000);
    log = v->ReadLog();
  }
  const std::string expected =
      crypto::PreferredCipherSuite() == crypto::CipherSuite::kAes256Gcm
          ? "AES-256-GCM by " + crypto::AesGcmBackendDescription(crypto::PreferredAesGcmBackend())
          : std::string("XChaCha20-Poly1305 by libsodium");
  EXPECT_NE(log.find(expected), std::string::npos) << log;
}

// Each thread of `pid` by name, with the CPUs it may use ("0-1", "1", ...).
std::multimap<std::string, std::string> ThreadCpus(pid_t pid) {
  std::multimap<std::string, std::string> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& t : stdfs::directory_iterator(task)) {
    std::string comm = TrimTrailing(ReadFile(t.path().string() + "/comm"));
    std::istringstream status(ReadFile(t.path().string() + "/status"));
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) out.emplace(comm, TrimTrailing(line.substr(line.find(':') + 2)));
    }
  }
  return out;
}

TEST_F(MountTest, BackgroundThreadsTunedToTheLastCpuStayThereWhileFuseThreadsUseEvery) {
  const std::vector<int> cpus = AllowedCpus();
  ASSERT_GE(cpus.size(), 2u) << "this test needs two CPUs to tell placements apart";
  const std::string last = std::to_string(cpus.back());
  const std::string every = ThreadCpus(getpid()).find("mount_test")->second;
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("a"), "x");
  // The default leaves placement to the scheduler.
  for (const auto& [comm, allowed] : ThreadCpus(v->DaemonPid())) EXPECT_EQ(allowed, every) << comm;

  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount({"--tune", "background-cpu=last"}).exit_code, 0);
  WriteFileOrDie(v->Path("b"), "x");
  int background = 0, fuse = 0;
  for (const auto& [comm, allowed] : ThreadCpus(v->DaemonPid())) {
    if (comm.rfind("kmsfs-", 0) == 0) {
      EXPECT_EQ(allowed, last) << comm;
      ++background;
    } else {
      EXPECT_EQ(allowed, every) << comm;
      ++fuse;
    }
  }
  EXPECT_GE(background, 2);  // the work queue's threads and the KMS executor's
  EXPECT_GE(fuse, 1);
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount({"--tune", "background-cpu=" + std::to_string(cpus.front())}).exit_code, 0);
  for (const auto& [comm, allowed] : ThreadCpus(v->DaemonPid())) {
    if (comm.rfind("kmsfs-", 0) == 0) {
      EXPECT_EQ(allowed, std::to_string(cpus.front())) << comm;
    }
  }
  ASSERT_TRUE(v->Unmount());
  for (const std::string bad : {"x", "-1", "4096", ""}) {
    CommandResult r = v->Mount({"--tune", "background-cpu=" + bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
  }
}

TEST_F(MountTest, MountRaisesKernelReadaheadToTheRequestSize) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  struct stat st;
  ASSERT_EQ(stat(v->mountpoint().c_str(), &st), 0);
  const std::string ra = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
                         "/read_ahead_kb";
  // The kernel default for FUSE is 128 KiB; the mount asks for its 1 MiB request size.
  EXPECT_EQ(TrimTrailing(ReadFile(ra)), "1024");
  // Sequential reads still return every byte across request boundaries.
  const std::string body = Pattern(3 * 1024 * 1024 + 12345, 7);
  WriteFileOrDie(v->Path("big"), body);
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);
  EXPECT_TRUE(ReadFile(v->Path("big")) == body);
}

TEST_F(MountTest, SecurityAndSystemXattrsStayWithTheBackingFilesystem) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "content");
  ASSERT_EQ(setxattr(v->Path("f").c_str(), "user.kept", "1", 1, 0), 0);
  // A label the backing filesystem holds is neither shown nor listed.
  ASSERT_EQ(setxattr(v->BackingPath("f").c_str(), "trusted.kmsfs-test", "t", 1, 0), 0);
  ASSERT_EQ(setxattr(v->BackingPath("f").c_str(), "security.kmsfs-test", "label", 5, 0), 0);
  char buf[256];
  errno = 0;
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "security.kmsfs-test", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  errno = 0;
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "system.posix_acl_access", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  // The device hook answers these itself: a size query too, and the header's
  // name; user.* still reaches the backing file.
  errno = 0;
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "security.capability", nullptr, 0), -1);
  EXPECT_EQ(errno, ENODATA);
  errno = 0;
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "user.kmsfs", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "user.kept", buf, sizeof buf), 1);
  ssize_t n = listxattr(v->Path("f").c_str(), buf, sizeof buf);
  ASSERT_GT(n, 0);
  std::string names(buf, static_cast<size_t>(n));
  EXPECT_NE(names.find("user.kept"), std::string::npos);
  EXPECT_NE(names.find("trusted.kmsfs-test"), std::string::npos);
  EXPECT_EQ(names.find("security."), std::string::npos);
  // Setting them is refused, and the backing file's own label is untouched.
  errno = 0;
  EXPECT_EQ(setxattr(v->Path("f").c_str(), "security.kmsfs-test", "x", 1, 0), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  errno = 0;
  EXPECT_EQ(removexattr(v->Path("f").c_str(), "security.kmsfs-test"), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(getxattr(v->BackingPath("f").c_str(), "security.kmsfs-test", buf, sizeof buf), 5);
  // Writing still works (the kernel asks for security.capability first).
  WriteFileOrDie(v->Path("f"), "rewritten");
  EXPECT_EQ(ReadFile(v->Path("f")), "rewritten");
}

TEST_F(MountTest, OnlyTheRootsConfigFileIsHidden) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("sub").c_str(), 0755), 0);
  WriteFileOrDie(v->Path("sub/.kmsfs.json"), "a user's own file");
  bool listed = false;
  for (const auto& e : stdfs::directory_iterator(v->Path("sub"))) listed |= e.path().filename() == ".kmsfs.json";
  EXPECT_TRUE(listed) << "a file named .kmsfs.json below the root is the user's";
  EXPECT_EQ(ReadFile(v->Path("sub/.kmsfs.json")), "a user's own file");
}

// Read syscalls of the daemon so far (its /dev/fuse reads are one per request).
long long DaemonReadCalls(pid_t pid) {
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  long long value = -1;
  while (io >> key >> value) {
    if (key == "syscr:") return value;
  }
  return -1;
}

// Names long enough that one listing takes many readdir requests.
std::string LongName(int i) { return std::string(120, 'n') + std::to_string(i); }

TEST_F(MountTest, ListingsResumeAcrossRequestsAndSeekdirReturnsToAnEntry) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  constexpr int kFiles = 1200;
  for (int i = 0; i < kFiles; ++i) WriteFileOrDie(v->Path(LongName(i)), std::string(static_cast<size_t>(i % 50), 'x'));
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);  // a fresh mount: no names known to the kernel

  DIR* dir = opendir(v->mountpoint().c_str());
  ASSERT_NE(dir, nullptr);
  std::map<std::string, int> seen;
  std::vector<std::string> order;
  long mark = -1;
  std::string after_mark;
  while (dirent* e = readdir(dir)) {
    if (order.size() == 600) mark = telldir(dir);
    if (mark != -1 && after_mark.empty() && order.size() == 601) after_mark = e->d_name;
    ++seen[e->d_name];
    order.emplace_back(e->d_name);
  }
  EXPECT_EQ(seen.count(".kmsfs.json"), 0u) << "the volume's config file stays hidden after the first request";
  EXPECT_EQ(seen.size(), static_cast<size_t>(kFiles) + 2);  // with . and ..
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_EQ(seen[LongName(i)], 1) << "entry " << i << " listed once";
    struct stat st;
    ASSERT_EQ(lstat(v->Path(LongName(i)).c_str(), &st), 0);
    EXPECT_EQ(st.st_size, i % 50) << "readdirplus gives the plaintext size";
  }
  ASSERT_NE(mark, -1);
  seekdir(dir, mark);
  dirent* e = readdir(dir);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::string(e->d_name), after_mark);
  closedir(dir);
}

TEST_F(MountTest, ListingGivesTheKernelEveryEntrysAttributes) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) WriteFileOrDie(v->Path(LongName(i)), "x");
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);
  const pid_t pid = v->DaemonPid();
  ASSERT_GT(pid, 0);
  const long long before = DaemonReadCalls(pid);
  ASSERT_GE(before, 0);
  // What ls -l does: list, then stat every name.
  DIR* dir = opendir(v->mountpoint().c_str());
  ASSERT_NE(dir, nullptr);
  int stats = 0;
  while (dirent* e = readdir(dir)) {
    struct stat st;
    if (e->d_name[0] == '.') continue;
    ASSERT_EQ(fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW), 0) << e->d_name;
    EXPECT_EQ(st.st_size, 1);
    ++stats;
  }
  closedir(dir);
  const long long requests = DaemonReadCalls(pid) - before;
  EXPECT_EQ(stats, kFiles);
  // A lookup per name would be at least kFiles requests; the listing itself
  // takes a few dozen.
  EXPECT_LT(requests, kFiles / 4) << "the kernel looked names up again instead of using the listing's attributes";
}

TEST_F(MountTest, RetiredTuningFlagsSayWhereTheyWent) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Unmount());
  CommandResult r = v->Mount({"--pool-size", "8"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tune pool-size="), std::string::npos) << r.err;
  r = v->Mount({"--spin-us", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no longer"), std::string::npos) << r.err;
  r = v->Mount({"--tune", "pool-size=65537"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("0 to 65536"), std::string::npos) << r.err;
  r = v->Mount({"--tune", "nonsense=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("KEY one of"), std::string::npos) << r.err;
}

// The set-user-ID cases of issue 19, run in the mount and in a plain
// directory: writes and truncates (write, ftruncate, truncate, O_TRUNC) by a
// user without CAP_FSETID clear set-user-ID, and set-group-ID when group
// execute is set (not when it is not: that marks mandatory locking); root's
// writes keep them; chown clears them, even by root and even to the same
// owner. The kernel decides (FUSE_CAP_HANDLE_KILLPRIV is off): the mount
// must show exactly what ext4 shows.
TEST_F(MountTest, WriteOrTruncateByAnotherUserClearsSetUserIdAndARootWriteKeepsIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  auto v = StartPlainNamesVolume({"-o", "allow_other"});
  ASSERT_NE(v, nullptr);
  // mkdtemp made the test directory 0700; let the other uid walk to the mount.
  chmod(stdfs::path(v->mountpoint()).parent_path().c_str(), 0755);
  chmod(v->mountpoint().c_str(), 0777);
  TempDir plain_parent;
  chmod(plain_parent.path().c_str(), 0755);
  const std::string plain = plain_parent.Join("plain");
  ASSERT_EQ(mkdir(plain.c_str(), 0777), 0);
  ASSERT_EQ(chmod(plain.c_str(), 0777), 0);

  const std::map<std::string, mode_t> files = {
      {"write", 04777},         {"truncate", 04777},       {"ftruncate", 04777},     {"otrunc", 04777},
      {"sgid", 02777},          {"sgid-nox", 02767},       {"sgid-truncate", 02777}, {"both", 06777},
      {"root", 04777},          {"root-truncate", 06777},  {"chown", 04755},         {"chown-sgid", 02755},
      {"chown-sgid-nox", 02745}, {"chown-nothing", 06755}, {"chown-group", 04755},   {"nobody-reads", 04777},
      {"sgid-nox-member", 02767}};
  // The sequence, in `dir`; each file's mode afterwards, through `dir`.
  auto run = [&](const std::string& dir) {
    auto path = [&](const std::string& name) { return dir + "/" + name; };
    for (const auto& [name, mode] : files) {
      WriteFileOrDie(path(name), "content");
      // The writer (nobody, group nogroup) in the file's group.
      if (name == "sgid-nox-member") {
        EXPECT_EQ(chown(path(name).c_str(), static_cast<uid_t>(-1), 65534), 0);
      }
      EXPECT_EQ(chmod(path(name).c_str(), mode), 0) << name;
    }
    auto write_as_nobody = [&](const std::string& name, int flags) {
      return RunAsNobody([&] {
        int fd = open(path(name).c_str(), O_WRONLY | flags);
        if (fd < 0) return errno;
        int err = write(fd, "x", 1) == 1 ? 0 : errno;
        close(fd);
        return err;
      });
    };
    EXPECT_EQ(write_as_nobody("write", 0), 0);
    EXPECT_EQ(write_as_nobody("sgid", 0), 0);
    EXPECT_EQ(write_as_nobody("sgid-nox", 0), 0);
    EXPECT_EQ(write_as_nobody("sgid-nox-member", 0), 0);
    EXPECT_EQ(write_as_nobody("both", 0), 0);
    EXPECT_EQ(write_as_nobody("otrunc", O_TRUNC), 0);
    EXPECT_EQ(RunAsNobody([&] { return truncate(path("truncate").c_str(), 2) == 0 ? 0 : errno; }), 0);
    EXPECT_EQ(RunAsNobody([&] { return truncate(path("sgid-truncate").c_str(), 3) == 0 ? 0 : errno; }), 0);
    EXPECT_EQ(RunAsNobody([&] {
                int fd = open(path("ftruncate").c_str(), O_WRONLY);
                if (fd < 0) return errno;
                int err = ftruncate(fd, 4) == 0 ? 0 : errno;
                close(fd);
                return err;
              }),
              0);
    EXPECT_EQ(RunAsNobody([&] { return ReadFile(path("nobody-reads")) == "content" ? 0 : 1; }), 0);
    WriteFileOrDie(path("root"), "root writes keep the bits");
    EXPECT_EQ(truncate(path("root-truncate").c_str(), 1), 0);
    EXPECT_EQ(chown(path("chown").c_str(), 65534, 65534), 0);
    EXPECT_EQ(chown(path("chown-sgid").c_str(), 65534, 65534), 0);
    EXPECT_EQ(chown(path("chown-sgid-nox").c_str(), 65534, 65534), 0);
    EXPECT_EQ(chown(path("chown-nothing").c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1)), 0);
    EXPECT_EQ(chown(path("chown-group").c_str(), static_cast<uid_t>(-1), 65534), 0);
    std::map<std::string, mode_t> modes;
    for (const auto& [name, mode] : files) {
      struct stat st{};
      EXPECT_EQ(stat(path(name).c_str(), &st), 0) << name;
      modes[name] = st.st_mode & 07777;
    }
    return modes;
  };
  const auto in_mount = run(v->mountpoint());
  const auto in_plain = run(plain);
  // One known difference: set-group-ID without group execute, written by a
  // user outside the file's group. Since Linux 6.2 ext4 clears it
  // (setattr_should_drop_sgid); the kernel's FUSE module, which clears the
  // bits for a daemon without FUSE_CAP_HANDLE_KILLPRIV, still keeps it. The
  // bit grants nothing on exec without group execute.
  auto comparable = [](std::map<std::string, mode_t> modes) {
    modes.erase("sgid-nox");
    return modes;
  };
  EXPECT_EQ(comparable(in_mount), comparable(in_plain));

  EXPECT_EQ(in_mount.at("write"), 0777u);
  EXPECT_EQ(in_mount.at("truncate"), 0777u);
  EXPECT_EQ(in_mount.at("ftruncate"), 0777u);
  EXPECT_EQ(in_mount.at("otrunc"), 0777u);
  EXPECT_EQ(in_mount.at("sgid"), 0777u);
  EXPECT_EQ(in_mount.at("sgid-truncate"), 0777u);
  EXPECT_EQ(in_mount.at("both"), 0777u);
  EXPECT_EQ(in_mount.at("sgid-nox"), 02767u) << "FUSE keeps set-group-ID without group execute";
  EXPECT_EQ(in_mount.at("sgid-nox-member"), 02767u);
  EXPECT_EQ(in_mount.at("nobody-reads"), 04777u);
  EXPECT_EQ(in_mount.at("root"), 04777u);
  EXPECT_EQ(in_mount.at("root-truncate"), 06777u);
  EXPECT_EQ(in_mount.at("chown"), 0755u);
  EXPECT_EQ(in_mount.at("chown-sgid"), 0755u);
  EXPECT_EQ(in_mount.at("chown-sgid-nox"), 02745u);
  EXPECT_EQ(in_mount.at("chown-nothing"), 0755u);
  EXPECT_EQ(in_mount.at("chown-group"), 0755u);
  // The backing files carry the same modes.
  auto backing_mode = [&](const std::string& name) {
    struct stat st{};
    EXPECT_EQ(stat(v->BackingPath(name).c_str(), &st), 0) << name;
    return st.st_mode & 07777;
  };
  for (const auto& [name, mode] : in_mount) EXPECT_EQ(backing_mode(name), mode) << name;
  EXPECT_EQ(ReadFile(v->Path("write")), "xontent");
  EXPECT_EQ(ReadFile(v->Path("truncate")), "co");
  EXPECT_EQ(ReadFile(v->Path("ftruncate")), "cont");
  EXPECT_EQ(ReadFile(v->Path("otrunc")), "x");
}

TEST_F(MountTest, ConfigFileAndHeaderXattrAreHidden) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  struct stat st;
  EXPECT_EQ(stat(v->Path(".kmsfs.json").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  for (const auto& e : stdfs::directory_iterator(v->mountpoint())) {
    EXPECT_NE(e.path().filename(), ".kmsfs.json");
  }
  EXPECT_EQ(open(v->Path(".kmsfs.json").c_str(), O_CREAT | O_WRONLY, 0644), -1);
  WriteFileOrDie(v->Path("f"), "x");
  char buf[4096];
  EXPECT_EQ(getxattr(v->Path("f").c_str(), "user.kmsfs", buf, sizeof buf), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(setxattr(v->Path("f").c_str(), "user.kmsfs", "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(removexattr(v->Path("f").c_str(), "user.kmsfs"), -1);
  EXPECT_EQ(errno, EPERM);
  ssize_t n = listxattr(v->Path("f").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0).find("user.kmsfs"), std::string::npos);
  // The header is still there underneath.
  EXPECT_GT(getxattr(v->BackingPath("f").c_str(), "user.kmsfs", buf, sizeof buf), 0);
}

TEST_F(MountTest, TamperedBlockFailsOnlyReadsTouchingIt) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  const std::string data = Pattern(3 * 4096, 7);
  WriteFileOrDie(v->Path("f"), data);
  ASSERT_TRUE(v->Unmount());
  // Flip one ciphertext byte inside block 1 (each sealed block is 4096 + overhead bytes).
  const uint64_t backing_size = stdfs::file_size(v->BackingPath("f"));
  const uint64_t sealed_block = backing_size / 3;
  int fd = open(v->BackingPath("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c;
  ASSERT_EQ(pread(fd, &c, 1, static_cast<off_t>(sealed_block + 100)), 1);
  c ^= 0x01;
  ASSERT_EQ(pwrite(fd, &c, 1, static_cast<off_t>(sealed_block + 100)), 1);
  close(fd);
  ASSERT_EQ(v->Mount().exit_code, 0);

  fd = open(v->Path("f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[4096];
  EXPECT_EQ(pread(fd, buf, 4096, 0), 4096);
  EXPECT_EQ(std::string(buf, 4096), data.substr(0, 4096));
  EXPECT_EQ(pread(fd, buf, 4096, 4096), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(pread(fd, buf, 4096, 8192), 4096);
  EXPECT_EQ(std::string(buf, 4096), data.substr(8192, 4096));
  close(fd);
  const std::string log = v->ReadLog();
  EXPECT_NE(log.find("/f"), std::string::npos) << log;
  EXPECT_NE(log.find("block 1"), std::string::npos) << log;
}

TEST_F(MountTest, MissingOrCorruptHeaderFailsOpenWithEio) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("noheader"), "secret one");
  WriteFileOrDie(v->Path("badheader"), "secret two");
  WriteFileOrDie(v->Path("fine"), "secret three");
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(removexattr(v->BackingPath("noheader").c_str(), "user.kmsfs"), 0);
  ASSERT_EQ(setxattr(v->BackingPath("badheader").c_str(), "user.kmsfs", "garbage", 7, 0), 0);
  ASSERT_EQ(v->Mount().exit_code, 0);
  int err = 0;
  ReadFile(v->Path("noheader"), &err);
  EXPECT_EQ(err, EIO);
  ReadFile(v->Path("badheader"), &err);
  EXPECT_EQ(err, EIO);
  EXPECT_EQ(ReadFile(v->Path("fine"), &err), "secret three");
  const std::string log = v->ReadLog();
  EXPECT_NE(log.find("noheader"), std::string::npos) << log;
  EXPECT_NE(log.find("badheader"), std::string::npos) << log;
}

TEST_F(MountTest, KmsDownFailsUncachedOpensWhileOpenHandlesAndCachedKeysWork) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("open"), "kept open");
  WriteFileOrDie(v->Path("cached"), "cached key");
  WriteFileOrDie(v->Path("cold"), "never opened");
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);  // fresh cache
  int fd = open(v->Path("open").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadFile(v->Path("cached")), "cached key");
  struct stat st;
  kmsd_->Kill();
  // stat needs no key.
  ASSERT_EQ(stat(v->Path("cold").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 12);
  // The open handle and the cached key keep working.
  char buf[64] = {};
  EXPECT_EQ(pread(fd, buf, sizeof buf, 0), 9);
  EXPECT_EQ(pwrite(fd, "KEPT", 4, 0), 4);
  close(fd);
  EXPECT_EQ(ReadFile(v->Path("cached")), "cached key");
  EXPECT_EQ(ReadFile(v->Path("open")), "KEPT open");
  int err = 0;
  ReadFile(v->Path("cold"), &err);
  EXPECT_EQ(err, EIO);
  EXPECT_NE(v->ReadLog().find("cold"), std::string::npos);
}

// A header under another key (even one the KMS would refuse this user) is
// refused by the mount itself, before any KMS call: a planted header never
// makes the user's credentials act on a key of someone else's choosing.
TEST_F(MountTest, AHeaderUnderAnotherKeyFailsOpenWithEioWithoutAKmsCall) {
  auto alice = StartPlainNamesVolume();
  ASSERT_NE(alice, nullptr);
  // Bob's own volume: a file whose DEK is wrapped under bob's key.
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.user = DefaultTestUsers()[1];
  o.init_args = {"--plaintext-names"};
  auto bob = MountedVolume::Start(o);
  ASSERT_NE(bob, nullptr);
  WriteFileOrDie(bob->Path("bobs"), "bob's secret");
  ASSERT_TRUE(bob->Unmount());
  // Move bob's file (content and header) into alice's backing directory.
  stdfs::copy_file(bob->BackingPath("bobs"), alice->BackingPath("bobs"));
  char hdr[4096];
  ssize_t n = getxattr(bob->BackingPath("bobs").c_str(), "user.kmsfs", hdr, sizeof hdr);
  ASSERT_GT(n, 0);
  ASSERT_EQ(setxattr(alice->BackingPath("bobs").c_str(), "user.kmsfs", hdr, static_cast<size_t>(n), 0), 0);
  const uint64_t calls = alice->Status()["kms"]["calls"].get<uint64_t>();
  int err = 0;
  ReadFile(alice->Path("bobs"), &err);
  EXPECT_EQ(err, EIO);
  EXPECT_EQ(alice->Status()["kms"]["calls"].get<uint64_t>(), calls) << "the foreign key reached the KMS";
  EXPECT_EQ(alice->Status()["foreign_headers"].get<uint64_t>(), 1u);
  const std::string log = alice->ReadLog();
  EXPECT_NE(log.find(bob->key_id()), std::string::npos) << log;
  EXPECT_NE(log.find(alice->key_id()), std::string::npos) << log;
}

TEST_F(MountTest, FilesLargerThanFourGibibytes) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  int fd = open(v->Path("big").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  const off_t far = (5LL << 30) + 12345;
  const std::string tail = Pattern(10000, 3);
  ASSERT_EQ(pwrite(fd, tail.data(), tail.size(), far), static_cast<ssize_t>(tail.size()));
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, far + static_cast<off_t>(tail.size()));
  std::string buf(tail.size(), '\0');
  ASSERT_EQ(pread(fd, buf.data(), buf.size(), far), static_cast<ssize_t>(buf.size()));
  EXPECT_EQ(buf, tail);
  std::string zeros(4096, '\1');
  ASSERT_EQ(pread(fd, zeros.data(), zeros.size(), 4LL << 30), 4096);
  EXPECT_EQ(zeros, std::string(4096, '\0'));
  close(fd);
}

TEST_F(MountTest, TarExtractsADeepTreeCleanlyAndBackIdentically) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  // A deep tree with files, symlinks, modes and times, packed from a plain directory.
  TempDir plain;
  std::string dir = plain.Join("tree");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  for (int depth = 0; depth < 12; ++depth) {
    for (int i = 0; i < 5; ++i) WriteFileOrDie(dir + "/f" + std::to_string(i), Pattern(i * 5000 + depth, depth * 10 + i));
    ASSERT_EQ(symlink("f0", (dir + "/link").c_str()), 0);
    ASSERT_EQ(chmod((dir + "/f1").c_str(), 0600), 0);
    dir += "/sub" + std::to_string(depth);
    ASSERT_EQ(mkdir(dir.c_str(), 0750), 0);
  }
  const std::string tarball = plain.Join("tree.tar");
  CommandResult r = RunCommand({"/bin/tar", "-C", plain.path(), "-cf", tarball, "tree"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // tar x checks that directories are not renamed under it (inode numbers).
  r = RunCommand({"/bin/tar", "-C", v->mountpoint(), "-xpf", tarball});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(HashTree(v->Path("tree")), HashTree(plain.Join("tree")));
  // And out again: the archive made from the mount lists the same entries.
  r = RunCommand({"/bin/tar", "-C", v->mountpoint(), "-cf", plain.Join("again.tar"), "tree"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // (tar lists in directory order, which encrypted names change: compared sorted.)
  auto sorted_listing = [](const std::string& archive) {
    std::istringstream in(RunCommand({"/bin/tar", "-tvf", archive}).out);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(sorted_listing(tarball), sorted_listing(plain.Join("again.tar")));
}

TEST_F(MountTest, StatusReportsCacheAndKmsCounters) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "x");
  ReadFile(v->Path("f"));
  CommandResult r = RunKmsfs({"status", v->mountpoint()}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cache:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kms:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pool:"), std::string::npos) << r.out;
  TempDir plain;
  r = RunKmsfs({"status", plain.path()}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a kmsfs mount"), std::string::npos) << r.err;
}

TEST_F(MountTest, UmountCommandUnmounts) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "x");
  CommandResult r = RunKmsfs({"umount", v->mountpoint()}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  EXPECT_NE(stat(v->Path("f").c_str(), &st), 0);
}

}  // namespace
}  // namespace kmsfs::testing
