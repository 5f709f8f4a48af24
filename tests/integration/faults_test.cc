// Faults: the daemon killed mid-write, a full or read-only backing
// filesystem, and kmsd restarted during a workload. Nothing already written
// (and synced) may be lost, and every failure must be a clear errno.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

// Writes `data` and fsyncs; returns 0 or the errno of the first failure.
int WriteSynced(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      int err = errno;
      close(fd);
      return err;
    }
    done += static_cast<size_t>(n);
  }
  int rc = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return rc;
}

// A small tmpfs for a backing directory; unmounted when the test ends.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
    mkdir(dir.c_str(), 0755);
    ok_ = mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (ok_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

class FaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
  }
  std::unique_ptr<MountedVolume> Volume(const std::string& backing = "", std::vector<std::string> args = {}) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.mount_args = std::move(args);
    if (!backing.empty()) {
      // Initialise inside the given (empty) directory.
      o.mount = false;
      auto key = RunKmsfs({"key", "create"}, KmsEnv(*kmsd_, DefaultTestUsers()[0]));
      EXPECT_EQ(key.exit_code, 0) << key.err;
      o.key_id = key.out.substr(0, 36);
      auto init = RunKmsfs({"init", backing, "--key", o.key_id}, KmsEnv(*kmsd_, DefaultTestUsers()[0]));
      EXPECT_EQ(init.exit_code, 0) << init.err;
      o.backing_dir = backing;
      auto v = MountedVolume::Start(o);
      if (v) {
        EXPECT_EQ(v->Mount().exit_code, 0) << v->ReadLog();
      }
      return v;
    }
    return MountedVolume::Start(o);
  }
  std::unique_ptr<KmsdProcess> kmsd_;
  TempDir dir_;
};

TEST_F(FaultsTest, KilledDaemonLosesNoSyncedFile) {
  auto v = Volume();
  ASSERT_NE(v, nullptr);
  std::mutex mu;
  std::map<std::string, std::string> synced;  // name -> content, fsync returned 0
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load() && i < 100000; ++i) {
        const std::string name = "w" + std::to_string(t) + "-" + std::to_string(i);
        const std::string data = Pattern(1000 + (i * 7919) % 40000, t * 100000 + i);
        if (WriteSynced(v->Path(name), data) != 0) break;  // the daemon is gone
        std::lock_guard<std::mutex> lock(mu);
        synced[name] = data;
      }
    });
  }
  // Let the writers get going, then pull the plug on the daemon.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (synced.size() >= 60) break;
    }
    usleep(10 * 1000);
  }
  v->KillDaemon();
  stop.store(true);
  for (auto& w : writers) w.join();
  ASSERT_GE(synced.size(), 20u);

  ASSERT_EQ(v->Mount().exit_code, 0) << v->ReadLog();
  for (const auto& [name, data] : synced) {
    int err = 0;
    EXPECT_TRUE(ReadFile(v->Path(name), &err) == data) << name << " errno " << err;
  }
  ASSERT_TRUE(v->Unmount());
  // fsck is clean, or names only files that were being written at the kill.
  CommandResult r = RunKmsfs({"fsck", v->backing_dir()}, v->Env());
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("checked ", 0) == 0) continue;
    const std::string name = line.substr(0, line.find(':'));
    EXPECT_EQ(synced.count(name), 0u) << "fsck reports a synced file: " << line;
  }
}

TEST_F(FaultsTest, FullBackingFilesystemReportsEnospcAndKeepsWhatWasWritten) {
  SmallTmpfs fs(dir_.Join("small"), "6m");
  ASSERT_TRUE(fs.ok()) << "cannot mount a tmpfs here";
  auto v = Volume(dir_.Join("small"));
  ASSERT_NE(v, nullptr);
  std::vector<std::string> kept;
  int err = 0;
  for (int i = 0; i < 100 && err == 0; ++i) {
    const std::string name = "f" + std::to_string(i);
    err = WriteSynced(v->Path(name), Pattern(256 * 1024, i));
    if (err == 0) kept.push_back(name);
  }
  EXPECT_EQ(err, ENOSPC);
  ASSERT_FALSE(kept.empty());
  // The file that hit ENOSPC is not torn: after a remount (the kernel's
  // writeback cache no longer vouches for pages that failed to flush) it
  // reads cleanly, as a prefix of what was being written.
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0) << v->ReadLog();
  {
    const std::string failed = "f" + std::to_string(kept.size());
    const std::string want = Pattern(256 * 1024, static_cast<uint32_t>(kept.size()));
    int read_err = 0;
    const std::string got = ReadFile(v->Path(failed), &read_err);
    EXPECT_EQ(read_err, 0) << "torn file " << failed;
    EXPECT_TRUE(want.compare(0, got.size(), got) == 0) << failed << " holds bytes never written";
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_TRUE(ReadFile(v->Path(kept[i])) == Pattern(256 * 1024, static_cast<uint32_t>(i))) << kept[i];
  }
  // Room again after deleting: writes work.
  ASSERT_EQ(unlink(v->Path(kept.back()).c_str()), 0);
  ASSERT_EQ(unlink(v->Path(kept.front()).c_str()), 0);
  EXPECT_EQ(WriteSynced(v->Path("after"), "room again"), 0);
  EXPECT_EQ(ReadFile(v->Path("after")), "room again");
}

TEST_F(FaultsTest, ReadOnlyBackingFilesystemServesReadsAndRefusesWrites) {
  SmallTmpfs fs(dir_.Join("ro"), "8m");
  ASSERT_TRUE(fs.ok()) << "cannot mount a tmpfs here";
  auto v = Volume(dir_.Join("ro"));
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(WriteSynced(v->Path("f"), "written before read-only"), 0);
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(mount(nullptr, dir_.Join("ro").c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0);
  ASSERT_EQ(v->Mount().exit_code, 0) << v->ReadLog();
  EXPECT_EQ(ReadFile(v->Path("f")), "written before read-only");
  EXPECT_EQ(WriteSynced(v->Path("g"), "x"), EROFS);
  int fd = open(v->Path("f").c_str(), O_WRONLY);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EROFS);
  ASSERT_TRUE(v->Unmount());
  mount(nullptr, dir_.Join("ro").c_str(), nullptr, MS_REMOUNT, nullptr);
}

TEST_F(FaultsTest, KmsdRestartDuringWorkloadRecoversWithoutRemount) {
  auto v = Volume("", {"--cache-ttl", "0"});
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(WriteSynced(v->Path("held"), "held open"), 0);
  ASSERT_EQ(WriteSynced(v->Path("later"), "opened later"), 0);
  ASSERT_TRUE(v->WaitForReleases()) << "an open of \"later\" must not share an object still open";
  int held = open(v->Path("held").c_str(), O_RDWR);
  ASSERT_GE(held, 0);
  kmsd_->Kill();
  // Open handles keep working; new opens fail clearly (EIO: KMS unreachable).
  char buf[32] = {};
  EXPECT_EQ(pread(held, buf, sizeof buf, 0), 9);
  EXPECT_EQ(pwrite(held, "HELD", 4, 0), 4);
  int err = 0;
  ReadFile(v->Path("later"), &err);
  EXPECT_EQ(err, EIO);
  // kmsd comes back on the same address: the mount recovers by itself.
  ASSERT_TRUE(kmsd_->Restart());
  ASSERT_EQ(v->Env().at("KMSFS_KMS_ENDPOINT"), kmsd_->endpoint()) << "kmsd must come back on the same port";
  EXPECT_EQ(ReadFile(v->Path("later"), &err), "opened later") << "errno " << err;
  EXPECT_EQ(WriteSynced(v->Path("new"), "created after the restart"), 0);
  close(held);
  EXPECT_EQ(ReadFile(v->Path("held")), "HELD open");
}

TEST_F(FaultsTest, SlowKmsStillServes) {
  kmsd_.reset();
  KmsdProcess::Options o;
  o.latency_ms = 50;
  kmsd_ = KmsdProcess::Start(o);
  ASSERT_NE(kmsd_, nullptr);
  auto v = Volume("", {"--cache-ttl", "0"});
  ASSERT_NE(v, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(WriteSynced(v->Path("f" + std::to_string(i)), "slow " + std::to_string(i)), 0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ReadFile(v->Path("f" + std::to_string(i))), "slow " + std::to_string(i));
}

}  // namespace
}  // namespace kmsfs::testing
