// Key prefetch on directory listings: Volume::PrefetchKeys and the
// KeyPrefetcher behind it, against an in-process fake KMS (calls counted,
// failures and stalls injected). tests/core/volume_prefetch_test.cc runs the
// main scenario against a real kmsd.
#include "fs/core/key_prefetcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fs/core/volume.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

constexpr char kKeyId[] = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
constexpr char kOtherKeyId[] = "5a1b9c3e-0000-4d9c-b35d-f84bb474a37f";
constexpr milliseconds kWait{20000};  // a bound for waits that end far sooner

// A blocking point for fake KMS calls or warm functions: while closed, callers
// wait inside; tests see how many are waiting and open it.
class Gate {
 public:
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    --inside_;
  }
  // Blocks until `n` callers wait inside (or kWait passed); returns whether they do.
  bool AwaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return inside_ >= n; });
  }
  int max_inside() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inside_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int inside_ = 0;
  int max_inside_ = 0;
};

// Wraps by remembering: the wrapped form is a serial number in hex. Only the
// data-key calls are implemented; `down` makes them fail as unreachable.
class FakeKms : public kms::Client {
 public:
  std::string PrincipalDescription() const override { return "fake"; }
  StatusOr<std::string> UserId() override { return std::string("fake-user"); }

  StatusOr<std::string> EncryptDataKey(std::string_view key_id, const SecretBytes& dek,
                                       const kms::EncryptionContext& ctx) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    char wrapped[32];
    std::snprintf(wrapped, sizeof wrapped, "%016llx", static_cast<unsigned long long>(++serial_));
    keys_[wrapped] = Stored{std::string(key_id), SecretBytes::CopyFrom({dek.data(), dek.size()}), ctx};
    return std::string(wrapped);
  }
  StatusOr<SecretBytes> DecryptDataKey(std::string_view key_id, std::string_view cipher_text, size_t dek_length,
                                       const kms::EncryptionContext& ctx) override {
    unwraps.fetch_add(1);
    unwrap_gate.Pass();
    std::lock_guard<std::mutex> lock(mu_);
    if (down) return Status::Unavailable("fake KMS is down");
    auto it = keys_.find(std::string(cipher_text));
    if (it == keys_.end() || it->second.key_id != key_id || it->second.ctx != ctx ||
        it->second.dek.size() != dek_length) {
      return Status::DataLoss("fake KMS: no such wrapped key");
    }
    return SecretBytes::CopyFrom({it->second.dek.data(), it->second.dek.size()});
  }

  StatusOr<kms::KeyInfo> CreateKey(const kms::CreateKeyRequest&) override { return No(); }
  StatusOr<kms::KeyInfo> DescribeKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyList> ListKeys(const kms::ListKeysRequest&) override { return No(); }
  StatusOr<kms::KeyInfo> EnableKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyInfo> DisableKey(std::string_view) override { return No(); }
  StatusOr<kms::KeyInfo> ScheduleKeyDeletion(std::string_view, int) override { return No(); }
  StatusOr<kms::KeyInfo> CancelKeyDeletion(std::string_view) override { return No(); }
  Status EnableKeyRotation(std::string_view) override { return No(); }
  StatusOr<std::vector<uint8_t>> GenRandom(int) override { return No(); }
  StatusOr<kms::DataKey> CreateDataKey(std::string_view, size_t, const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> CreateDataKeyWithoutPlaintext(std::string_view, size_t,
                                                      const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> EncryptData(std::string_view, std::string_view, const kms::EncryptionContext&) override {
    return No();
  }
  StatusOr<std::string> DecryptData(std::string_view, const kms::EncryptionContext&) override { return No(); }
  StatusOr<std::string> CreateGrant(const kms::CreateGrantRequest&) override { return No(); }
  StatusOr<kms::GrantList> ListGrants(const kms::ListGrantsRequest&) override { return No(); }
  Status RevokeGrant(std::string_view, std::string_view) override { return No(); }
  Status RetireGrant(std::string_view, std::string_view) override { return No(); }
  StatusOr<kms::GrantList> ListRetirableGrants(const kms::ListGrantsRequest&) override { return No(); }
  StatusOr<kms::ImportParameters> GetParametersForImport(std::string_view, std::string_view) override {
    return No();
  }
  Status ImportKeyMaterial(const kms::ImportKeyMaterialRequest&) override { return No(); }
  Status DeleteImportedKeyMaterial(std::string_view) override { return No(); }

  std::atomic<bool> down{false};
  std::atomic<int> unwraps{0};
  Gate unwrap_gate;

 private:
  struct Stored {
    std::string key_id;
    SecretBytes dek;
    kms::EncryptionContext ctx;
  };
  static Status No() { return Status::Unimplemented("not in the fake KMS"); }

  std::mutex mu_;
  uint64_t serial_ = 0;
  std::map<std::string, Stored> keys_;
};

std::string Content(const std::string& name) { return "content of " + name + std::string(100, '.'); }

class KeyPrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.key_id = kKeyId;
    config_.project_id = "project";
    ASSERT_EQ(mkdir(dir_.Join("d").c_str(), 0755), 0);
  }

  // A volume on the backing dir; no pool, so every KMS call counted is an unwrap.
  std::unique_ptr<Volume> Open(size_t prefetch_concurrency = 4, bool read_only = false) {
    VolumeOptions o;
    o.pool.target = 0;
    o.prefetch_concurrency = prefetch_concurrency;
    o.read_only = read_only;
    auto v = Volume::Open(dir_.path(), config_, kms_, o);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  // Creates d/<name> for each name with its content, through a volume of its own.
  void CreateFiles(const std::vector<std::string>& names) {
    auto writer = Open(0);
    ASSERT_NE(writer, nullptr);
    for (const std::string& name : names) {
      auto f = writer->CreateFile("d/" + name, 0644, -1, -1, true);
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      const std::string c = Content(name);
      auto n = (*f)->Write(0, {reinterpret_cast<const uint8_t*>(c.data()), c.size()});
      ASSERT_TRUE(n.ok()) << n.status().ToString();
    }
  }

  static std::vector<std::string> Names(int n, const std::string& prefix = "f") {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
    return out;
  }

  // Lists d the way the mount does and hands the names to `v`.
  void PrefetchDir(Volume& v, std::vector<std::string> names) {
    UniqueFd d = OpenDir("d");
    ASSERT_TRUE(d.valid());
    v.PrefetchKeys(d.get(), std::move(names), "/d");
  }

  UniqueFd OpenDir(const std::string& rel) {
    return UniqueFd(open(dir_.Join(rel).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  std::string ReadThrough(Volume& v, const std::string& name) {
    auto f = v.OpenFile("d/" + name, false);
    if (!f.ok()) return "error: " + f.status().ToString();
    std::string out(4096, '\0');
    auto n = (*f)->Read(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    if (!n.ok()) return "error: " + n.status().ToString();
    out.resize(*n);
    return out;
  }

  TempDir dir_;
  format::VolumeConfig config_;
  std::shared_ptr<FakeKms> kms_ = std::make_shared<FakeKms>();
};

TEST_F(KeyPrefetchTest, NotedListingIsFetchedOnTheFirstMissInItsDirectoryOnly) {
  const std::vector<std::string> names = Names(30);
  CreateFiles(names);
  ASSERT_EQ(mkdir(dir_.Join("other").c_str(), 0755), 0);
  auto v = Open();
  ASSERT_NE(v, nullptr);
  {
    UniqueFd d = OpenDir("d");
    ASSERT_TRUE(d.valid());
    v->NoteListing(d.get(), "d", names);
  }
  // Noting costs nothing; an open elsewhere does not use d's listing.
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  EXPECT_EQ(v->stats().kms_calls, 0u);
  EXPECT_EQ(v->stats().prefetch.queued, 0u);
  {
    UniqueFd other = OpenDir("other");
    ASSERT_TRUE(other.valid());
    v->NoteListing(other.get(), "other", {"ghost"});
  }

  EXPECT_EQ(ReadThrough(*v, names[3]), Content(names[3]));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.queued, 30u);
  // The opened file's key is loaded by the open or by a worker, whichever
  // starts first; the other shares that one call.
  EXPECT_EQ(s.prefetch.loaded + s.prefetch.skipped_cached, 30u);
  EXPECT_EQ(s.kms_calls, 30u);
  for (const std::string& name : names) EXPECT_EQ(ReadThrough(*v, name), Content(name));
  EXPECT_EQ(v->stats().kms_calls, 30u);
  EXPECT_EQ(v->stats().prefetch.queued, 30u) << "the listing is used once; other's was never touched";
}

TEST_F(KeyPrefetchTest, ListingWarmsEveryKeySoOpensMakeNoKmsCall) {
  const std::vector<std::string> names = Names(40);
  CreateFiles(names);
  auto v = Open();
  ASSERT_NE(v, nullptr);
  PrefetchDir(*v, names);
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.queued, 40u);
  EXPECT_EQ(s.prefetch.loaded, 40u);
  EXPECT_EQ(s.prefetch.failed, 0u);
  EXPECT_EQ(s.kms_calls, 40u);
  EXPECT_EQ(s.cache.entries, 40u);

  for (const std::string& name : names) EXPECT_EQ(ReadThrough(*v, name), Content(name));
  s = v->stats();
  EXPECT_EQ(s.kms_calls, 40u) << "an open asked the KMS although the listing had fetched its key";
  EXPECT_EQ(s.cache.hits, 40u);
}

TEST_F(KeyPrefetchTest, ReadOnlyVolumePrefetchesToo) {
  CreateFiles(Names(5));
  auto v = Open(4, true);
  ASSERT_NE(v, nullptr);
  PrefetchDir(*v, Names(5));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  EXPECT_EQ(v->stats().prefetch.loaded, 5u);
  EXPECT_EQ(ReadThrough(*v, "f3"), Content("f3"));
  EXPECT_EQ(v->stats().kms_calls, 5u);
}

TEST_F(KeyPrefetchTest, KeysAlreadyCachedAreSkippedWithoutKmsCall) {
  CreateFiles(Names(6));
  auto v = Open();
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(ReadThrough(*v, "f0"), Content("f0"));
  EXPECT_EQ(ReadThrough(*v, "f1"), Content("f1"));
  const uint64_t hits = v->stats().cache.hits;
  PrefetchDir(*v, Names(6));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.skipped_cached, 2u);
  EXPECT_EQ(s.prefetch.loaded, 4u);
  EXPECT_EQ(s.kms_calls, 6u);
  EXPECT_EQ(s.cache.hits, hits) << "asking whether a key is cached must not count as (or act as) a use";

  // Listing again finds every key cached.
  PrefetchDir(*v, Names(6));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  EXPECT_EQ(v->stats().prefetch.skipped_cached, 8u);
  EXPECT_EQ(v->stats().kms_calls, 6u);
}

TEST_F(KeyPrefetchTest, NonRegularEntriesAreSkippedAndNeverOpened) {
  CreateFiles({"real", "target"});
  ASSERT_EQ(mkdir(dir_.Join("elsewhere").c_str(), 0755), 0);
  ASSERT_EQ(rename(dir_.Join("d/target").c_str(), dir_.Join("elsewhere/target").c_str()), 0);
  ASSERT_EQ(mkfifo(dir_.Join("d/fifo").c_str(), 0644), 0);
  ASSERT_EQ(symlink("../elsewhere/target", dir_.Join("d/link").c_str()), 0);
  ASSERT_EQ(mkdir(dir_.Join("d/sub").c_str(), 0755), 0);
  // A socket too: opening one fails, and must not even be tried.
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
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

  auto v = Open();
  ASSERT_NE(v, nullptr);
  PrefetchDir(*v, {"fifo", "link", "sub", "sock", "real", "missing", "..", "a/b"});
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait)) << "a FIFO open must not block";
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.loaded, 1u);
  EXPECT_EQ(s.prefetch.skipped, 7u);
  EXPECT_EQ(s.prefetch.failed, 0u);
  EXPECT_EQ(s.kms_calls, 1u);

  std::multiset<std::string> opened;
  alignas(inotify_event) char buf[8192];
  for (ssize_t n; (n = read(ino.get(), buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      opened.insert(e->len > 0 ? std::string(e->name) : std::string("(the directory)"));
      p += sizeof(inotify_event) + e->len;
    }
  }
  EXPECT_EQ(opened.count("real"), 1u) << "the watch must see the one regular file's open";
  EXPECT_EQ(opened.count("fifo"), 0u);
  EXPECT_EQ(opened.count("sock"), 0u);
  EXPECT_EQ(opened.count("target"), 0u) << "the symlink was followed";
  EXPECT_EQ(opened.count("sub"), 0u);
  close(sock);
}

TEST_F(KeyPrefetchTest, FileWithoutHeaderCountsAsFailedAndTheRestLoad) {
  CreateFiles(Names(10));
  testing::WriteFileOrDie(dir_.Join("d/plain"), "no header here");
  // A header wrapped under another key: not this volume's, so not fetched.
  CreateFiles({"foreign"});
  {
    UniqueFd fd(open(dir_.Join("d/foreign").c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    auto header = ReadFileHeader(fd.get());
    ASSERT_TRUE(header.ok());
    header->key_id = kOtherKeyId;
    ASSERT_TRUE(WriteFileHeader(fd.get(), *header, false).ok());
  }
  auto v = Open(1);  // one worker: the failure comes before most names
  ASSERT_NE(v, nullptr);
  std::vector<std::string> names = {"plain", "foreign"};
  for (const std::string& n : Names(10)) names.push_back(n);
  PrefetchDir(*v, names);
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.failed, 1u);
  EXPECT_EQ(s.prefetch.skipped, 1u);
  EXPECT_EQ(s.prefetch.loaded, 10u);
  EXPECT_EQ(s.prefetch.dropped, 0u);
  EXPECT_EQ(s.kms_calls, 10u);
}

TEST_F(KeyPrefetchTest, ZeroConcurrencyDoesNothing) {
  CreateFiles(Names(5));
  auto v = Open(0);
  ASSERT_NE(v, nullptr);
  PrefetchDir(*v, Names(5));
  EXPECT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.prefetch.queued, 0u);
  EXPECT_EQ(s.prefetch.dropped, 0u);
  EXPECT_EQ(s.kms_calls, 0u);
  EXPECT_EQ(s.cache.entries, 0u);
}

TEST_F(KeyPrefetchTest, CacheTurnedOffTurnsPrefetchOff) {
  CreateFiles(Names(3));
  VolumeOptions o;
  o.pool.target = 0;
  o.cache.ttl = std::chrono::seconds(0);
  auto v = Volume::Open(dir_.path(), config_, kms_, o);
  ASSERT_TRUE(v.ok());
  PrefetchDir(**v, Names(3));
  EXPECT_TRUE((*v)->WaitForPrefetchIdle(kWait));
  EXPECT_EQ((*v)->stats().prefetch.queued, 0u);
  EXPECT_EQ((*v)->stats().kms_calls, 0u);
}

TEST_F(KeyPrefetchTest, KmsDownDropsTheRestOfTheBatchAfterTheFirstUnavailable) {
  CreateFiles(Names(50));
  auto v = Open(1);
  ASSERT_NE(v, nullptr);
  kms_->down = true;
  PrefetchDir(*v, Names(50));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  VolumeStats s = v->stats();
  EXPECT_EQ(s.kms_calls, 1u);
  EXPECT_EQ(s.prefetch.failed, 1u);
  EXPECT_EQ(s.prefetch.dropped, 49u);
  EXPECT_EQ(s.prefetch.loaded, 0u);
  // The open reports the outage itself, as without prefetching.
  auto f = v->OpenFile("d/f7", false);
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable);

  // Back up: a later listing tries again.
  kms_->down = false;
  PrefetchDir(*v, Names(50));
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  EXPECT_EQ(v->stats().prefetch.loaded, 50u);
}

TEST_F(KeyPrefetchTest, OpenDuringPrefetchSharesItsKmsCall) {
  CreateFiles({"f"});
  auto v = Open(1);
  ASSERT_NE(v, nullptr);
  kms_->unwrap_gate.Close();
  PrefetchDir(*v, {"f"});
  ASSERT_TRUE(kms_->unwrap_gate.AwaitInside(1));  // the prefetch's call is in flight
  std::string read;
  std::thread opener([&] { read = ReadThrough(*v, "f"); });
  // The open finds the load in flight and waits for it instead of calling the KMS.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (v->stats().cache.waiting == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(v->stats().cache.waiting, 1u);
  kms_->unwrap_gate.Open();
  opener.join();
  ASSERT_TRUE(v->WaitForPrefetchIdle(kWait));
  EXPECT_EQ(read, Content("f"));
  EXPECT_EQ(kms_->unwraps.load(), 1);
  EXPECT_EQ(v->stats().cache.coalesced, 1u);
  EXPECT_EQ(v->stats().prefetch.loaded, 1u);
}

// --- KeyPrefetcher alone, with a warm function the test controls.

class KeyPrefetcherTest : public ::testing::Test {
 protected:
  // d/<name> with a valid header (no KMS involved).
  void MakeHeaderFiles(const std::vector<std::string>& names) {
    mkdir(dir_.Join("d").c_str(), 0755);
    for (const std::string& name : names) {
      UniqueFd fd(open(dir_.Join("d/" + name).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644));
      ASSERT_TRUE(fd.valid());
      format::FileHeader h;
      h.key_id = kKeyId;
      h.wrapped_dek = "00ff";
      h.file_id[0] = static_cast<uint8_t>(name.size());
      ASSERT_TRUE(WriteFileHeader(fd.get(), h, false).ok());
    }
  }
  UniqueFd Dir() { return UniqueFd(open(dir_.Join("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); }

  KeyPrefetcher::WarmFn GatedWarm() {
    return [this](const format::FileHeader&) -> StatusOr<KeyPrefetcher::Outcome> {
      warm_calls_.fetch_add(1);
      gate_.Pass();
      return KeyPrefetcher::Outcome::kLoaded;
    };
  }

  TempDir dir_;
  Gate gate_;
  std::atomic<int> warm_calls_{0};
};

std::vector<std::string> Numbered(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("n" + std::to_string(i));
  return out;
}

TEST_F(KeyPrefetcherTest, AtMostConcurrencyWarmCallsRunAtOnce) {
  MakeHeaderFiles(Numbered(20));
  KeyPrefetcher p({.concurrency = 3, .max_queued = 100}, GatedWarm());
  gate_.Close();
  p.Prefetch(Dir(), Numbered(20));
  ASSERT_TRUE(gate_.AwaitInside(3));
  KeyPrefetchStats s = p.stats();
  EXPECT_EQ(s.in_flight, 3u);
  EXPECT_EQ(s.pending, 17u);
  gate_.Open();
  ASSERT_TRUE(p.WaitIdle(kWait));
  EXPECT_EQ(gate_.max_inside(), 3);
  EXPECT_EQ(p.stats().loaded, 20u);
  EXPECT_EQ(p.stats().pending, 0u);
}

// With an interval, a KMS that answers at once gets one prefetch call at a
// time, and one that takes 20 ms gets the full concurrency.
TEST_F(KeyPrefetcherTest, WithAnIntervalConcurrencyFollowsTheKmsLatency) {
  MakeHeaderFiles(Numbered(30));
  for (const milliseconds latency : {milliseconds(0), milliseconds(20)}) {
    std::mutex mu;
    int inside = 0;
    int max_inside = 0;
    KeyPrefetcher p({.concurrency = 4, .max_queued = 100, .interval = std::chrono::microseconds(500)},
                    [&](const format::FileHeader&) -> StatusOr<KeyPrefetcher::Outcome> {
                      {
                        std::lock_guard<std::mutex> lock(mu);
                        max_inside = std::max(max_inside, ++inside);
                      }
                      std::this_thread::sleep_for(latency);
                      std::lock_guard<std::mutex> lock(mu);
                      --inside;
                      return KeyPrefetcher::Outcome::kLoaded;
                    });
    p.Prefetch(Dir(), Numbered(30));
    ASSERT_TRUE(p.WaitIdle(kWait));
    EXPECT_EQ(p.stats().loaded, 30u);
    EXPECT_EQ(max_inside, latency.count() == 0 ? 1 : 4) << latency.count() << " ms";
  }
}

TEST_F(KeyPrefetcherTest, NamesBeyondTheQueueBoundAreDroppedAndCounted) {
  MakeHeaderFiles(Numbered(10));
  KeyPrefetcher p({.concurrency = 1, .max_queued = 4}, GatedWarm());
  gate_.Close();
  p.Prefetch(Dir(), Numbered(10));
  KeyPrefetchStats s = p.stats();
  EXPECT_EQ(s.queued, 4u);
  EXPECT_EQ(s.dropped, 6u);
  gate_.Open();
  ASSERT_TRUE(p.WaitIdle(kWait));
  EXPECT_EQ(p.stats().loaded, 4u);
}

TEST_F(KeyPrefetcherTest, DestructorDropsTheQueueAndWaitsOnlyForTheCallInFlight) {
  MakeHeaderFiles({"first"});
  auto p = std::make_unique<KeyPrefetcher>(KeyPrefetcherOptions{.concurrency = 1, .max_queued = 100}, GatedWarm());
  gate_.Close();
  p->Prefetch(Dir(), {"first"});
  ASSERT_TRUE(gate_.AwaitInside(1));
  // A second batch stays queued behind the stalled call. Its "directory" is
  // a pipe's read end, so the moment the queue drops it shows at the write end.
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd write_end(pipe_fds[1]);
  p->Prefetch(UniqueFd(pipe_fds[0]), Numbered(50));
  EXPECT_EQ(p->stats().pending, 50u);

  std::thread destroyer([&] { p.reset(); });
  pollfd pfd{write_end.get(), 0, 0};
  ASSERT_EQ(poll(&pfd, 1, static_cast<int>(kWait.count())), 1);
  EXPECT_TRUE(pfd.revents & POLLERR) << "the queued batch was not dropped";
  gate_.Open();  // now the call in flight may return
  destroyer.join();
  EXPECT_EQ(warm_calls_.load(), 1);
}

TEST_F(KeyPrefetcherTest, ZeroConcurrencyStartsNoThreadAndQueuesNothing) {
  MakeHeaderFiles({"a"});
  KeyPrefetcher p({.concurrency = 0, .max_queued = 100}, GatedWarm());
  EXPECT_FALSE(p.enabled());
  p.Prefetch(Dir(), {"a"});
  EXPECT_TRUE(p.WaitIdle(milliseconds(0)));
  EXPECT_EQ(p.stats().queued, 0u);
  EXPECT_EQ(warm_calls_.load(), 0);
}

}  // namespace
}  // namespace kmsfs::core
