#include "base/secret_bytes.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/testutil/process.h"

namespace kmsfs {
namespace {

std::vector<std::vector<uint8_t>>* g_freed = nullptr;

void RecordFree(const uint8_t* data, size_t size) {
  if (g_freed) g_freed->emplace_back(data, data + size);
}

TEST(SecretBytesTest, RandomKeysDiffer) {
  SecretBytes a = SecretBytes::Random(64);
  SecretBytes b = SecretBytes::Random(64);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_FALSE(a.Equals(b));
  EXPECT_TRUE(a.Equals(a.Clone()));
}

TEST(SecretBytesTest, MemoryIsWipedBeforeRelease) {
  std::vector<std::vector<uint8_t>> freed;
  g_freed = &freed;
  SetSecretFreeHookForTesting(&RecordFree);
  { SecretBytes key = SecretBytes::Random(64); }
  SetSecretFreeHookForTesting(nullptr);
  g_freed = nullptr;
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_TRUE(std::all_of(freed[0].begin(), freed[0].end(), [](uint8_t b) { return b == 0; }));
}

TEST(SecretBytesTest, MoveLeavesSourceEmpty) {
  SecretBytes a = SecretBytes::Random(32);
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): testing moved-from state
  EXPECT_EQ(b.size(), 32u);
}

TEST(SecretBytesTest, EqualsRejectsDifferentSizes) {
  SecretBytes a = SecretBytes::Random(32);
  EXPECT_FALSE(a.Equals(std::span<const uint8_t>(a.data(), 31)));
}

TEST(SecretBytesTest, ManySmallSecretsStayDistinctAndIntact) {
  // Enough 64-byte keys to span several slabs; freeing half and allocating
  // again reuses slots without disturbing the survivors.
  std::vector<SecretBytes> keys;
  std::vector<std::vector<uint8_t>> copies;
  for (int i = 0; i < 5000; ++i) {
    keys.push_back(SecretBytes::Random(64));
    copies.emplace_back(keys.back().data(), keys.back().data() + 64);
  }
  for (size_t i = 0; i < keys.size(); i += 2) keys[i] = SecretBytes::Random(32);
  for (size_t i = 1; i < keys.size(); i += 2) EXPECT_TRUE(keys[i].Equals(copies[i])) << i;
}

TEST(SecretBytesTest, EverySizeClassKeepsContentsAndWipesOnRelease) {
  // Sizes at and around each slab class boundary, and one past the largest.
  const size_t sizes[] = {1, 63, 64, 65, 96, 255, 256, 257, 1023, 1024, 1025, 4096};
  std::vector<SecretBytes> secrets;
  std::vector<std::vector<uint8_t>> copies;
  for (int round = 0; round < 300; ++round) {
    for (size_t size : sizes) {
      secrets.push_back(SecretBytes::Random(size));
      copies.emplace_back(secrets.back().data(), secrets.back().data() + size);
    }
  }
  for (size_t i = 0; i < secrets.size(); ++i) ASSERT_TRUE(secrets[i].Equals(copies[i])) << i;

  std::vector<std::vector<uint8_t>> freed;
  g_freed = &freed;
  SetSecretFreeHookForTesting(&RecordFree);
  secrets.clear();
  SetSecretFreeHookForTesting(nullptr);
  g_freed = nullptr;
  ASSERT_EQ(freed.size(), copies.size());
  for (const auto& f : freed) EXPECT_TRUE(std::all_of(f.begin(), f.end(), [](uint8_t b) { return b == 0; }));
}

// Without the right to lock memory (no CAP_IPC_LOCK, RLIMIT_MEMLOCK 0),
// secrets still work, the failures are counted, and one warning says that
// keys may reach swap.
TEST(SecretBytesTest, LockFailureIsCountedAndWarnedAboutOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const int rc = kmsfs::testing::RunAsNobody([&]() -> int {
    ::close(pipe_fds[0]);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    const rlimit none{0, 0};
    if (::setrlimit(RLIMIT_MEMLOCK, &none) != 0) return 10;
    const uint64_t before = SecretMemoryLockFailures();
    SecretBytes big(128 * 1024);
    SecretBytes bigger(256 * 1024);
    big.mutable_span()[0] = 1;  // still usable
    if (SecretMemoryLockFailures() < before + 2) return 11;
    return 0;
  });
  ::close(pipe_fds[1]);
  std::string err;
  char buf[1024];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  ASSERT_EQ(rc, 0) << err;
  size_t warnings = 0;
  for (size_t at = err.find("cannot lock key memory"); at != std::string::npos;
       at = err.find("cannot lock key memory", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << err;
  EXPECT_NE(err.find("keys may be written to swap"), std::string::npos) << err;
  EXPECT_NE(err.find("RLIMIT_MEMLOCK is 0 bytes"), std::string::npos) << err;
}

TEST(SecretBytesTest, LockingSucceedsWhereItIsAllowed) {
  const uint64_t before = SecretMemoryLockFailures();
  SecretBytes s(128 * 1024);
  if (::geteuid() == 0) {
    EXPECT_EQ(SecretMemoryLockFailures(), before);
  }
}

}  // namespace
}  // namespace kmsfs
