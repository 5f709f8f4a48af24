// InodeTable over a real temp directory: lookup counting, node identity
// (hard links, the root), ids never reused, and a million lookup/forget
// cycles that must leave neither nodes nor descriptors nor memory behind.
#include "fs/core/inode_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/core/churn_util.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::OpenFdCount;
using kmsfs::testing::ResidentKib;
using kmsfs::testing::TempDir;

constexpr int kObjects = 1000;

class InodeTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kObjects; ++i) {
      const int fd = open(dir_.Join(Name(i)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      close(fd);
    }
    UniqueFd root(open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root.valid());
    root_fd_ = root.get();
    auto table = InodeTable::New(std::move(root));
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    table_ = std::move(table).value();
  }

  static std::string Name(int i) { return "f" + std::to_string(i); }

  // One lookup of `name`, as the tree makes it: an O_PATH descriptor and its fstat.
  std::shared_ptr<Inode> Remember(const std::string& name) {
    UniqueFd fd(openat(root_fd_, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << name;
    if (!fd.valid()) return nullptr;
    struct stat st;
    EXPECT_EQ(fstat(fd.get(), &st), 0);
    return table_->Remember(std::move(fd), st);
  }

  TempDir dir_;
  int root_fd_ = -1;
  std::unique_ptr<InodeTable> table_;
};

TEST_F(InodeTableTest, LookupsOfOneObjectAreOneNodeUntilTheKernelForgetsThemAll) {
  std::shared_ptr<Inode> a = Remember("f1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(Remember("f1"), a);
  EXPECT_EQ(Remember("f1"), a);
  EXPECT_EQ(table_->stats().nodes, 2u);
  EXPECT_EQ(table_->stats().made, 1u);
  table_->Forget(a->id(), 2);
  EXPECT_EQ(table_->Get(a->id()), a) << "one lookup is still counted";
  table_->Forget(a->id(), 1);
  EXPECT_EQ(table_->Get(a->id()), nullptr);
  EXPECT_EQ(table_->Find(a->dev(), a->ino()), nullptr);
  EXPECT_EQ(table_->stats().nodes, 1u);
  EXPECT_EQ(table_->stats().forgotten, 1u);
}

TEST_F(InodeTableTest, ALookupByStatCountsOnlyObjectsTheTableHolds) {
  struct stat st;
  ASSERT_EQ(fstatat(root_fd_, "f3", &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_EQ(table_->RememberKnown(st), nullptr) << "an unknown object needs a descriptor first";
  EXPECT_EQ(table_->stats().nodes, 1u);
  std::shared_ptr<Inode> a = Remember("f3");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(table_->RememberKnown(st), a);
  // Two lookups counted: the node stays after one forget, goes after two.
  table_->Forget(a->id(), 1);
  EXPECT_EQ(table_->Get(a->id()), a);
  table_->Forget(a->id(), 1);
  EXPECT_EQ(table_->Get(a->id()), nullptr);
  EXPECT_EQ(table_->RememberKnown(st), nullptr) << "a forgotten object is unknown again";
  // The root is never counted, so never forgotten.
  struct stat root_st;
  ASSERT_EQ(fstat(root_fd_, &root_st), 0);
  EXPECT_EQ(table_->RememberKnown(root_st), table_->root());
  table_->Forget(kRootId, 1);
  EXPECT_EQ(table_->Get(kRootId), table_->root());
}

TEST_F(InodeTableTest, AForgottenNodesDescriptorClosesWhenTheLastRequestDropsIt) {
  std::shared_ptr<Inode> held = Remember("f2");
  ASSERT_NE(held, nullptr);
  const int fd = held->fd();
  table_->Forget(held->id(), 1);
  EXPECT_EQ(table_->Get(held->id()), nullptr);
  EXPECT_NE(fcntl(fd, F_GETFD), -1) << "a request still holds the node: its descriptor must stay open";
  held.reset();
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(InodeTableTest, NodeIdsAreNeverReused) {
  std::shared_ptr<Inode> first = Remember("f3");
  ASSERT_NE(first, nullptr);
  const NodeId old_id = first->id();
  table_->Forget(old_id, 1);
  first.reset();
  std::shared_ptr<Inode> again = Remember("f3");
  ASSERT_NE(again, nullptr);
  EXPECT_GT(again->id(), old_id);
  EXPECT_EQ(table_->Get(old_id), nullptr) << "a stale id from the kernel must find nothing";
  // Forgetting the stale id does not touch the new node.
  table_->Forget(old_id, 100);
  EXPECT_EQ(table_->Get(again->id()), again);
}

TEST_F(InodeTableTest, TheRootIsNeverForgottenAndUnknownIdsAreIgnored) {
  const std::shared_ptr<Inode> root = table_->root();
  table_->Forget(kRootId, 1000);
  EXPECT_EQ(table_->Get(kRootId), root);
  table_->Forget(987654321, 1);
  // A lookup of the root's own object (e.g. through "..") is the root.
  UniqueFd fd(open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(table_->Remember(std::move(fd), st), root);
  EXPECT_EQ(table_->stats().made, 0u);
  table_->Forget(kRootId, 1);
  EXPECT_EQ(table_->Get(kRootId), root);
  EXPECT_EQ(table_->stats().nodes, 1u);
}

TEST_F(InodeTableTest, HardLinksOfAFileAreOneNode) {
  ASSERT_EQ(link(dir_.Join("f4").c_str(), dir_.Join("f4-link").c_str()), 0);
  std::shared_ptr<Inode> a = Remember("f4");
  std::shared_ptr<Inode> b = Remember("f4-link");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  table_->Forget(a->id(), 1);
  EXPECT_EQ(table_->Get(a->id()), a) << "the other name's lookup is still counted";
  table_->Forget(a->id(), 1);
  EXPECT_EQ(table_->Get(a->id()), nullptr);
}

// The mount's lifetime in a loop: a million lookups and forgets over a
// thousand objects, in batches that fill the table and empty it again.
TEST_F(InodeTableTest, AMillionLookupForgetCyclesReturnNodesDescriptorsAndMemoryToBaseline) {
  constexpr int kCycles = 1000000;
  std::vector<NodeId> ids(kObjects);
  auto batch = [&] {
    for (int i = 0; i < kObjects; ++i) {
      std::shared_ptr<Inode> n = Remember(Name(i));
      ASSERT_NE(n, nullptr);
      ids[i] = n->id();
    }
    ASSERT_EQ(table_->stats().nodes, kObjects + 1u);
    for (int i = 0; i < kObjects; ++i) table_->Forget(ids[i], 1);
    ASSERT_EQ(table_->stats().nodes, 1u);
  };
  // One batch first, so the maps' buckets and the allocator's arenas exist.
  batch();
  const int fds = OpenFdCount();
  const long rss = ResidentKib();
  ASSERT_GT(fds, 0);
  ASSERT_GT(rss, 0);
  for (int cycle = kObjects; cycle < kCycles; cycle += kObjects) {
    batch();
    if (HasFatalFailure()) return;
  }
  const InodeTableStats s = table_->stats();
  EXPECT_EQ(s.nodes, 1u);
  EXPECT_EQ(s.made, static_cast<uint64_t>(kCycles));
  EXPECT_EQ(s.forgotten, s.made);
  EXPECT_EQ(OpenFdCount(), fds);
  // A leaked node costs a descriptor and ~200 bytes: a million of them would
  // show far above this bound.
  if (kmsfs::testing::kResidentMemoryIsMeaningful) {
    EXPECT_LT(ResidentKib() - rss, 16 * 1024) << "resident memory grew from " << rss << " KiB";
  }
}

// Lookups and forgets of the same objects from many threads, as FUSE
// workers make them: every count is kept, nothing leaks.
TEST_F(InodeTableTest, ConcurrentLookupsAndForgetsOfTheSameObjectsKeepEveryCount) {
  const int fds = OpenFdCount();
  constexpr int kThreads = 8;
  constexpr int kRounds = 20000;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const std::string name = Name((r + t) % 8);
        std::shared_ptr<Inode> n = Remember(name);
        if (n == nullptr) {
          mismatches.fetch_add(1);
          continue;
        }
        // While this thread's lookup is counted the node must be found.
        if (table_->Get(n->id()) != n) mismatches.fetch_add(1);
        table_->Forget(n->id(), 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(table_->stats().nodes, 1u);
  EXPECT_EQ(table_->stats().forgotten, table_->stats().made);
  EXPECT_EQ(OpenFdCount(), fds);
}

}  // namespace
}  // namespace kmsfs::core
