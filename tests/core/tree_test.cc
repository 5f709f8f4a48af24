// Tree over a real temp directory, without FUSE: a million lookups and
// forgets keep descriptors and memory bounded, and a directory node keeps
// acting on its own backing directory after that directory is swapped for a
// symlink to somewhere else.
#include "fs/core/tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fs/core/key_service.h"
#include "fs/format/block_codec.h"
#include "tests/core/churn_util.h"
#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

namespace stdfs = std::filesystem;
using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::OpenFdCount;
using kmsfs::testing::ResidentKib;
using kmsfs::testing::TempDir;

// Every name under `root` with its type, mode, owner, size and content.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    struct stat st;
    if (lstat(e.path().c_str(), &st) != 0) continue;
    std::string d = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                    " " + std::to_string(st.st_size) + " " + std::to_string(st.st_nlink);
    if (S_ISREG(st.st_mode)) d += " " + testing::ReadFile(e.path().string());
    out[stdfs::relative(e.path(), root).string()] = d;
  }
  return out;
}

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backing_ = dir_.Join("backing");
    ASSERT_EQ(mkdir(backing_.c_str(), 0755), 0);
    UniqueFd root(open(backing_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root.valid());
    auto table = InodeTable::New(std::move(root));
    ASSERT_TRUE(table.ok());
    inodes_ = std::move(table).value();
    KeyServiceOptions ko;
    ko.pool.target = 0;
    keys_ = std::make_unique<KeyService>(kKeyId, std::vector<std::string>{kKeyId}, crypto::CipherSuite::kAes256Gcm,
                                         4096, Envelope(kms_), ko);
    files_ = std::make_unique<OpenFileTable>(keys_.get());
    auto geometry = format::GeometryFor(crypto::CipherSuite::kAes256Gcm, 4096);
    ASSERT_TRUE(geometry.ok());
    tree_ = std::make_unique<Tree>(inodes_.get(), &names_, files_.get(), *geometry, TreeOptions{});
  }

  const Inode& Root() { return *inodes_->root(); }

  TempDir dir_;
  std::string backing_;
  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
  std::unique_ptr<InodeTable> inodes_;
  std::unique_ptr<KeyService> keys_;
  std::unique_ptr<OpenFileTable> files_;
  PlaintextNames names_;
  std::unique_ptr<Tree> tree_;
};

TEST_F(TreeTest, AMillionLookupsAndForgetsKeepDescriptorsAndMemoryBounded) {
  constexpr int kNames = 500;
  constexpr int kCycles = 1000000;
  auto d = tree_->MakeDir(Root(), "d", 0755, Caller{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  for (int i = 0; i < kNames; ++i) {
    auto f = tree_->MakeNode(*d->inode, "n" + std::to_string(i), S_IFREG | 0644, 0, Caller{});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    tree_->Forget(f->inode->id(), 1);
  }
  std::vector<NodeId> ids(kNames);
  auto batch = [&] {
    for (int i = 0; i < kNames; ++i) {
      auto e = tree_->Lookup(*d->inode, "n" + std::to_string(i));
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      ids[i] = e->inode->id();
    }
    // The names that do not exist make no node and keep no descriptor.
    ASSERT_EQ(ToErrno(tree_->Lookup(*d->inode, "missing").status()), ENOENT);
    ASSERT_EQ(inodes_->stats().nodes, kNames + 2u);
    for (NodeId id : ids) tree_->Forget(id, 1);
    ASSERT_EQ(inodes_->stats().nodes, 2u);
  };
  batch();
  const int fds = OpenFdCount();
  const long rss = ResidentKib();
  for (int cycle = kNames; cycle < kCycles; cycle += kNames) {
    batch();
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(inodes_->stats().nodes, 2u);
  EXPECT_EQ(OpenFdCount(), fds);
  if (kmsfs::testing::kResidentMemoryIsMeaningful) {
    EXPECT_LT(ResidentKib() - rss, 16 * 1024) << "resident memory grew from " << rss << " KiB";
  }
}

// A listing with attributes (READDIRPLUS) counts one lookup of every entry
// and describes each by its own backing object, whether the table held the
// node already (found by a stat of the name) or not (the name opened at once,
// since the table holds no node of the inode number the listing read).
TEST_F(TreeTest, APlusListingCountsOneLookupOfEveryEntryKnownOrNew) {
  auto d = tree_->MakeDir(Root(), "d", 0755, Caller{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::map<std::string, NodeId> made;
  for (const char* name : {"a", "b", "c"}) {
    auto f = tree_->MakeNode(*d->inode, name, S_IFREG | 0600, 0, Caller{});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    made[name] = f->inode->id();
  }
  ASSERT_EQ(symlink("a", (backing_ + "/d/l").c_str()), 0);
  // "a" stays known (one lookup held); the others are forgotten.
  tree_->Forget(made["b"], 1);
  tree_->Forget(made["c"], 1);
  ASSERT_EQ(inodes_->stats().nodes, 3u);  // root, d, a

  auto stream = tree_->OpenDir(d->inode);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::map<std::string, Entry> listed;
  Status s = tree_->ReadDir(**stream, 0, /*plus=*/true, [&](const DirEntry& e) {
    if (e.entry.inode) listed[e.name] = e.entry;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(listed.size(), 4u);
  for (const auto& [name, entry] : listed) {
    struct stat st;
    ASSERT_EQ(fstatat(AT_FDCWD, (backing_ + "/d/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW), 0) << name;
    EXPECT_EQ(entry.attr.st_ino, st.st_ino) << name;
    EXPECT_EQ(entry.attr.st_mode, st.st_mode) << name;
    EXPECT_EQ(entry.inode->ino(), st.st_ino) << name;
  }
  EXPECT_EQ(listed["a"].inode->id(), made["a"]) << "a known node is the same node";
  EXPECT_EQ(inodes_->stats().nodes, 6u);  // b, c and l are new

  // One forget of the listing's lookup of each entry leaves "a" with its own.
  for (const auto& [name, entry] : listed) tree_->Forget(entry.inode->id(), 1);
  EXPECT_EQ(inodes_->stats().nodes, 3u);
  EXPECT_NE(inodes_->Get(made["a"]), nullptr);
  tree_->Forget(made["a"], 1);
  EXPECT_EQ(inodes_->stats().nodes, 2u);
}

// The inode number a listing read is a hint only: a name replaced after the
// directory was read (its later entries already buffered) is described by,
// and counted on, the object it names when it is looked up, known or not.
TEST_F(TreeTest, APlusListingGoesByWhatANameOpensNotByTheNumberItListed) {
  auto d = tree_->MakeDir(Root(), "d", 0755, Caller{});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::map<std::string, NodeId> made;
  for (const char* name : {"p", "q", "r", "s"}) {
    auto f = tree_->MakeNode(*d->inode, name, S_IFREG | 0600, 0, Caller{});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    made[name] = f->inode->id();
  }
  // q and s stay known; p and r are forgotten.
  tree_->Forget(made["p"], 1);
  tree_->Forget(made["r"], 1);
  const std::string dir = backing_ + "/d/";

  auto stream = tree_->OpenDir(d->inode);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::vector<Entry> listed;
  bool swapped = false;
  Status s = tree_->ReadDir(**stream, 0, /*plus=*/true, [&](const DirEntry& e) {
    if (!e.entry.inode) return true;
    listed.push_back(e.entry);
    struct stat now;
    EXPECT_EQ(fstatat(AT_FDCWD, (dir + e.name).c_str(), &now, AT_SYMLINK_NOFOLLOW), 0) << e.name;
    EXPECT_EQ(e.entry.attr.st_ino, now.st_ino) << e.name << " is described by what it names now";
    EXPECT_EQ(e.entry.inode->ino(), now.st_ino) << e.name;
    if (!swapped) {
      // Every later entry of this pass is already read, with its old number.
      swapped = true;
      for (const auto& [from, to] : {std::pair{"q", "p"}, std::pair{"s", "r"}}) {
        if (e.name != from && e.name != to) {
          EXPECT_EQ(rename((dir + from).c_str(), (dir + to).c_str()), 0);
        }
      }
    }
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_GE(listed.size(), 2u);
  // Each listed entry holds one lookup: forgetting them leaves the table as
  // it was before the listing (root, d, q and s, whichever names they bear).
  for (const Entry& e : listed) tree_->Forget(e.inode->id(), 1);
  EXPECT_EQ(inodes_->stats().nodes, 4u);
  EXPECT_NE(inodes_->Get(made["q"]), nullptr);
  EXPECT_NE(inodes_->Get(made["s"]), nullptr);
}

// The attack of issue 18 without the kernel: a writer of the backing
// directory renames a directory the mount has a node for and puts a symlink
// to an outside directory in its place. Every namespace operation on the old
// node acts on the renamed directory (the node's own object) or fails; none
// reaches the outside directory.
TEST_F(TreeTest, ADirectoryNodeSwappedForASymlinkNeverReachesTheSymlinksTarget) {
  const std::string outside = dir_.Join("outside");
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  testing::WriteFileOrDie(outside + "/canary", "must not change");
  testing::WriteFileOrDie(outside + "/victim", "must not be unlinked");
  ASSERT_EQ(mkdir((outside + "/victim-dir").c_str(), 0755), 0);
  const auto before = Snapshot(outside);

  auto d = tree_->MakeDir(Root(), "d", 0755, Caller{});
  ASSERT_TRUE(d.ok());
  auto keep = tree_->MakeNode(*d->inode, "victim", S_IFREG | 0644, 0, Caller{});
  ASSERT_TRUE(keep.ok());
  ASSERT_EQ(rename((backing_ + "/d").c_str(), (backing_ + "/d.moved").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), (backing_ + "/d").c_str()), 0);

  const Inode& node = *d->inode;
  EXPECT_TRUE(tree_->MakeDir(node, "made-dir", 0755, Caller{}).ok());
  EXPECT_TRUE(tree_->MakeNode(node, "made-file", S_IFREG | 0644, 0, Caller{}).ok());
  EXPECT_TRUE(tree_->MakeSymlink(node, "made-link", "/etc/passwd", Caller{}).ok());
  EXPECT_TRUE(tree_->Unlink(node, "victim").ok());
  EXPECT_EQ(ToErrno(tree_->Unlink(node, "canary")), ENOENT);
  EXPECT_EQ(ToErrno(tree_->RemoveDir(node, "victim-dir")), ENOENT);
  EXPECT_EQ(ToErrno(tree_->Rename(node, "canary", Root(), "stolen", 0)), ENOENT);
  EXPECT_TRUE(tree_->Rename(node, "made-file", Root(), "moved-out", 0).ok());
  EXPECT_TRUE(tree_->Rename(Root(), "moved-out", node, "moved-in", 0).ok());
  auto lookup = tree_->Lookup(Root(), "d");
  ASSERT_TRUE(lookup.ok());
  EXPECT_TRUE(lookup->inode->is_symlink()) << "a fresh lookup sees the symlink, and does not follow it";
  EXPECT_FALSE(tree_->MakeNode(*lookup->inode, "through-link", S_IFREG | 0644, 0, Caller{}).ok());

  EXPECT_EQ(Snapshot(outside), before);
  // What happened, happened in the directory the node names.
  EXPECT_TRUE(stdfs::exists(backing_ + "/d.moved/made-dir"));
  EXPECT_TRUE(stdfs::exists(backing_ + "/d.moved/moved-in"));
  EXPECT_TRUE(stdfs::is_symlink(backing_ + "/d.moved/made-link"));
  EXPECT_FALSE(stdfs::exists(backing_ + "/d.moved/victim"));
}

// O_CREAT without O_EXCL on a name that appeared after the kernel's lookup
// (another client of shared storage, a backing writer): the kernel made no
// mode check for that file, so the daemon does, as default_permissions would.
TEST_F(TreeTest, ACreateThatFindsTheNameTakenChecksTheCallersAccessToThatFile) {
  if (geteuid() != 0) GTEST_SKIP() << "files of other owners need root";
  const Caller owner{1234, 1234, {}};
  auto made = tree_->Create(Root(), "victim", 0600, true, owner);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  ASSERT_TRUE(made->file->Write(0, {reinterpret_cast<const uint8_t*>("secret"), 6}).ok());
  made->file.reset();
  tree_->Forget(made->entry.inode->id(), 1);
  ASSERT_EQ(chown((backing_ + "/victim").c_str(), 1234, 1234), 0);

  for (int accmode : {O_RDONLY, O_WRONLY, O_RDWR}) {
    SCOPED_TRACE(accmode);
    auto other = tree_->Create(Root(), "victim", 0666, false, Caller{2000, 2000, {}}, accmode);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(ToErrno(other.status()), EACCES) << other.status().ToString();
  }
  auto again = tree_->Create(Root(), "victim", 0600, false, owner, O_RDWR);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  again->file.reset();
  tree_->Forget(again->entry.inode->id(), 1);

  // Group access through a supplementary group, and read-only where only
  // reading is allowed.
  ASSERT_EQ(chmod((backing_ + "/victim").c_str(), 0640), 0);
  auto member = tree_->Create(Root(), "victim", 0600, false, Caller{2000, 2000, [] { return std::vector<gid_t>{1234}; }}, O_RDONLY);
  ASSERT_TRUE(member.ok()) << member.status().ToString();
  member->file.reset();
  tree_->Forget(member->entry.inode->id(), 1);
  auto member_writes = tree_->Create(Root(), "victim", 0600, false, Caller{2000, 2000, [] { return std::vector<gid_t>{1234}; }}, O_WRONLY);
  EXPECT_FALSE(member_writes.ok());
}

}  // namespace
}  // namespace kmsfs::core
