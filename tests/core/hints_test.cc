// Hints through a whole core::Volume over a temp directory and the fake KMS:
// files made with Tree::Create, listed with Tree::OpenDir/ReadDir (which
// tells the Hints), opened with Tree::Lookup + Tree::Open. What is checked is
// key prefetch's trigger and its effect on KMS calls: a listing queues
// nothing; the first open in a listed directory whose key is not cached
// queues the listing's files, once per listing.
#include "fs/core/hints.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fs/core/volume.h"
#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;
using kmsfs::testing::kWait;
using kmsfs::testing::TempDir;

std::string Content(const std::string& name) { return "content of " + name + std::string(100, '.'); }

std::vector<std::string> Names(int n, const std::string& prefix = "f") {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

struct VolumeSettings {
  size_t prefetch_concurrency = 4;
  bool read_only = false;
  std::chrono::seconds cache_ttl{300};
};

class HintsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(mkdir(dir_.Join("d").c_str(), 0755), 0); }

  // What UnlockVolume would hand over for the temp directory: a version 2
  // config with plaintext names and a random volume key (no KMS round trip).
  UnlockedVolume Unlocked() {
    UnlockedVolume u;
    u.backing_dir = dir_.path();
    u.root_fd = UniqueFd(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    u.config.version = 2;
    u.config.key_id = kKeyId;
    u.config.project_id = "project";
    u.config.names = format::NameMode::kPlaintext;
    u.config.volume_id[0] = 0x42;
    u.volume_key = SecretBytes::Random(format::kVolumeKeySize);
    u.pin = PinOf(u.config);
    return u;
  }

  // A volume on the backing dir; no pool, so every KMS call counted is an
  // unwrap (or, while creating, a wrap). No readahead: only keys are studied.
  std::unique_ptr<Volume> Open(VolumeSettings s = {}) {
    VolumeOptions o;
    o.keys.pool.target = 0;
    o.keys.read_only = s.read_only;
    o.keys.cache.ttl = s.cache_ttl;
    o.hints.prefetch.concurrency = s.prefetch_concurrency;
    o.hints.readahead.files_ahead = 0;
    auto v = Volume::Open(Unlocked(), Envelope(kms_), o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  // Creates d/<name> for each name with its content, through a volume of its own.
  void CreateFiles(const std::vector<std::string>& names) {
    auto writer = Open({.prefetch_concurrency = 0});
    ASSERT_NE(writer, nullptr);
    std::shared_ptr<Inode> d = DirNode(*writer, "d");
    ASSERT_NE(d, nullptr);
    for (const std::string& name : names) {
      auto created = writer->tree().Create(*d, name, 0644, true, Caller{});
      ASSERT_TRUE(created.ok()) << name << ": " << created.status().ToString();
      const std::string c = Content(name);
      auto n = created->file->Write(0, {reinterpret_cast<const uint8_t*>(c.data()), c.size()});
      ASSERT_TRUE(n.ok()) << n.status().ToString();
    }
  }

  // The node of the directory `name` under the root.
  static std::shared_ptr<Inode> DirNode(Volume& v, const std::string& name) {
    auto e = v.tree().Lookup(*v.inodes().root(), name);
    EXPECT_TRUE(e.ok()) << name << ": " << e.status().ToString();
    return e.ok() ? e->inode : nullptr;
  }

  // Lists the directory `dir` to its end, as the kernel's readdir does;
  // returns the names listed but "." and "..".
  static std::vector<std::string> List(Volume& v, const std::string& dir) {
    std::vector<std::string> names;
    std::shared_ptr<Inode> node = DirNode(v, dir);
    if (node == nullptr) return names;
    auto stream = v.tree().OpenDir(node);
    EXPECT_TRUE(stream.ok()) << stream.status().ToString();
    if (!stream.ok()) return names;
    Status s = v.tree().ReadDir(**stream, 0, false, [&](const DirEntry& e) {
      if (e.name != "." && e.name != "..") names.push_back(e.name);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return names;
  }

  // Opens d/<name> through the tree and reads it; "error: ..." on failure.
  static std::string ReadThrough(Volume& v, const std::string& name) {
    std::shared_ptr<Inode> d = DirNode(v, "d");
    if (d == nullptr) return "error: no d";
    auto e = v.tree().Lookup(*d, name);
    if (!e.ok()) return "error: " + e.status().ToString();
    auto f = v.tree().Open(*e->inode, false);
    if (!f.ok()) return "error: " + f.status().ToString();
    std::string out(4096, '\0');
    auto n = (*f)->Read(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    if (!n.ok()) return "error: " + n.status().ToString();
    out.resize(*n);
    return out;
  }

  // The status code of opening d/<name> for reading.
  static StatusCode OpenCode(Volume& v, const std::string& name) {
    std::shared_ptr<Inode> d = DirNode(v, "d");
    if (d == nullptr) return StatusCode::kInternal;
    auto e = v.tree().Lookup(*d, name);
    if (!e.ok()) return e.status().code();
    return v.tree().Open(*e->inode, false).status().code();
  }

  static uint64_t KmsCalls(Volume& v) { return v.keys().stats().kms_calls; }
  static KeyPrefetchStats Prefetch(Volume& v) { return v.hints().stats().prefetch; }

  TempDir dir_;
  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
};

TEST_F(HintsTest, AListingQueuesNothingAndTheFirstMissInTheListedDirectoryQueuesItOnce) {
  const std::vector<std::string> names = Names(30);
  CreateFiles(names);
  ASSERT_EQ(mkdir(dir_.Join("other").c_str(), 0755), 0);
  testing::WriteFileOrDie(dir_.Join("other/ghost"), "no header");
  auto v = Open();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(List(*v, "d").size(), 30u);
  EXPECT_EQ(List(*v, "other").size(), 1u);
  // Listing costs nothing (ls -l, find make no KMS call).
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  EXPECT_EQ(KmsCalls(*v), 0u);
  EXPECT_EQ(Prefetch(*v).queued, 0u);
  EXPECT_EQ(v->hints().stats().listings, 2u);

  EXPECT_EQ(ReadThrough(*v, names[3]), Content(names[3]));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 30u) << "d's listing, not other's";
  // The opened file's key is loaded by the open or by a worker, whichever
  // starts first; the other shares that one call.
  EXPECT_EQ(s.loaded + s.skipped_cached, 30u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(KmsCalls(*v), 30u);
  for (const std::string& name : names) EXPECT_EQ(ReadThrough(*v, name), Content(name));
  EXPECT_EQ(KmsCalls(*v), 30u) << "an open asked the KMS although the listing had fetched its key";
  EXPECT_EQ(Prefetch(*v).queued, 30u) << "the listing is used once; other's was never touched";
}

TEST_F(HintsTest, AfterTheFirstMissEveryOtherListedFileOpensWithoutAKmsCall) {
  const std::vector<std::string> names = Names(40);
  CreateFiles(names);
  auto v = Open();
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 40u);
  EXPECT_EQ(s.loaded + s.skipped_cached, 40u);
  EXPECT_GE(s.loaded, 39u);
  EXPECT_EQ(KmsCalls(*v), 40u);
  EXPECT_EQ(v->keys().stats().cache.entries, 40u);

  const uint64_t hits = v->keys().stats().cache.hits;
  for (size_t i = 1; i < names.size(); ++i) EXPECT_EQ(ReadThrough(*v, names[i]), Content(names[i]));
  EXPECT_EQ(KmsCalls(*v), 40u);
  EXPECT_EQ(v->keys().stats().cache.hits, hits + 39);
}

TEST_F(HintsTest, AReadOnlyVolumePrefetchesToo) {
  CreateFiles(Names(5));
  auto v = Open({.read_only = true});
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->read_only());
  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f3"), Content("f3"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  EXPECT_EQ(Prefetch(*v).loaded + Prefetch(*v).skipped_cached, 5u);
  for (const std::string& name : Names(5)) EXPECT_EQ(ReadThrough(*v, name), Content(name));
  EXPECT_EQ(KmsCalls(*v), 5u);
}

TEST_F(HintsTest, KeysAlreadyCachedAreSkippedWithoutAKmsCall) {
  CreateFiles(Names(6));
  auto v = Open();
  ASSERT_NE(v, nullptr);
  // Opened before any listing: no prefetch, two calls.
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  EXPECT_EQ(ReadThrough(*v, "f1"), Content("f1"));
  EXPECT_EQ(Prefetch(*v).queued, 0u);
  EXPECT_EQ(KmsCalls(*v), 2u);
  const uint64_t hits = v->keys().stats().cache.hits;

  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f2"), Content("f2"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 6u);
  EXPECT_GE(s.skipped_cached, 2u);
  EXPECT_EQ(s.loaded + s.skipped_cached, 6u);
  EXPECT_EQ(KmsCalls(*v), 6u);
  // Asking whether a key is cached is not a use: only f2's open may have
  // found its key loaded by a worker first.
  EXPECT_LE(v->keys().stats().cache.hits, hits + 1)
      << "asking whether a key is cached must not count as (or act as) a use";
}

// Entries listed as regular files that are something else by the time a
// worker gets to them (a FIFO, a socket, a symlink, a directory, gone) are
// skipped without being opened: a FIFO's open would block, a symlink's
// would leave the directory.
TEST_F(HintsTest, ListedNamesThatAreNoLongerRegularFilesAreSkippedAndNeverOpened) {
  const std::vector<std::string> swapped = {"fifo", "link", "sub", "sock", "missing"};
  std::vector<std::string> all = swapped;
  all.push_back("real");
  CreateFiles(all);
  ASSERT_EQ(mkdir(dir_.Join("elsewhere").c_str(), 0755), 0);
  testing::WriteFileOrDie(dir_.Join("elsewhere/target"), "outside d");
  auto v = Open({.prefetch_concurrency = 1});
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(List(*v, "d").size(), 6u);

  // After the listing, behind the mount's back.
  for (const std::string& name : swapped) ASSERT_EQ(unlink(dir_.Join("d/" + name).c_str()), 0) << name;
  ASSERT_EQ(mkfifo(dir_.Join("d/fifo").c_str(), 0644), 0);
  ASSERT_EQ(symlink("../elsewhere/target", dir_.Join("d/link").c_str()), 0);
  ASSERT_EQ(mkdir(dir_.Join("d/sub").c_str(), 0755), 0);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  UniqueFd sock_fd(sock);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = dir_.Join("d/sock");
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  // Every open in d and in elsewhere shows up here.
  UniqueFd ino(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_TRUE(ino.valid());
  ASSERT_GE(inotify_add_watch(ino.get(), dir_.Join("d").c_str(), IN_OPEN), 0);
  ASSERT_GE(inotify_add_watch(ino.get(), dir_.Join("elsewhere").c_str(), IN_OPEN), 0);

  EXPECT_EQ(ReadThrough(*v, "real"), Content("real"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait)) << "a FIFO open must not block";
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 6u);
  EXPECT_EQ(s.loaded + s.skipped_cached, 1u);
  EXPECT_EQ(s.skipped, 5u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(KmsCalls(*v), 1u);

  std::multiset<std::string> opened;
  alignas(inotify_event) char buf[8192];
  for (ssize_t n; (n = read(ino.get(), buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      opened.insert(e->len > 0 ? std::string(e->name) : std::string("(the directory)"));
      p += sizeof(inotify_event) + e->len;
    }
  }
  EXPECT_GE(opened.count("real"), 1u) << "the watch must see the one regular file's open";
  EXPECT_EQ(opened.count("fifo"), 0u);
  EXPECT_EQ(opened.count("sock"), 0u);
  EXPECT_EQ(opened.count("target"), 0u) << "the symlink was followed";
  EXPECT_EQ(opened.count("sub"), 0u);
}

TEST_F(HintsTest, AFileWithoutAHeaderFailsAForeignHeaderIsSkippedAndTheRestLoad) {
  CreateFiles(Names(10));
  testing::WriteFileOrDie(dir_.Join("d/plain"), "no header here");
  // A header wrapped under another key: not this volume's, so never unwrapped.
  CreateFiles({"foreign"});
  {
    UniqueFd fd(open(dir_.Join("d/foreign").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    auto header = ReadFileHeader(fd.get());
    ASSERT_TRUE(header.ok());
    header->key_id = kOtherKeyId;
    ASSERT_TRUE(WriteFileHeader(fd.get(), *header, false).ok());
  }
  auto v = Open({.prefetch_concurrency = 1});
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 12u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.skipped, 1u);
  EXPECT_EQ(s.loaded + s.skipped_cached, 10u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(KmsCalls(*v), 10u) << "the foreign key reached the KMS";
  EXPECT_EQ(OpenCode(*v, "foreign"), StatusCode::kDataLoss);
  EXPECT_EQ(OpenCode(*v, "plain"), StatusCode::kDataLoss);
  EXPECT_EQ(KmsCalls(*v), 10u);
}

TEST_F(HintsTest, ZeroConcurrencyPrefetchesNothing) {
  CreateFiles(Names(5));
  auto v = Open({.prefetch_concurrency = 0});
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  EXPECT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(KmsCalls(*v), 1u);
  EXPECT_EQ(v->keys().stats().cache.entries, 1u);
}

TEST_F(HintsTest, TheCacheTurnedOffTurnsPrefetchOff) {
  CreateFiles(Names(3));
  auto v = Open({.cache_ttl = std::chrono::seconds(0)});
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  EXPECT_EQ(ReadThrough(*v, "f1"), Content("f1"));
  EXPECT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  EXPECT_EQ(Prefetch(*v).queued, 0u);
  EXPECT_EQ(KmsCalls(*v), 2u) << "each open asks the KMS itself";
}

// An unreachable KMS drops the rest of the batch after the first failure.
// The listing was used up by that miss: a later miss in it queues nothing,
// and a fresh listing tries again.
TEST_F(HintsTest, AnUnreachableKmsDropsTheBatchAndOnlyAFreshListingTriesAgain) {
  CreateFiles(Names(50));
  auto v = Open({.prefetch_concurrency = 1});
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  kms_->down = true;
  // The open reports the outage itself, as without prefetching.
  EXPECT_EQ(OpenCode(*v, "f7"), StatusCode::kUnavailable);
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  KeyPrefetchStats s = Prefetch(*v);
  EXPECT_EQ(s.queued, 50u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.dropped, 49u);
  EXPECT_EQ(s.loaded, 0u);
  // The open's own call, and the worker's unless it shared the open's.
  EXPECT_GE(KmsCalls(*v), 1u);
  EXPECT_LE(KmsCalls(*v), 2u);

  kms_->down = false;
  const uint64_t calls = KmsCalls(*v);
  EXPECT_EQ(ReadThrough(*v, "f8"), Content("f8"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  EXPECT_EQ(Prefetch(*v).queued, 50u) << "a listing is prefetched once";
  EXPECT_EQ(KmsCalls(*v), calls + 1);

  List(*v, "d");
  EXPECT_EQ(ReadThrough(*v, "f9"), Content("f9"));
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  s = Prefetch(*v);
  EXPECT_EQ(s.queued, 100u);
  EXPECT_EQ(s.loaded + s.skipped_cached, 50u);
  EXPECT_EQ(KmsCalls(*v), calls + 50) << "f8's key was cached; every other one loaded once";
}

// The open that triggers the prefetch and the worker that takes the same
// file make one decrypt-datakey call between them.
TEST_F(HintsTest, TheTriggeringOpenAndThePrefetchShareOneKmsCall) {
  CreateFiles({"f"});
  auto v = Open({.prefetch_concurrency = 1});
  ASSERT_NE(v, nullptr);
  List(*v, "d");
  kms_->unwrap_gate.Close();
  std::string read;
  std::thread opener([&] { read = ReadThrough(*v, "f"); });
  // One of the two is inside the KMS call; the other waits for its result.
  ASSERT_TRUE(kms_->unwrap_gate.AwaitInside(1));
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (v->keys().stats().cache.waiting == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(v->keys().stats().cache.waiting, 1u);
  kms_->unwrap_gate.Open();
  opener.join();
  ASSERT_TRUE(v->hints().WaitForPrefetchIdle(kWait));
  EXPECT_EQ(read, Content("f"));
  EXPECT_EQ(kms_->unwraps.load(), 1);
  EXPECT_EQ(v->keys().stats().cache.coalesced, 1u);
  EXPECT_EQ(Prefetch(*v).loaded + Prefetch(*v).skipped_cached, 1u);
}

}  // namespace
}  // namespace kmsfs::core
