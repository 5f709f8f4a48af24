// The kmsfs binary's handling of credentials, seen from outside: what
// /proc shows of a running mount, what it refuses on the command line, the
// credentials file, plain HTTP to remote hosts, and core dumps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::string out;
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// A TCP port that accepts connections and never answers: a KMS that hangs.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    for (int c : accepted_) ::close(c);
    if (fd_ >= 0) ::close(fd_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Waits up to 20 s for a client to connect.
  bool AwaitConnection() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20000) != 1) return false;
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    accepted_.push_back(c);
    return true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> accepted_;
};

// Starts build/kmsfs with `args` in the background (stdout/stderr to /dev/null).
pid_t SpawnKmsfs(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  std::vector<std::string> store = {BuildDir() + "/kmsfs"};
  store.insert(store.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int null_fd = ::open("/dev/null", O_RDWR);
  ::dup2(null_fd, 0);
  ::dup2(null_fd, 1);
  ::dup2(null_fd, 2);
  for (const auto& [k, v] : env) {
    if (v.empty()) {
      ::unsetenv(k.c_str());
    } else {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
  std::vector<char*> argv;
  for (std::string& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

class CliSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
    alice_ = DefaultTestUsers()[0];
  }
  std::map<std::string, std::string> NoCredentials() const {
    return {{"KMSFS_KMS_ENDPOINT", ""}, {"OS_PROJECT_ID", ""},       {"OS_AUTH_TOKEN", ""},
            {"OS_AUTH_URL", ""},        {"OS_USERNAME", ""},         {"OS_PASSWORD", ""},
            {"OS_USER_DOMAIN_NAME", ""}, {"KMSFS_CREDENTIALS", ""}};
  }
  std::string WriteCredentials(const std::string& content, mode_t mode) {
    const std::string path = dir_.Join("creds-" + std::to_string(files_++));
    WriteFileOrDie(path, content);
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string AliceCredentials() const {
    return "KMSFS_KMS_ENDPOINT=" + kmsd_->endpoint() + "\nOS_PROJECT_ID=" + alice_.project_id +
           "\nOS_AUTH_URL=" + kmsd_->endpoint() + "/v3\nOS_USERNAME=" + alice_.name +
           "\nOS_PASSWORD=" + alice_.password + "\nOS_USER_DOMAIN_NAME=" + alice_.domain + "\n";
  }

  std::unique_ptr<KmsdProcess> kmsd_;
  KmsdUser alice_;
  TempDir dir_;
  int files_ = 0;
};

TEST_F(CliSecurityTest, MountDaemonStartedWithTokenHasNoTokenInItsCommandLine) {
  KMSFS_REQUIRE_FUSE();
  const std::string token = kmsd_->Login(alice_);
  ASSERT_GT(token.size(), 16u);
  MountedVolume::Options opts;
  opts.kmsd = kmsd_.get();
  opts.user = alice_;
  opts.mount = false;
  auto volume = MountedVolume::Start(opts);
  ASSERT_NE(volume, nullptr);
  // The flag's token outranks the password login of the volume's environment.
  CommandResult r = volume->Mount({"--token", token});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const pid_t daemon = volume->DaemonPid();
  ASSERT_GT(daemon, 0);
  const std::string cmdline = ReadProcFile(daemon, "cmdline");
  EXPECT_NE(cmdline.find("mount"), std::string::npos);
  EXPECT_NE(cmdline.find("--token"), std::string::npos);
  EXPECT_EQ(cmdline.find(token), std::string::npos) << "the token is readable in /proc/" << daemon << "/cmdline";
  EXPECT_EQ(cmdline.find(token.substr(0, 12)), std::string::npos);
  // The mount works with it.
  WriteFileOrDie(volume->Path("f"), "hello");
  EXPECT_EQ(ReadFileOrDie(volume->Path("f")), "hello");
  EXPECT_TRUE(volume->Unmount());
}

TEST_F(CliSecurityTest, TokenFlagAloneConnects) {
  std::map<std::string, std::string> env = NoCredentials();
  env["KMSFS_KMS_ENDPOINT"] = kmsd_->endpoint();
  env["OS_PROJECT_ID"] = alice_.project_id;
  CommandResult r = RunKmsfs({"key", "list", "--token", kmsd_->Login(alice_)}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliSecurityTest, PasswordOnTheCommandLineIsRefused) {
  CommandResult r = RunKmsfs({"key", "list", "--password", "hunter2"}, KmsEnv(*kmsd_, alice_));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("never taken from the command line"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliSecurityTest, CredentialsFileAloneConnects) {
  const std::string path = WriteCredentials(AliceCredentials(), 0600);
  CommandResult r = RunKmsfs({"key", "create", "--alias", "from-file", "--credentials", path}, NoCredentials());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::string> env = NoCredentials();
  env["KMSFS_CREDENTIALS"] = path;
  r = RunKmsfs({"key", "list"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("from-file"), std::string::npos) << r.out;
}

TEST_F(CliSecurityTest, CredentialsFileOthersCanReadIsRefused) {
  const std::string path = WriteCredentials(AliceCredentials(), 0644);
  CommandResult r = RunKmsfs({"key", "list", "--credentials", path}, NoCredentials());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mode 0644"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(alice_.password), std::string::npos);
}

TEST_F(CliSecurityTest, CredentialsFileOutranksTheEnvironmentAndFlagsOutrankTheFile) {
  // The environment names a KMS that does not answer; the file names kmsd.
  SilentListener silent;
  std::map<std::string, std::string> env = NoCredentials();
  env["KMSFS_KMS_ENDPOINT"] = silent.endpoint();
  const std::string path = WriteCredentials(AliceCredentials(), 0600);
  CommandResult r = RunKmsfs({"key", "list", "--credentials", path}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A flag outranks the file: now the endpoint is a closed port.
  r = RunKmsfs({"key", "list", "--credentials", path, "--kms-endpoint", "http://127.0.0.1:1"}, env);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
}

TEST_F(CliSecurityTest, PlainHttpToARemoteKmsIsRefusedBeforeAnythingIsSent) {
  std::map<std::string, std::string> env = KmsEnv(*kmsd_, alice_);
  CommandResult r = RunKmsfs({"key", "list", "--kms-endpoint", "http://kms.example.invalid:8765"}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not loopback"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("https://"), std::string::npos) << r.err;
  env["OS_AUTH_URL"] = "http://iam.example.invalid/v3";
  r = RunKmsfs({"key", "list"}, env);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("IAM auth URL"), std::string::npos) << r.err;
}

TEST_F(CliSecurityTest, EveryCommandThatHandlesKeysTurnsCoreDumpsOffBeforeConnecting) {
  // The children inherit a core size limit that allows dumps (this process's
  // own limit is put back when the test ends).
  rlimit core{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &core), 0);
  struct Restore {
    rlimit saved;
    ~Restore() { ::setrlimit(RLIMIT_CORE, &saved); }
  } restore{core};
  core.rlim_cur = core.rlim_max;
  if (core.rlim_cur == 0) {
    core.rlim_cur = core.rlim_max = 1 << 20;  // raising the hard limit needs root
  }
  ASSERT_EQ(::setrlimit(RLIMIT_CORE, &core), 0) << "cannot allow core dumps for the test";

  MountedVolume::Options opts;
  opts.kmsd = kmsd_.get();
  opts.user = alice_;
  opts.mount = false;
  auto volume = MountedVolume::Start(opts);
  ASSERT_NE(volume, nullptr);
  TempDir scratch;
  const std::string empty_dir = scratch.Join("empty");
  ASSERT_EQ(::mkdir(empty_dir.c_str(), 0700), 0);

  const std::vector<std::vector<std::string>> commands = {
      {"key", "list"},
      {"init", empty_dir, "--key", volume->key_id()},
      {"fsck", volume->backing_dir()},
      {"rewrap", volume->backing_dir(), "--to-key", volume->key_id()},
      {"grant", "list", volume->backing_dir()},
  };
  for (const std::vector<std::string>& command : commands) {
    SilentListener silent;
    std::map<std::string, std::string> env = KmsEnv(*kmsd_, alice_);
    env["OS_AUTH_URL"] = silent.endpoint() + "/v3";
    env["KMSFS_KMS_ENDPOINT"] = silent.endpoint();
    const pid_t pid = SpawnKmsfs(command, env);
    ASSERT_GT(pid, 0);
    const bool connected = silent.AwaitConnection();
    const std::string limits = ReadProcFile(pid, "limits");
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ASSERT_TRUE(connected) << command[0] << " never reached the KMS";
    const size_t at = limits.find("Max core file size");
    ASSERT_NE(at, std::string::npos) << limits;
    const std::string line = limits.substr(at, limits.find('\n', at) - at);
    EXPECT_NE(line.find(" 0 "), std::string::npos) << command[0] << ": " << line;
    EXPECT_EQ(line.find("unlimited"), std::string::npos) << command[0] << ": " << line;
  }
}

// A .kmsfs.json written by someone else, with terminal controls (ESC,
// OSC, C1 CSI, a right-to-left override) in a field name the error echoes:
// every command that reads it says so without passing them to the terminal.
TEST_F(CliSecurityTest, TerminalControlsInAHostileConfigNeverReachTheTerminal) {
  const std::string dir = dir_.Join("hostile");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  WriteFileOrDie(dir + "/.kmsfs.json",
                 "{\"format\":\"kmsfs\",\"version\":2,"
                 "\"\\u001b]0;PWNED\\u0007\\u001b[31mred\\u009b2J\\u202e\":1}");
  const std::vector<std::vector<std::string>> commands = {
      {"fsck", dir},
      {"rewrap", dir, "--to-key", "0d0466b0-e727-4d9c-b35d-f84bb474a37f"},
      {"grant", "list", dir},
  };
  for (const std::vector<std::string>& command : commands) {
    CommandResult r = RunKmsfs(command, KmsEnv(*kmsd_, alice_));
    EXPECT_NE(r.exit_code, 0) << command[0];
    const std::string all = r.out + r.err;
    EXPECT_NE(all.find("PWNED"), std::string::npos) << command[0] << " does not say what is wrong: " << all;
    EXPECT_EQ(all.find('\x1b'), std::string::npos) << command[0] << ": " << all;
    EXPECT_EQ(all.find('\x07'), std::string::npos) << command[0] << ": " << all;
    EXPECT_EQ(all.find("\xc2\x9b"), std::string::npos) << command[0] << ": " << all;
    EXPECT_EQ(all.find("\xe2\x80\xae"), std::string::npos) << command[0] << ": " << all;
  }
}

}  // namespace
}  // namespace kmsfs::testing
