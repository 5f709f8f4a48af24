// NameThisThread: the name the kernel shows for the thread, cut to 15 characters.
#include "base/thread_name.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace kmsfs {
namespace {

std::string NameOf(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

std::string NameGivenInAThread(const char* name) {
  std::string seen;
  std::thread t([&] {
    NameThisThread(name);
    seen = NameOf(static_cast<pid_t>(syscall(SYS_gettid)));
  });
  t.join();
  return seen;
}

TEST(ThreadNameTest, TheKernelShowsTheName) { EXPECT_EQ(NameGivenInAThread("kmsfs-dek-pool"), "kmsfs-dek-pool"); }

TEST(ThreadNameTest, ALongNameIsCutToFifteenCharacters) {
  EXPECT_EQ(NameGivenInAThread("kmsfs-a-name-far-too-long"), "kmsfs-a-name-fa");
}

}  // namespace
}  // namespace kmsfs
