#include "crypto/nonce_source.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <thread>
#include <vector>

#include "tests/testutil/scripted_random.h"

namespace kmsfs::crypto {
namespace {

TEST(NonceSourceTest, DrawsAreDistinctAcrossRefills) {
  std::set<std::array<uint8_t, 12>> seen;
  // 12-byte draws: 2000 of them cross several 4 KiB refills.
  for (int i = 0; i < 2000; ++i) {
    std::array<uint8_t, 12> n{};
    ASSERT_TRUE(FillNonce(n).ok());
    EXPECT_NE(n, (std::array<uint8_t, 12>{}));
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(NonceSourceTest, RejectsEmptyAndOversizedRequests) {
  std::vector<uint8_t> none;
  EXPECT_EQ(FillNonce(none).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> big(kMaxNonceSize + 1);
  EXPECT_EQ(FillNonce(big).code(), StatusCode::kInvalidArgument);
}

TEST(NonceSourceTest, ThreadsGetDifferentNonces) {
  std::array<std::array<uint8_t, 24>, 4> got{};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&got, t] { ASSERT_TRUE(FillNonce(got[t]).ok()); });
  }
  for (auto& th : threads) th.join();
  std::set<std::array<uint8_t, 24>> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), got.size());
}

TEST(NonceSourceTest, ChildAfterForkNeverRepeatsParentNonces) {
  // Prime this thread's buffer so parent and child start from the same copy.
  std::array<uint8_t, 12> warm{};
  ASSERT_TRUE(FillNonce(warm).ok());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::array<uint8_t, 12> n{};
    const bool ok = FillNonce(n).ok();
    const ssize_t w = ok ? write(fds[1], n.data(), n.size()) : -1;
    _exit(w == static_cast<ssize_t>(n.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::array<uint8_t, 12> parent{};
  ASSERT_TRUE(FillNonce(parent).ok());
  std::array<uint8_t, 12> child{};
  ASSERT_EQ(read(fds[0], child.data(), child.size()), static_cast<ssize_t>(child.size()));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(parent, child);
}

TEST(NonceSourceTest, AllZeroDrawIsDrawnAgain) {
  const std::vector<uint8_t> second = testing::CountingBytes(12, 0x41);
  testing::ScriptedRandom random({std::vector<uint8_t>(12, 0), second});
  std::array<uint8_t, 12> n{};
  ASSERT_TRUE(FillNonce(n, random).ok());
  EXPECT_EQ(std::vector<uint8_t>(n.begin(), n.end()), second);
  EXPECT_EQ(random.calls(), 2);
}

TEST(NonceSourceTest, NonZeroFirstDrawIsUsedAsIs) {
  // One nonzero byte is enough: only the all-zero nonce is a hole's.
  std::vector<uint8_t> first(24, 0);
  first[23] = 1;
  testing::ScriptedRandom random({first, testing::CountingBytes(24, 9)});
  std::array<uint8_t, 24> n{};
  ASSERT_TRUE(FillNonce(n, random).ok());
  EXPECT_EQ(std::vector<uint8_t>(n.begin(), n.end()), first);
  EXPECT_EQ(random.left(), 1u);
}

TEST(NonceSourceTest, SourceThatOnlyGivesZerosFailsInsteadOfLooping) {
  std::vector<std::vector<uint8_t>> zeros(kMaxNonceDraws + 1, std::vector<uint8_t>(12, 0));
  testing::ScriptedRandom random(zeros);
  std::array<uint8_t, 12> n{};
  Status s = FillNonce(n, random);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(random.calls(), kMaxNonceDraws);
}

TEST(NonceSourceTest, FailingSourceFailsTheDraw) {
  testing::ScriptedRandom random({});
  std::array<uint8_t, 12> n{};
  EXPECT_EQ(FillNonce(n, random).code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace kmsfs::crypto
