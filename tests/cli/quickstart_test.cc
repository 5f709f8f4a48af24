// scripts/quickstart.sh talks only to the kmsd it started: a stranger on its
// port gets no credentials, and its own kmsd is found again on the next run.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

const std::string kQuickstart = std::string(KMSFS_SOURCE_DIR) + "/scripts/quickstart.sh";

CommandResult RunQuickstart(const std::string& home, int port) {
  return RunCommand({"/bin/bash", kQuickstart},
                    {{"KMSFS_HOME", home}, {"KMSFS_PORT", std::to_string(port)}, {"KMSFS_BUILD_DIR", BuildDir()}},
                    120);
}

// A loopback port nobody listens on right now.
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Waits up to 10 s for `pid` to be gone.
bool WaitGone(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (::kill(pid, 0) == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(QuickstartTest, RefusesAStrangerOnItsPort) {
  auto stranger = KmsdProcess::Start({});
  ASSERT_NE(stranger, nullptr);
  TempDir home;
  CommandResult r = RunQuickstart(home.path(), stranger->port());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("something else listens on port " + std::to_string(stranger->port())), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Not sending it any credentials"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("created key"), std::string::npos) << r.out;
  // A pid file naming the stranger does not make it ours: it serves another data directory.
  WriteFileOrDie(home.Join("kmsd.pid"), std::to_string(stranger->pid()) + "\n");
  r = RunQuickstart(home.path(), stranger->port());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not the kmsd this quickstart started"), std::string::npos) << r.err;
}

TEST(QuickstartTest, StartsItsOwnKmsdAndFindsItAgain) {
  KMSFS_REQUIRE_FUSE();
  TempDir home;
  const int port = FreePort();
  CommandResult first = RunQuickstart(home.path(), port);
  const std::string pid_text = TrimTrailing(ReadFile(home.Join("kmsd.pid")));
  const pid_t kmsd = pid_text.empty() ? -1 : std::stoi(pid_text);
  CommandResult second = RunQuickstart(home.path(), port);
  // Clean up before judging: unmount, stop the quickstart's kmsd.
  RunCommand({"/bin/fusermount3", "-u", home.Join("mnt")});
  if (kmsd > 0) {
    ::kill(kmsd, SIGTERM);
    EXPECT_TRUE(WaitGone(kmsd));
  }
  EXPECT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("starting kmsd"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("kmsfs is mounted"), std::string::npos) << first.out;
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("kmsd (pid " + pid_text + ") already serves"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("already mounted"), std::string::npos) << second.out;
}

}  // namespace
}  // namespace kmsfs::testing
