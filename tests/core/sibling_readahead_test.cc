// SiblingReadahead: which files a run of opens reads ahead (with a recording
// fetch), its bounds, and the real open-and-advise on odd entries.
#include "fs/core/sibling_readahead.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> Names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("f" + std::to_string(i));
  return out;
}

// Names f{from}..f{to-1}.
std::vector<std::string> Range(size_t from, size_t to) {
  std::vector<std::string> out;
  for (size_t i = from; i < to; ++i) out.push_back("f" + std::to_string(i));
  return out;
}

size_t OpenFdCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Records what the worker was asked to fetch; can hold the worker.
class Recorder {
 public:
  SiblingReadahead::Fetch AsFetch() {
    return [this](int, const std::string& name, uint64_t bytes) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !held_; });
      names_.push_back(name);
      bytes_ = bytes;
    };
  }
  void Hold(bool held) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = held;
    }
    cv_.notify_all();
  }
  std::vector<std::string> TakeNames() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    out.swap(names_);
    return out;
  }
  uint64_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  std::vector<std::string> names_;
  uint64_t bytes_ = 0;
};

class SiblingReadaheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_fd_ = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(dir_fd_, 0);
  }
  void TearDown() override {
    if (dir_fd_ >= 0) close(dir_fd_);
  }

  // Opens f{i} in "d" and returns what that read ahead.
  std::vector<std::string> Open(SiblingReadahead& ra, size_t i) {
    ra.NoteOpen("d", "f" + std::to_string(i));
    EXPECT_TRUE(ra.WaitIdle(milliseconds(10000)));
    return recorder_.TakeNames();
  }

  testing::TempDir dir_;
  int dir_fd_ = -1;
  Recorder recorder_;
  WorkQueue queue_{{.threads = 2}};
};

TEST_F(SiblingReadaheadTest, OpensInListingOrderReadAheadFromTheSecondOnWithAGrowingWindow) {
  SiblingReadaheadOptions o;
  o.files_ahead = 16;
  o.bytes_per_file = 4096;
  SiblingReadahead ra(o, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(100));

  EXPECT_TRUE(Open(ra, 0).empty());                  // one open says nothing yet
  EXPECT_EQ(Open(ra, 1), Range(2, 6));               // 4 ahead
  EXPECT_EQ(Open(ra, 2), Range(6, 11));              // 8 ahead: up to f10
  EXPECT_EQ(Open(ra, 3), Range(11, 20));             // 16 ahead: up to f19
  EXPECT_EQ(Open(ra, 4), Range(20, 21));             // capped at 16: one more each time
  EXPECT_EQ(recorder_.bytes(), 4096u);
  EXPECT_EQ(ra.stats().asked, 19u);
  EXPECT_EQ(ra.stats().dropped, 0u);
}

TEST_F(SiblingReadaheadTest, TheWindowStopsAtTheEndOfTheListing) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(5));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_EQ(Open(ra, 1), Range(2, 5));
  EXPECT_TRUE(Open(ra, 2).empty());
  EXPECT_TRUE(Open(ra, 3).empty());
  EXPECT_TRUE(Open(ra, 4).empty());
}

TEST_F(SiblingReadaheadTest, OpensOutOfOrderReadNothingAheadUntilARunStartsAgain) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(100));
  EXPECT_TRUE(Open(ra, 40).empty());
  EXPECT_TRUE(Open(ra, 7).empty());
  EXPECT_TRUE(Open(ra, 93).empty());
  EXPECT_TRUE(Open(ra, 12).empty());
  // A run from f12 on: its second open reads ahead.
  EXPECT_EQ(Open(ra, 13), Range(14, 18));
}

TEST_F(SiblingReadaheadTest, OpeningTheSameFileAgainNeitherEndsNorExtendsTheRun) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(100));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_EQ(Open(ra, 1), Range(2, 6));
  EXPECT_TRUE(Open(ra, 1).empty());
  EXPECT_EQ(Open(ra, 2), Range(6, 11));
}

TEST_F(SiblingReadaheadTest, UnknownDirectoriesAndNamesReadNothing) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(10));
  ra.NoteOpen("other", "f0");
  ra.NoteOpen("other", "f1");
  ra.NoteOpen("d", "not-listed");
  ra.NoteOpen("d", "also-not-listed");
  ASSERT_TRUE(ra.WaitIdle(milliseconds(10000)));
  EXPECT_TRUE(recorder_.TakeNames().empty());
  EXPECT_EQ(ra.stats().asked, 0u);
}

TEST_F(SiblingReadaheadTest, ANewListingOfTheDirectoryStartsOver) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(100));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_EQ(Open(ra, 1), Range(2, 6));
  ra.NoteListing(dir_fd_, "d", Names(100));
  EXPECT_TRUE(Open(ra, 2).empty());  // the run is new: its first open
  EXPECT_EQ(Open(ra, 3), Range(4, 8));
}

TEST_F(SiblingReadaheadTest, AStaleListingReadsNothing) {
  SiblingReadaheadOptions o;
  o.lifetime = std::chrono::seconds(0);
  SiblingReadahead ra(o, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(10));
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_TRUE(Open(ra, 1).empty());
}

TEST_F(SiblingReadaheadTest, ForgetStaleLetsGoOfOldListingsAndClosesTheirDirectories) {
  SiblingReadaheadOptions o;
  o.lifetime = std::chrono::seconds(0);
  SiblingReadahead ra(o, &queue_, recorder_.AsFetch());
  const size_t fds = OpenFdCount();
  ra.NoteListing(dir_fd_, "d", Names(10));
  EXPECT_EQ(ra.stats().listings, 1u);
  EXPECT_EQ(OpenFdCount(), fds + 1);
  std::this_thread::sleep_for(milliseconds(5));
  ra.ForgetStale();
  EXPECT_EQ(ra.stats().listings, 0u);
  EXPECT_EQ(OpenFdCount(), fds);
}

TEST_F(SiblingReadaheadTest, ForgetStaleKeepsFreshListings) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(10));
  ra.ForgetStale();
  EXPECT_EQ(ra.stats().listings, 1u);
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_EQ(Open(ra, 1), Range(2, 6));
}

TEST_F(SiblingReadaheadTest, ZeroFilesAheadIsOff) {
  SiblingReadaheadOptions o;
  o.files_ahead = 0;
  SiblingReadahead ra(o, &queue_, recorder_.AsFetch());
  EXPECT_FALSE(ra.enabled());
  ra.NoteListing(dir_fd_, "d", Names(10));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_TRUE(Open(ra, 1).empty());
  EXPECT_EQ(ra.stats().asked, 0u);
}

TEST_F(SiblingReadaheadTest, AFullQueueDropsFilesAndCountsThem) {
  SiblingReadaheadOptions o;
  o.files_ahead = 32;
  o.max_queued = 3;
  SiblingReadahead ra(o, &queue_, recorder_.AsFetch());
  recorder_.Hold(true);
  ra.NoteListing(dir_fd_, "d", Names(100));
  ra.NoteOpen("d", "f0");
  ra.NoteOpen("d", "f1");  // asks for f2..f5: the worker may hold one, three wait
  ra.NoteOpen("d", "f2");  // and f6..f10: all dropped, or all but one
  const SiblingReadaheadStats s = ra.stats();
  EXPECT_GE(s.dropped, 5u);
  EXPECT_EQ(s.asked + s.dropped, 9u);
  recorder_.Hold(false);
  ASSERT_TRUE(ra.WaitIdle(milliseconds(10000)));
  EXPECT_EQ(recorder_.TakeNames().size(), s.asked);
}

TEST_F(SiblingReadaheadTest, DestroyingWithWorkQueuedDropsItAndReturns) {
  auto ra = std::make_unique<SiblingReadahead>(SiblingReadaheadOptions{}, &queue_, recorder_.AsFetch());
  recorder_.Hold(true);
  ra->NoteListing(dir_fd_, "d", Names(100));
  ra->NoteOpen("d", "f0");
  ra->NoteOpen("d", "f1");
  std::thread release([&] {
    std::this_thread::sleep_for(milliseconds(50));
    recorder_.Hold(false);  // the file being fetched finishes; the rest is dropped
  });
  ra.reset();
  release.join();
  EXPECT_LE(recorder_.TakeNames().size(), 1u);
}

TEST_F(SiblingReadaheadTest, ADirectoryWithTooManyNamesIsNotRemembered) {
  SiblingReadahead ra({}, &queue_, recorder_.AsFetch());
  ra.NoteListing(dir_fd_, "d", Names(SiblingReadahead::kMaxNames + 1));
  EXPECT_TRUE(Open(ra, 0).empty());
  EXPECT_TRUE(Open(ra, 1).empty());
}

TEST_F(SiblingReadaheadTest, TheRealFetchReadsRegularFilesAndSkipsEverythingElse) {
  {
    std::ofstream(dir_.path() + "/regular") << std::string(10000, 'x');
  }
  ASSERT_EQ(mkfifo((dir_.path() + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(mkdir((dir_.path() + "/subdir").c_str(), 0700), 0);
  ASSERT_EQ(symlink("regular", (dir_.path() + "/link").c_str()), 0);
  // None of these may block (the FIFO has no writer) or fail loudly.
  for (const char* name : {"regular", "fifo", "subdir", "link", "missing", "..", "a/b", ""}) {
    SiblingReadahead::OpenAndAdvise(dir_fd_, name, 128 * 1024);
  }
  // And through the worker, with real opens.
  SiblingReadahead ra({}, &queue_);
  ra.NoteListing(dir_fd_, "d", {"regular", "fifo", "link", "missing", "regular"});
  ra.NoteOpen("d", "regular");
  ra.NoteOpen("d", "fifo");
  EXPECT_TRUE(ra.WaitIdle(milliseconds(10000)));
  EXPECT_EQ(ra.stats().asked, 3u);
}

}  // namespace
}  // namespace kmsfs::core
