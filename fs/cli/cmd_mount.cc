// kmsfs mount BACKING_DIR MOUNTPOINT: proves access through the canary, then
// serves the volume through FUSE. Without -f the work happens in a detached
// child, and the command exits 0 only once the mount answers.
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "base/cpu_affinity.h"
#include "base/logging.h"
#include "base/secret_bytes.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/core/volume.h"
#include "fs/core/volume_access.h"
#include "crypto/aes_gcm_backend.h"
#include "fs/cli/mount_options.h"
#include "fs/cli/output.h"
#include "fs/fuse/lowlevel_fs.h"
#include "fs/fuse/session.h"

namespace kmsfs::cli {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

struct MountPlan {
  std::string backing_dir;  // absolute
  std::string mountpoint;   // absolute
  format::VolumeConfig config;
  MountOptions options;
};

// Where the serving process sends its one outcome: the waiting parent's pipe,
// or the terminal in foreground mode.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void Report(int code, const std::string& message) {
    if (reported_) return;
    reported_ = true;
    if (fd_ < 0) {
      std::fprintf(code == 0 ? stdout : stderr, "kmsfs: %s\n", Printable(message).c_str());
      std::fflush(nullptr);
      return;
    }
    std::string msg = std::to_string(code) + "\n" + message;
    (void)!write(fd_, msg.data(), msg.size());
    close(fd_);
    fd_ = -1;
  }
  bool reported() const { return reported_; }

 private:
  int fd_;
  bool reported_ = false;
};

StatusOr<std::string> RealDir(const std::string& path, const char* what) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    return Status::InvalidArgument(std::string(what) + " " + path + " does not exist");
  }
  struct stat st;
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument(std::string(what) + " " + path + " is not a directory");
  }
  return std::string(buf);
}

// A mount inside its own backing directory (or the backing directory inside
// the mount) would serve its own ciphertext to itself.
Status CheckMountpointOutsideBacking(const std::string& backing, const std::string& mountpoint) {
  auto inside = [](const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           (dir == "/" || path[dir.size()] == '/'));
  };
  if (inside(mountpoint, backing)) return Status::InvalidArgument("the mount point must not be inside the backing directory");
  if (inside(backing, mountpoint)) return Status::InvalidArgument("the backing directory must not be inside the mount point");
  return Status::Ok();
}

// Without default_permissions the kernel lets every local user of an
// allow_other mount do whatever the daemon (root) may: the permissions the
// files show must be checked, so allow_other always brings them.
void AddDefaultPermissionsToAllowOther(std::vector<std::string>& fuse_opts) {
  bool others = false, checked = false;
  for (const std::string& o : fuse_opts) {
    others = others || o == "allow_other";
    checked = checked || o == "default_permissions";
  }
  if (others && !checked) fuse_opts.push_back("default_permissions");
}

// Every node the kernel knows holds one descriptor: a large tree needs many.
// The soft limit goes to the hard one; a daemon allowed to (root) also lifts
// the hard limit it inherited to the system's ceiling (fs.nr_open, at most
// 1 Mi), since the kernel, not the caller's shell, decides how many nodes stay.
void RaiseOpenFileLimit() {
  constexpr rlim_t kCeiling = rlim_t{1} << 20;
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t nr_open = 0;
  if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "re")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1) nr_open = static_cast<rlim_t>(v);
    std::fclose(f);
  }
  const rlim_t wanted = std::min(nr_open, kCeiling);
  if (wanted > lim.rlim_max) {
    struct rlimit raised = {wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;  // not permitted: keep the soft raise below
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// The daemon (often root) appends to --log-file: it must be a regular file
// of the daemon's own user with a single link, reached without following a
// symlink, or another user could point it at a file of root's.
StatusOr<int> OpenLogFile(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (fd < 0) return Status::FromErrno(errno, "cannot open the log file " + path);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid()) {
    close(fd);
    return Status::InvalidArgument("the log file " + path +
                                   " must be a regular file of the mounting user with one link (not a link or a "
                                   "file of another user)");
  }
  return fd;
}

// Redirects the daemon's stdio once the parent has its answer.
void Detach(const std::string& log_file) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
  }
  int log_fd = -1;
  if (!log_file.empty()) {
    auto opened = OpenLogFile(log_file);
    if (opened.ok()) log_fd = *opened;
  }
  if (log_fd >= 0) {
    dup2(log_fd, STDERR_FILENO);
    close(log_fd);
  } else {
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    LogToSyslog("kmsfs");
  }
  if (null_fd > STDERR_FILENO) close(null_fd);
}

// Everything that happens in the process that will serve the mount.
int Serve(const MountPlan& plan, const Args& args, Reporter& reporter, bool daemon) {
  HardenProcessAgainstCoreDumps();
  // Before the volume starts its background threads (cpu_affinity.h).
  SetBackgroundCpu(plan.options.background_cpu);
  // Modes arrive from the kernel with the caller's umask already applied;
  // the daemon's own umask must not mask them again.
  umask(0);
  auto kms_or = ConnectKms(args, plan.config.project_id);
  if (!kms_or.ok()) {
    reporter.Report(ExitCodeFor(kms_or.status()), "KMS connection: " + kms_or.status().message());
    return ExitCodeFor(kms_or.status());
  }
  const core::Envelope envelope = core::Envelope::OverKms(std::move(kms_or).value());
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) {
    reporter.Report(kExitUsage, "mount failed: " + pins.status().message());
    return kExitUsage;
  }
  core::UnlockOptions unlock_options;
  unlock_options.probe_write = !plan.options.explicit_ro;
  if (!plan.options.accept_key.empty()) unlock_options.accept_key = plan.options.accept_key;
  auto unlocked = core::UnlockVolume(plan.backing_dir, envelope, *pins, unlock_options);
  if (!unlocked.ok()) {
    const Status& s = unlocked.status();
    int code = ExitCodeFor(s);
    std::string msg = "mount refused: " + s.message();
    if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kUnauthenticated) {
      code = kExitFailure;
      msg += ". The key's owner can grant access with 'kmsfs grant create " + plan.backing_dir +
             " --grantee USER_ID --access read'";
    } else if (s.code() == StatusCode::kUnavailable) {
      msg = "mount failed: " + s.message();
    }
    reporter.Report(code, msg);
    return code;
  }
  if (unlocked->newly_pinned) {
    std::fprintf(stderr, "kmsfs: first mount of %s here: pinned key %s for it in %s\n", plan.backing_dir.c_str(),
                 unlocked->pin.key_id.c_str(), pins->path().c_str());
  }
  if (unlocked->config.version < 2) {
    std::fprintf(stderr,
                 "kmsfs: %s is a version 1 volume: its .kmsfs.json is not authenticated and names are not "
                 "encrypted; 'kmsfs rewrap %s --to-key %s' upgrades it to version 2\n",
                 plan.backing_dir.c_str(), plan.backing_dir.c_str(), unlocked->config.key_id.c_str());
  }

  const core::MountRequest request = plan.options.explicit_ro   ? core::MountRequest::kReadOnly
                                     : plan.options.explicit_rw ? core::MountRequest::kReadWrite
                                                                : core::MountRequest::kEither;
  auto access = core::ChooseMountAccess(*unlocked, request);
  if (!access.ok()) {
    reporter.Report(kExitFailure, "mount refused: " + access.status().message());
    return kExitFailure;
  }
  const bool read_only = access->read_only;
  const std::string note =
      access->downgraded_because.empty() ? "" : " (read-only: " + access->downgraded_because + ")";

  std::vector<std::string> fuse_opts = plan.options.fuse_opts;
  if (read_only && !plan.options.explicit_ro) fuse_opts.push_back("ro");
  RaiseOpenFileLimit();

  const MountOptions& o = plan.options;
  core::VolumeOptions vopts;
  vopts.log_file = o.log_file;
  vopts.keys.cache.ttl = std::chrono::seconds(o.cache_ttl);
  vopts.keys.cache.max_entries = static_cast<size_t>(o.cache_max);
  // Pooled DEKs are plaintext keys in memory too: they age out with the
  // cache TTL (so a revoked grant also stops new files within it), and a
  // mount that caches nothing keeps no pool either.
  vopts.keys.pool.target = o.cache_ttl == 0 ? 0 : static_cast<size_t>(o.pool_size);
  vopts.keys.pool.max_age = std::chrono::seconds(o.cache_ttl);
  // Wraps in flight are sockets on the KMS executor, not threads: enough of
  // them keep up with file creation at a KMS round trip of tens of
  // milliseconds (128 at 20 ms: 6 400 new files/s). Refills start once a
  // quarter of the pool has been taken and wrap that quarter at once: against
  // a KMS that answers at once, one wake-up of the refill job, the executor
  // and the KMS per 64 new files instead of one per file
  // (docs/design/dek-pool.md).
  vopts.keys.pool.refill_concurrency = 128;
  vopts.keys.pool.refill_batch = std::max<size_t>(1, vopts.keys.pool.target / 4);
  vopts.keys.read_only = read_only;
  vopts.hints.prefetch.concurrency = static_cast<size_t>(o.prefetch);
  vopts.hints.readahead.files_ahead = static_cast<size_t>(o.readahead);
  vopts.tree.set_owner = geteuid() == 0;
  // Every background job of the mount (refills, header reads for prefetch,
  // readahead, the tick) runs on these; KMS calls wait on the KMS executor's
  // one thread, not here.
  vopts.work.threads = 4;
  auto volume = core::Volume::Open(std::move(unlocked).value(), envelope, vopts);
  if (!volume.ok()) {
    reporter.Report(ExitCodeFor(volume.status()), "mount failed: " + volume.status().message());
    return ExitCodeFor(volume.status());
  }

  fuse::LowLevelFsOptions fopts;
  if (o.shared_storage) {
    fopts.entry_timeout = 0;
    fopts.attr_timeout = 0;
    fopts.keep_cache = false;
    fopts.writeback_cache = false;
  }
  fuse::LowLevelFs fs(volume->get(), fopts);

  fuse::SessionOptions sopts;
  sopts.mountpoint = plan.mountpoint;
  sopts.fsname = plan.backing_dir;
  sopts.mount_opts = fuse_opts;
  sopts.on_mounted = [&](const Status& s) {
    if (!s.ok()) {
      reporter.Report(ExitCodeFor(s), "mount failed: " + s.message());
      return;
    }
    reporter.Report(kExitOk, "mounted " + plan.backing_dir + " on " + plan.mountpoint +
                                 (read_only ? " read-only" : " read-write") + note);
    if (daemon) Detach(plan.options.log_file);
    KMSFS_LOG(kInfo) << "serving " << plan.backing_dir << " on " << plan.mountpoint
                     << (read_only ? " (read-only)" : " (read-write)") << ", "
                     << crypto::CipherSuiteName(plan.config.suite) << " by "
                     << (plan.config.suite == crypto::CipherSuite::kAes256Gcm
                             ? crypto::AesGcmBackendDescription(crypto::PreferredAesGcmBackend())
                             : std::string("libsodium"));
  };
  Status s = fuse::ServeMount(&fs, sopts);
  if (!s.ok()) return ExitCodeFor(s);
  KMSFS_LOG(kInfo) << "unmounted " << plan.mountpoint;
  return kExitOk;
}

// Parent side of a daemonized mount: wait for the child's verdict, then check
// the mount answers before reporting success.
int AwaitDaemon(int read_fd, pid_t child, const MountPlan& plan) {
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(read_fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    msg.append(buf, static_cast<size_t>(n));
  }
  close(read_fd);
  size_t nl = msg.find('\n');
  if (nl == std::string::npos) {
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    return Fail(kExitFailure, "mount daemon exited before mounting (status " + std::to_string(wstatus) +
                                  "); run with -f to see why");
  }
  int code = std::atoi(msg.substr(0, nl).c_str());
  std::string text = msg.substr(nl + 1);
  if (code != 0) {
    waitpid(child, nullptr, 0);
    return Fail(code, text);
  }
  struct statfs sfs;
  if (statfs(plan.mountpoint.c_str(), &sfs) != 0 || sfs.f_type != kFuseSuperMagic) {
    return Fail(kExitFailure, "mount of " + plan.mountpoint + " did not answer after start-up");
  }
  std::printf("kmsfs: %s\n", Printable(text).c_str());
  return kExitOk;
}

}  // namespace

int MountCommand(const Words& words) {
  const std::vector<std::string> value_flags = MountValueFlags(), switches = MountSwitches();
  auto args = ParseKmsCommandArgs(words, {value_flags.begin(), value_flags.end()}, {switches.begin(), switches.end()});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs mount BACKING_DIR MOUNTPOINT [-f] [-o OPTIONS]");

  MountPlan plan;
  auto backing = RealDir(args->positional()[0], "backing directory");
  if (!backing.ok()) return Fail(kExitUsage, backing.status().message());
  plan.backing_dir = *backing;
  auto mountpoint = RealDir(args->positional()[1], "mount point");
  if (!mountpoint.ok()) return Fail(kExitUsage, mountpoint.status().message());
  plan.mountpoint = *mountpoint;
  auto config = LoadBackingConfig(plan.backing_dir);
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  plan.config = std::move(config).value();
  if (Status s = CheckMountpointOutsideBacking(plan.backing_dir, plan.mountpoint); !s.ok()) {
    return Fail(kExitUsage, s.message());
  }
  auto options = ParseMountOptions(*args);
  if (!options.ok()) return Fail(kExitUsage, options.status().message() + " (see kmsfs --help)");
  plan.options = std::move(options).value();
  AddDefaultPermissionsToAllowOther(plan.options.fuse_opts);
  if (!plan.options.log_file.empty()) {
    auto log = OpenLogFile(plan.options.log_file);
    if (!log.ok()) return Fail(kExitUsage, log.status().message());
    close(*log);
  }

  if (plan.options.foreground) {
    Reporter reporter(-1);
    return Serve(plan, *args, reporter, false);
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(kExitUsage, "pipe failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return Fail(kExitUsage, "fork failed");
  if (pid == 0) {
    close(fds[0]);
    setsid();
    if (chdir("/") != 0) {
      // Paths are absolute; staying in the old directory only pins it.
    }
    Reporter reporter(fds[1]);
    int rc = Serve(plan, *args, reporter, true);
    std::fflush(nullptr);
    _exit(rc);
  }
  close(fds[1]);
  return AwaitDaemon(fds[0], pid, plan);
}

}  // namespace kmsfs::cli
