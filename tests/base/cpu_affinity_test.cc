// cpu_affinity: flag values, pinning, and background threads kept on their CPU.
#include "base/cpu_affinity.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace kmsfs {
namespace {

std::string NameOfThisThread() {
  std::ifstream in("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// Runs `body` on a new thread and returns the CPUs that thread may use after it.
template <typename F>
std::vector<int> CpusAfter(F body) {
  std::vector<int> cpus;
  std::thread t([&] {
    body();
    cpus = AllowedCpus();
  });
  t.join();
  return cpus;
}

TEST(CpuAffinityTest, ChoicesFromFlagValues) {
  const std::vector<int> allowed = AllowedCpus();
  ASSERT_FALSE(allowed.empty());
  auto last = ParseCpuChoice("--x", "last");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, allowed.size() > 1 ? std::optional<int>(allowed.back()) : std::nullopt);
  auto none = ParseCpuChoice("--x", "none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::nullopt);
  auto first = ParseCpuChoice("--x", std::to_string(allowed.front()));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, allowed.front());
}

TEST(CpuAffinityTest, BadChoicesNameTheFlagAndTheCpusAllowed) {
  const std::vector<int> allowed = AllowedCpus();
  const std::vector<std::string> bads = {"", "first", "-1", "1.5", "0x1", " 0", std::to_string(CPU_SETSIZE), "99999999999"};
  for (const std::string& bad : bads) {
    auto c = ParseCpuChoice("--background-cpu", bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("--background-cpu"), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find(std::to_string(allowed.back())), std::string::npos) << c.status().message();
  }
}

TEST(CpuAffinityTest, APinnedThreadAndTheThreadsItStartsKeepToTheCpu) {
  const int cpu = AllowedCpus().back();
  std::vector<int> child_cpus;
  const std::vector<int> cpus = CpusAfter([&] {
    ASSERT_TRUE(PinThisThreadTo(cpu).ok());
    std::thread child([&] { child_cpus = AllowedCpus(); });
    child.join();
  });
  EXPECT_EQ(cpus, std::vector<int>{cpu});
  EXPECT_EQ(child_cpus, std::vector<int>{cpu});
  EXPECT_EQ(PinThisThreadTo(-1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PinThisThreadTo(CPU_SETSIZE).code(), StatusCode::kInvalidArgument);
}

TEST(CpuAffinityTest, BackgroundThreadsGoToTheBackgroundCpuOnlyWhenOneIsSet) {
  const std::vector<int> allowed = AllowedCpus();
  std::string name;
  SetBackgroundCpu(std::nullopt);
  EXPECT_EQ(BackgroundCpu(), std::nullopt);
  EXPECT_EQ(CpusAfter([&] {
              BecomeBackgroundThread("kmsfs-test-bg");
              name = NameOfThisThread();
            }),
            allowed);
  EXPECT_EQ(name, "kmsfs-test-bg");

  SetBackgroundCpu(allowed.back());
  EXPECT_EQ(BackgroundCpu(), allowed.back());
  EXPECT_EQ(CpusAfter([] { BecomeBackgroundThread("kmsfs-test-bg"); }), std::vector<int>{allowed.back()});
  SetBackgroundCpu(std::nullopt);
  // This thread was never a background thread: it keeps every CPU.
  EXPECT_EQ(AllowedCpus(), allowed);
}

}  // namespace
}  // namespace kmsfs
