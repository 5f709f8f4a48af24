// Key prefetch through a real mount: a listing costs no KMS call; the first
// open in a listed directory that misses the cache fetches the other files'
// DEKs in the background, so reading them makes no KMS call at open;
// --tune prefetch=0 turns that off; with kmsd down a listing still answers.
// Reading a listed directory's files in listing order reads the next ones
// ahead (--tune readahead=N; 0 turns it off).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

std::string Name(int i) { return "file" + std::to_string(i); }
std::string Content(int i) { return Pattern(100 + static_cast<size_t>(i) * 13, static_cast<uint32_t>(i)); }

// Entry names of `dir` in the order readdir returns them.
std::vector<std::string> ListInOrder(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    ADD_FAILURE() << "opendir " << dir << ": " << std::strerror(errno);
    return out;
  }
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  return out;
}

// The same, sorted.
std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out = ListInOrder(dir);
  std::sort(out.begin(), out.end());
  return out;
}

class PrefetchTest : public KmsdMountTest {
 protected:
  // A volume holding `n` files, written through a first mount, then mounted
  // again (cold cache) with `remount_args`. No DEK pool, so every KMS call the
  // mount counts afterwards is a decrypt-datakey.
  std::unique_ptr<MountedVolume> VolumeWithFiles(int n, std::vector<std::string> remount_args) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    auto v = MountedVolume::Start(o);
    if (v == nullptr) return nullptr;
    for (int i = 0; i < n; ++i) WriteFileOrDie(v->Path(Name(i)), Content(i));
    EXPECT_TRUE(v->Unmount());
    remount_args.insert(remount_args.end(), {"--tune", "pool-size=0"});
    CommandResult r = v->Mount(remount_args);
    EXPECT_EQ(r.exit_code, 0) << r.err << v->ReadLog();
    return r.exit_code == 0 ? std::move(v) : nullptr;
  }

  // The status once nothing is queued or in flight for prefetching. The
  // listing has queued its names before returning, so idle means done.
  static nlohmann::json StatusWhenPrefetchIdle(const MountedVolume& v) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
      nlohmann::json s = v.Status();
      const nlohmann::json& p = s["prefetch"];
      if (p.value("pending", 1) == 0 && p.value("in_flight", 1) == 0) return s;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "prefetch still busy: " << s.dump();
        return s;
      }
      std::this_thread::yield();
    }
  }
};

TEST_F(PrefetchTest, FirstOpenInAListedDirectoryFetchesTheOtherKeys) {
  constexpr int kFiles = 200;
  auto v = VolumeWithFiles(kFiles, {});
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->Status()["kms"]["calls"], 0);

  // A listing alone (ls -l, find) costs no KMS call.
  std::vector<std::string> names = List(v->mountpoint());
  ASSERT_EQ(names.size(), static_cast<size_t>(kFiles));
  nlohmann::json s = StatusWhenPrefetchIdle(*v);
  EXPECT_EQ(s["prefetch"]["queued"], 0) << s.dump();
  EXPECT_EQ(s["kms"]["calls"], 0) << s.dump();

  // The first open misses the cache and hands the listing to the prefetcher.
  ASSERT_EQ(ReadFile(v->Path(Name(0))), Content(0));
  s = StatusWhenPrefetchIdle(*v);
  // The hidden .kmsfs.json is never queued. The opened file's key is loaded
  // by the open or by a worker, whichever starts first; the other shares it.
  EXPECT_EQ(s["prefetch"]["queued"], kFiles) << s.dump();
  EXPECT_EQ(s["prefetch"]["loaded"].get<int>() + s["prefetch"]["skipped_cached"].get<int>(), kFiles) << s.dump();
  EXPECT_EQ(s["prefetch"]["failed"], 0) << s.dump();
  EXPECT_EQ(s["kms"]["calls"], kFiles) << s.dump();

  for (int i = 1; i < kFiles; ++i) {
    int err = 0;
    ASSERT_EQ(ReadFile(v->Path(Name(i)), &err), Content(i)) << Name(i) << " errno " << err;
  }
  s = v->Status();
  EXPECT_EQ(s["kms"]["calls"], kFiles) << "one decrypt-datakey per file, none at the later opens: " << s.dump();
  EXPECT_EQ(s["kms"]["errors"], 0);

  // The listing is used once: another miss in the same directory queues nothing more.
  ASSERT_EQ(List(v->mountpoint()).size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(ReadFile(v->Path(Name(7))), Content(7));
  EXPECT_EQ(StatusWhenPrefetchIdle(*v)["prefetch"]["queued"], kFiles) << "keys were cached: no miss, no prefetch";
}

TEST_F(PrefetchTest, ListingsOfSubdirectoriesArePrefetchedToo) {
  // The listing must be filed under its own directory, not the root.
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(mkdir(v->Path("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(v->Path("a/b").c_str(), 0755), 0);
  constexpr int kFiles = 30;
  for (int i = 0; i < kFiles; ++i) WriteFileOrDie(v->Path("a/b/" + Name(i)), Content(i));
  ASSERT_TRUE(v->Unmount());
  ASSERT_EQ(v->Mount({"--tune", "pool-size=0"}).exit_code, 0) << v->ReadLog();

  ASSERT_EQ(List(v->Path("a")).size(), 1u);
  ASSERT_EQ(List(v->Path("a/b")).size(), static_cast<size_t>(kFiles));
  ASSERT_EQ(ReadFile(v->Path("a/b/" + Name(0))), Content(0));
  nlohmann::json s = StatusWhenPrefetchIdle(*v);
  EXPECT_EQ(s["prefetch"]["queued"], kFiles) << s.dump();
  for (int i = 1; i < kFiles; ++i) ASSERT_EQ(ReadFile(v->Path("a/b/" + Name(i))), Content(i));
  EXPECT_EQ(v->Status()["kms"]["calls"], kFiles) << v->Status().dump();
}

TEST_F(PrefetchTest, PrefetchZeroFetchesOnlyTheKeysOpened) {
  auto v = VolumeWithFiles(20, {"--tune", "prefetch=0"});
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(List(v->mountpoint()).size(), 20u);
  nlohmann::json s = v->Status();
  EXPECT_EQ(s["prefetch"]["queued"], 0) << s.dump();
  EXPECT_EQ(s["kms"]["calls"], 0) << s.dump();
  EXPECT_EQ(ReadFile(v->Path(Name(4))), Content(4));
  s = v->Status();
  EXPECT_EQ(s["kms"]["calls"], 1) << "the open fetches its key itself";
  EXPECT_EQ(s["prefetch"]["queued"], 0) << s.dump();
}

TEST_F(PrefetchTest, PrefetchOrReadaheadBeyondTheLimitIsAUsageError) {
  MountedVolume::Options o;
  o.kmsd = kmsd_.get();
  o.mount = false;
  auto v = MountedVolume::Start(o);
  ASSERT_NE(v, nullptr);
  for (const char* key : {"prefetch", "readahead"}) {
    CommandResult r = v->Mount({"--tune", std::string(key) + "=100000"});
    EXPECT_EQ(r.exit_code, 2) << key;
    EXPECT_NE(r.err.find(key), std::string::npos) << r.err;
  }
}

TEST_F(PrefetchTest, ListingWithKmsdStoppedReturnsEveryNameAndOpensFailWithEio) {
  constexpr int kFiles = 50;
  auto v = VolumeWithFiles(kFiles, {});
  ASSERT_NE(v, nullptr);
  kmsd_->Kill();
  std::vector<std::string> names = List(v->mountpoint());
  std::vector<std::string> expected;
  for (int i = 0; i < kFiles; ++i) expected.push_back(Name(i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);

  int err = 0;
  ReadFile(v->Path(Name(0)), &err);
  EXPECT_EQ(err, EIO);

  // The open's miss queued the listing; the first unreachable KMS drops the
  // rest: no call per file.
  nlohmann::json s = StatusWhenPrefetchIdle(*v);
  const nlohmann::json& p = s["prefetch"];
  EXPECT_EQ(p["queued"], kFiles) << s.dump();
  const int failed = p["failed"];
  EXPECT_GE(failed, 1) << s.dump();
  EXPECT_LE(failed, 16) << "more calls than workers: the queue was not dropped: " << s.dump();
  EXPECT_EQ(failed + p["dropped"].get<int>() + p["skipped_cached"].get<int>() + p["loaded"].get<int>(), kFiles)
      << s.dump();
  EXPECT_EQ(p["loaded"], 0) << s.dump();
}

// The files' names and contents, read in listing order; returns how many
// files the mount read ahead meanwhile.
int ReadAllInListingOrder(const MountedVolume& v, int files) {
  std::vector<std::string> names = ListInOrder(v.mountpoint());
  EXPECT_EQ(names.size(), static_cast<size_t>(files));
  for (const std::string& name : names) {
    const int i = std::stoi(name.substr(4));
    int err = 0;
    EXPECT_EQ(ReadFile(v.Path(name), &err), Content(i)) << name << " errno " << err;
  }
  return v.Status()["readahead"]["files"].get<int>();
}

TEST_F(PrefetchTest, ReadingAListedDirectoryInOrderReadsTheNextFilesAhead) {
  constexpr int kFiles = 60;
  auto v = VolumeWithFiles(kFiles, {});
  ASSERT_NE(v, nullptr);
  // Every file from the third on is asked for once: the run's second open
  // reads ahead, and no file is asked for twice.
  EXPECT_EQ(ReadAllInListingOrder(*v, kFiles), kFiles - 2) << v->Status().dump();
  EXPECT_EQ(v->Status()["readahead"]["dropped"], 0);
}

TEST_F(PrefetchTest, ReadingInAnotherOrderReadsNothingAhead) {
  constexpr int kFiles = 30;
  auto v = VolumeWithFiles(kFiles, {});
  ASSERT_NE(v, nullptr);
  std::vector<std::string> names = ListInOrder(v->mountpoint());
  ASSERT_EQ(names.size(), static_cast<size_t>(kFiles));
  // Every second file, from the end: never the next one listed.
  for (size_t k = names.size(); k >= 2; k -= 2) {
    const std::string& name = names[k - 1];
    EXPECT_EQ(ReadFile(v->Path(name)), Content(std::stoi(name.substr(4)))) << name;
  }
  EXPECT_EQ(v->Status()["readahead"]["files"], 0) << v->Status().dump();
}

TEST_F(PrefetchTest, ReadaheadZeroReadsNothingAhead) {
  constexpr int kFiles = 20;
  auto v = VolumeWithFiles(kFiles, {"--tune", "readahead=0"});
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(ReadAllInListingOrder(*v, kFiles), 0);
}

}  // namespace
}  // namespace kmsfs::testing
