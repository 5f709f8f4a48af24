// KeyPrefetcher alone, with a warm function the test controls: concurrency,
// bounds, shutdown. tests/core/hints_test.cc drives it through a volume.
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
