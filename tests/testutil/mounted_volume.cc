#include "tests/testutil/mounted_volume.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace kmsfs::testing {
namespace {

// Whether `pid` is gone (or a zombie) within 10 s.
bool WaitForExit(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
  while (std::chrono::steady_clock::now() < deadline) {
    // read(2), not a stream: libstdc++'s filebuf throws when the process
    // exits during the read (ESRCH).
    const int fd = open(stat_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char buf[1024];
    const ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0) return true;
    const std::string stat(buf, static_cast<size_t>(n));
    const size_t after_name = stat.rfind(')');
    if (after_name == std::string::npos || stat.compare(after_name, 3, ") Z") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::map<std::string, std::string> KmsEnv(const KmsdProcess& kmsd, const KmsdUser& user) {
  return {
      {"KMSFS_KMS_ENDPOINT", kmsd.endpoint()},
      {"OS_PROJECT_ID", user.project_id},
      {"OS_AUTH_URL", kmsd.endpoint() + "/v3"},
      {"OS_USERNAME", user.name},
      {"OS_PASSWORD", user.password},
      {"OS_USER_DOMAIN_NAME", user.domain},
      {"OS_AUTH_TOKEN", ""},  // unset: password login
      // Each user of each test kmsd keeps its own key pins, as each user of
      // a machine does.
      {"KMSFS_PINS_FILE", kmsd.data_dir() + "/pins-" + user.name + ".json"},
  };
}

CommandResult RunKmsfs(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                       int timeout_sec) {
  std::vector<std::string> argv = {BuildDir() + "/kmsfs"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, env, timeout_sec);
}

std::unique_ptr<MountedVolume> MountedVolume::Start(Options options) {
  if (options.kmsd == nullptr) {
    ADD_FAILURE() << "MountedVolume needs a kmsd";
    return nullptr;
  }
  if (options.user.name.empty()) options.user = DefaultTestUsers()[0];
  std::unique_ptr<MountedVolume> v(new MountedVolume(options));
  v->mountpoint_ = v->dir_.Join("mnt");
  v->log_file_ = v->dir_.Join("kmsfs.log");
  mkdir(v->mountpoint_.c_str(), 0755);
  const auto env = v->Env();

  v->key_id_ = options.key_id;
  if (v->key_id_.empty()) {
    CommandResult r = RunKmsfs({"key", "create"}, env);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "kmsfs key create failed: " << r.err;
      return nullptr;
    }
    v->key_id_ = Trim(r.out);
  }
  v->backing_dir_ = options.backing_dir;
  if (v->backing_dir_.empty()) {
    v->backing_dir_ = v->dir_.Join("backing");
    std::vector<std::string> args = {"init", v->backing_dir_, "--key", v->key_id_};
    args.insert(args.end(), options.init_args.begin(), options.init_args.end());
    CommandResult r = RunKmsfs(args, env);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "kmsfs init failed: " << r.err;
      return nullptr;
    }
  }
  if (options.mount) {
    CommandResult r = v->Mount();
    if (r.exit_code != 0) {
      ADD_FAILURE() << "kmsfs mount failed (" << r.exit_code << "): " << r.err << "\nlog:\n" << v->ReadLog();
      return nullptr;
    }
  }
  return v;
}

CommandResult MountedVolume::Mount(const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"mount", backing_dir_, mountpoint_, "--log-file", log_file_};
  args.insert(args.end(), options_.mount_args.begin(), options_.mount_args.end());
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  CommandResult r = RunKmsfs(args, Env());
  if (r.exit_code == 0) mounted_ = true;
  return r;
}

bool MountedVolume::Unmount() {
  if (!mounted_) return true;
  const pid_t daemon = DaemonPid();
  CommandResult r = RunCommand({"/bin/fusermount3", "-u", mountpoint_});
  if (r.exit_code != 0) {
    // Busy (a test failed with files open): detach lazily so nothing leaks.
    RunCommand({"/bin/fusermount3", "-u", "-z", mountpoint_});
    mounted_ = false;
    return false;
  }
  mounted_ = false;
  // fusermount returns once the kernel has detached the mount; the daemon
  // may still be handling releases and holding backing files open. Tests
  // that go on to use the backing directory need it gone.
  if (daemon > 0 && !WaitForExit(daemon)) {
    ADD_FAILURE() << "the daemon (pid " << daemon << ") still runs 10 s after the unmount";
    return false;
  }
  return true;
}

bool MountedVolume::WaitForReleases() const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Status().value("open_files", 1ULL) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "files still open in the daemon 10 s after they were closed";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

MountedVolume::~MountedVolume() { Unmount(); }

pid_t MountedVolume::DaemonPid() const {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // With read(2), not a stream: a process that exits meanwhile makes the
    // read fail with ESRCH, which libstdc++'s filebuf throws as an exception.
    std::string cmdline;
    const int fd = open((entry.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) cmdline.append(buf, static_cast<size_t>(n));
    close(fd);
    std::vector<std::string> argv;
    for (size_t start = 0; start < cmdline.size();) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      argv.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (argv.size() >= 4 && argv[1] == "mount" && argv[3] == mountpoint_) return static_cast<pid_t>(std::stoi(name));
  }
  return -1;
}

void MountedVolume::KillDaemon() {
  pid_t pid = DaemonPid();
  if (pid > 0) kill(pid, SIGKILL);
  for (int i = 0; i < 200 && pid > 0 && kill(pid, 0) == 0; ++i) usleep(10 * 1000);
  RunCommand({"/bin/fusermount3", "-u", "-z", mountpoint_});
  mounted_ = false;
}

std::string MountedVolume::ReadLog() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json MountedVolume::Status() const {
  std::string buf(64 * 1024, '\0');
  ssize_t n = getxattr(mountpoint_.c_str(), "user.kmsfs.status", buf.data(), buf.size());
  if (n < 0) {
    ADD_FAILURE() << "status xattr: " << std::strerror(errno);
    return nlohmann::json::object();
  }
  buf.resize(static_cast<size_t>(n));
  return nlohmann::json::parse(buf);
}

}  // namespace kmsfs::testing
