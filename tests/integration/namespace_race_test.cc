// Issue 19: "8 threads doing random namespace operations in one directory
// against a model". The model is a plain directory that gets every
// operation too, in the same order as the mount for every name involved:
// each thread owns a set of names, and an operation holds the locks of the
// sets it touches while it runs on the mount and then on the plain
// directory, so both see the same interleaving of everything that can
// interfere, while operations on other names run concurrently in the same
// mount directory. Each result (errno) must match at once; afterwards the
// two trees must match in names, types, modes, link counts, sizes,
// contents, symlink targets and hard-link groups, and again after a
// remount (from the backing directory alone).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

constexpr int kThreads = 8;
constexpr int kNamesPerThread = 5;
constexpr int kOpsPerThread = 2500;

std::string Name(int thread, int k) { return "t" + std::to_string(thread) + "n" + std::to_string(k); }

int Err(long rc) { return rc < 0 ? errno : 0; }

// Everything the tree under `root` shows, and which paths are links of one inode.
struct TreeView {
  std::map<std::string, std::string> entries;
  std::set<std::set<std::string>> link_groups;
  bool operator==(const TreeView&) const = default;
};

TreeView View(const std::string& root) {
  TreeView v;
  std::map<ino_t, std::set<std::string>> by_ino;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    const std::string rel = stdfs::relative(e.path(), root).string();
    struct stat st;
    if (lstat(e.path().c_str(), &st) != 0) {
      v.entries[rel] = "vanished";
      continue;
    }
    std::string d = std::to_string(st.st_mode) + " links " + std::to_string(st.st_nlink);
    if (S_ISREG(st.st_mode)) {
      d += " size " + std::to_string(st.st_size) + " " + ReadFile(e.path().string());
      by_ino[st.st_ino].insert(rel);
    } else if (S_ISLNK(st.st_mode)) {
      char target[256];
      const ssize_t n = readlink(e.path().c_str(), target, sizeof target);
      d += " -> " + std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
      by_ino[st.st_ino].insert(rel);
    }
    v.entries[rel] = d;
  }
  for (auto& [ino, names] : by_ino) v.link_groups.insert(names);
  return v;
}

std::string Describe(const TreeView& v) {
  std::string s;
  for (const auto& [name, d] : v.entries) s += "  " + name + ": " + d.substr(0, 80) + "\n";
  return s;
}

class NamespaceRaceTest : public KmsdMountTest {};

TEST_F(NamespaceRaceTest, EightThreadsOfNamespaceOperationsInOneDirectoryMatchAPlainDirectory) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  TempDir plain_parent;
  const std::string mount_dir = v->Path("race");
  const std::string plain_dir = plain_parent.Join("race");
  ASSERT_EQ(mkdir(mount_dir.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(plain_dir.c_str(), 0755), 0);

  std::vector<std::mutex> sets(kThreads);
  std::mutex report_mu;
  std::vector<std::string> mismatches;
  std::atomic<int> ops_done{0};
  std::atomic<int> succeeded{0};

  auto worker = [&](int t) {
    std::mt19937 rng(1000 + t);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    for (int i = 0; i < kOpsPerThread; ++i) {
      const std::string a = Name(t, pick(kNamesPerThread));
      // Another name: usually one of this thread's, sometimes another thread's.
      const int other_thread = pick(4) == 0 ? pick(kThreads) : t;
      const std::string b = Name(other_thread, pick(kNamesPerThread));
      const std::string content = "written by " + std::to_string(t) + " at " + std::to_string(i);
      const std::string dangling = "nowhere-" + std::to_string(t) + "-" + std::to_string(i);
      std::string what;
      std::function<int(const std::string&)> op;
      auto at = [](const std::string& dir, const std::string& n) { return dir + "/" + n; };
      switch (pick(11)) {
        case 0:
          what = "create " + a;
          op = [&](const std::string& dir) {
            const int fd = open(at(dir, a).c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0644);
            if (fd < 0) return errno;
            const int err = Err(write(fd, content.data(), content.size()));
            close(fd);
            return err;
          };
          break;
        case 1:
          what = "overwrite " + a;
          op = [&](const std::string& dir) {
            const int fd = open(at(dir, a).c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW);
            if (fd < 0) return errno;
            const int err = Err(write(fd, content.data(), content.size()));
            close(fd);
            return err;
          };
          break;
        case 2:
          what = "unlink " + a;
          op = [&](const std::string& dir) { return Err(unlink(at(dir, a).c_str())); };
          break;
        case 3:
        case 4:
          what = "rename " + a + " " + b;
          op = [&](const std::string& dir) { return Err(rename(at(dir, a).c_str(), at(dir, b).c_str())); };
          break;
        case 5:
          what = "rename noreplace " + b + " " + a;
          op = [&](const std::string& dir) {
            return Err(renameat2(AT_FDCWD, at(dir, b).c_str(), AT_FDCWD, at(dir, a).c_str(), RENAME_NOREPLACE));
          };
          break;
        case 6:
          what = "link " + a + " " + b;
          op = [&](const std::string& dir) { return Err(link(at(dir, a).c_str(), at(dir, b).c_str())); };
          break;
        case 7:
          what = "mkdir " + a;
          op = [&](const std::string& dir) { return Err(mkdir(at(dir, a).c_str(), 0755)); };
          break;
        case 8:
          what = "rmdir " + a;
          op = [&](const std::string& dir) { return Err(rmdir(at(dir, a).c_str())); };
          break;
        case 9:
          what = "symlink " + a;
          op = [&](const std::string& dir) { return Err(symlink(dangling.c_str(), at(dir, a).c_str())); };
          break;
        case 10:
          what = "create " + a + "/x";
          op = [&](const std::string& dir) {
            const int fd = open(at(dir, a + "/x").c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_NOFOLLOW, 0644);
            if (fd < 0) return errno;
            const int err = Err(write(fd, content.data(), content.size()));
            close(fd);
            return err;
          };
          break;
      }
      int in_mount, in_plain;
      {
        std::unique_lock<std::mutex> own(sets[t], std::defer_lock);
        std::unique_lock<std::mutex> other(sets[other_thread], std::defer_lock);
        if (other_thread == t) {
          own.lock();
        } else {
          std::lock(own, other);
        }
        in_mount = op(mount_dir);
        in_plain = op(plain_dir);
      }
      ops_done.fetch_add(1);
      if (in_mount == 0) succeeded.fetch_add(1);
      if (in_mount != in_plain) {
        std::lock_guard<std::mutex> lock(report_mu);
        mismatches.push_back(what + ": mount " + std::strerror(in_mount) + ", plain " + std::strerror(in_plain));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  EXPECT_EQ(ops_done.load(), kThreads * kOpsPerThread);
  EXPECT_GT(succeeded.load(), kThreads * kOpsPerThread / 20) << "too few operations did anything";
  EXPECT_TRUE(mismatches.empty()) << mismatches.size() << " results differ, first: " << mismatches.front();
  const TreeView plain = View(plain_dir);
  EXPECT_GT(plain.entries.size(), 5u);
  const TreeView mounted = View(mount_dir);
  EXPECT_TRUE(mounted == plain) << "mount:\n" << Describe(mounted) << "plain:\n" << Describe(plain);
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount().exit_code, 0);
  const TreeView remounted = View(mount_dir);
  EXPECT_TRUE(remounted == plain) << "after a remount:\n" << Describe(remounted) << "plain:\n" << Describe(plain);
}

}  // namespace
}  // namespace kmsfs::testing
