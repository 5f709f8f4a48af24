// ReadyFiles: which directories get files made ahead, what Take hands out,
// the age and directory bounds, DEKs kept from files given up, refusals, and
// Forget, when the worker is woken, the mode files are made with; with a
// recording make function.
#include "fs/core/ready_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;

constexpr mode_t kMode = 0644;

// Makes "files" (fds of /dev/null) and records each call; DEKs are numbered
// by the first byte of their file id.
class RecordingMake {
 public:
  ReadyFiles::Make Fn() {
    return [this](const std::string& dir, mode_t mode,
                  std::optional<cache::PooledDek> dek) -> StatusOr<ReadyFiles::File> {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(dir);
      if (refuse_.count(dir) != 0) return Status::FailedPrecondition(dir + " refused");
      if (dek.has_value()) {
        reused_.push_back(dek->file_id[0]);
      } else {
        dek = cache::PooledDek{};
        dek->file_id[0] = static_cast<uint8_t>(++fresh_);
      }
      made_in_[dek->file_id[0]] = dir;
      return ReadyFiles::File{UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC)), std::move(dek).value(),
                              std::chrono::steady_clock::now(), mode, nullptr};
    };
  }
  void Refuse(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    refuse_[dir] = true;
  }
  size_t CallsFor(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& c : calls_) n += c == dir ? 1 : 0;
    return n;
  }
  std::vector<uint8_t> reused() {
    std::lock_guard<std::mutex> lock(mu_);
    return reused_;
  }
  std::string MadeIn(const ReadyFiles::File& f) {
    std::lock_guard<std::mutex> lock(mu_);
    return made_in_[f.dek.file_id[0]];
  }

 private:
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, bool> refuse_;
  std::map<uint8_t, std::string> made_in_;
  std::vector<uint8_t> reused_;
  int fresh_ = 0;
};

// Makes files at once, except the `nth` call for `dir`, which waits in the
// worker until Release(): the test acts while a file is being made.
class HeldMake {
 public:
  HeldMake(std::string dir, int nth) : dir_(std::move(dir)), nth_(nth) {}
  ReadyFiles::Make Fn() {
    return [this](const std::string& dir, mode_t mode, std::optional<cache::PooledDek>) -> StatusOr<ReadyFiles::File> {
      std::unique_lock<std::mutex> lock(mu_);
      if (++calls_[dir] == nth_ && dir == dir_) {
        held_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
      }
      return ReadyFiles::File{UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC)), cache::PooledDek{},
                              std::chrono::steady_clock::now(), mode, nullptr};
    };
  }
  void AwaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  int CallsFor(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[dir];
  }

 private:
  const std::string dir_;
  const int nth_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
  std::map<std::string, int> calls_;
};

ReadyFilesOptions Options(size_t per_directory, size_t max_directories = 16,
                          milliseconds max_age = milliseconds(60000)) {
  ReadyFilesOptions o;
  o.per_directory = per_directory;
  o.max_directories = max_directories;
  o.max_age = max_age;
  return o;
}

TEST(ReadyFilesTest, TheFirstCreateInADirectoryFindsNoneAndTheNextFindOnesMadeThere) {
  RecordingMake make;
  ReadyFiles ready(Options(4), make.Fn());
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  // The stock is one more than the creates seen, up to per_directory; the
  // worker is woken once half of it is gone and makes it up again.
  EXPECT_EQ(make.CallsFor("a"), 2u);
  const size_t made_after[] = {4, 6, 6, 8, 8, 10};
  for (size_t i = 0; i < std::size(made_after); ++i) {
    std::optional<ReadyFiles::File> f = ready.Take("a", kMode);
    ASSERT_TRUE(f.has_value()) << i;
    EXPECT_EQ(make.MadeIn(*f), "a");
    EXPECT_GE(f->fd.get(), 0);
    ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
    EXPECT_EQ(make.CallsFor("a"), made_after[i]) << "after take " << i + 2;
  }
  EXPECT_EQ(make.CallsFor("b"), 0u) << "a directory nobody created in gets nothing";
  ReadyFilesStats s = ready.stats();
  EXPECT_EQ(s.used, 6u);
  EXPECT_EQ(s.made, 10u);
}

TEST(ReadyFilesTest, FilesAreMadeWithTheModeTheLastCreateAskedFor) {
  RecordingMake make;
  ReadyFiles ready(Options(1), make.Fn());
  EXPECT_FALSE(ready.Take("a", 0640).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  std::optional<ReadyFiles::File> f = ready.Take("a", 0600);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->mode, 0640u) << "made before the create asked for 0600";
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  f = ready.Take("a", 0600);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->mode, 0600u);
}

TEST(ReadyFilesTest, OldFilesAreNotHandedOutAndTheirDeksAreKept) {
  RecordingMake make;
  ReadyFiles ready(Options(2, 16, milliseconds(50)), make.Fn());
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(80));
  ready.DropStale();
  EXPECT_EQ(ready.stats().dropped, 2u);
  // The next files made reuse the two DEKs no name ever had.
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  std::vector<uint8_t> reused = make.reused();
  std::sort(reused.begin(), reused.end());
  EXPECT_EQ(reused, (std::vector<uint8_t>{1, 2}));
  // A file too old when asked for is given up, not handed out.
  std::this_thread::sleep_for(milliseconds(80));
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  EXPECT_EQ(ready.stats().used, 0u);
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  // A kept DEK is forgotten after max_age too: the next file gets a fresh one.
  std::this_thread::sleep_for(milliseconds(80));
  ready.DropStale();  // gives up the two files just made, keeping their DEKs
  std::this_thread::sleep_for(milliseconds(80));
  ready.DropStale();  // forgets those DEKs
  const size_t reused_before = make.reused().size();
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(make.reused().size(), reused_before) << "a DEK older than max_age was used";
}

TEST(ReadyFilesTest, TheDirectoryUsedLongestAgoGivesItsFilesUp) {
  RecordingMake make;
  ReadyFiles ready(Options(2, 2), make.Fn());
  for (const char* dir : {"a", "b"}) {
    ready.Take(dir, kMode);
    ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  }
  ASSERT_TRUE(ready.Take("a", kMode).has_value());  // "b" is now the one used longest ago
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_FALSE(ready.Take("c", kMode).has_value());
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(ready.stats().dropped, 2u);
  EXPECT_TRUE(ready.Take("a", kMode).has_value());
  EXPECT_TRUE(ready.Take("c", kMode).has_value());
}

TEST(ReadyFilesTest, ADirectoryGivenUpWhileAFileIsMadeForItIsNotRefilled) {
  HeldMake make("a", 1);  // held until "b" has taken "a"'s place
  ReadyFiles ready(Options(1, 1), make.Fn());
  ready.Take("a", kMode);
  make.AwaitHeld();
  ready.Take("b", kMode);  // one directory at most: "a" gives up its place
  make.Release();
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(make.CallsFor("a"), 1) << "a directory given up was made files for again";
  EXPECT_EQ(make.CallsFor("b"), 1);
  EXPECT_EQ(ready.stats().dropped, 1u);
}

TEST(ReadyFilesTest, ADirectoryMakeRefusesIsNotAskedAgain) {
  RecordingMake make;
  make.Refuse("acl");
  ReadyFiles ready(Options(4), make.Fn());
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(ready.Take("acl", kMode).has_value());
    ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  }
  EXPECT_EQ(make.CallsFor("acl"), 1u);
  // Forget starts over: the directory may have changed.
  ready.Forget();
  ready.Take("acl", kMode);
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(make.CallsFor("acl"), 2u);
}

TEST(ReadyFilesTest, ForgetGivesUpEveryReadyFileAndOneBeingMade) {
  HeldMake make("a", 2);  // the second file: held until the test has called Forget
  ReadyFiles ready(Options(1), make.Fn());
  ready.Take("a", kMode);
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  ASSERT_TRUE(ready.Take("a", kMode).has_value());  // asks for the second, which is held
  make.AwaitHeld();
  ready.Forget();
  make.Release();
  ASSERT_TRUE(ready.WaitIdle(milliseconds(5000)));
  EXPECT_FALSE(ready.Take("a", kMode).has_value()) << "a file made across a Forget was handed out";
  EXPECT_EQ(ready.stats().dropped, 1u);
}

TEST(ReadyFilesTest, ZeroPerDirectoryMakesNothing) {
  RecordingMake make;
  ReadyFiles ready(Options(0), make.Fn());
  EXPECT_FALSE(ready.enabled());
  EXPECT_FALSE(ready.Take("a", kMode).has_value());
  EXPECT_TRUE(ready.WaitIdle(milliseconds(100)));
  EXPECT_EQ(make.CallsFor("a"), 0u);
}

}  // namespace
}  // namespace kmsfs::core
