// kmsfs mount BACKING_DIR MOUNTPOINT: proves access through the canary, then
// serves the volume through FUSE. Without -f the work happens in a detached
// child, and the command exits 0 only once the mount answers.
#include <fcntl.h>
#include <limits.h>
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

#include "fs/base/cpu_affinity.h"
#include "fs/base/logging.h"
#include "fs/base/secret_bytes.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/core/volume.h"
#include "fs/crypto/aes_gcm_backend.h"
#include "fs/fuse/fuse_fs.h"
#include "fs/fuse/session.h"

namespace kmsfs::cli {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

struct MountPlan {
  std::string backing_dir;  // absolute
  std::string mountpoint;   // absolute
  format::VolumeConfig config;
  std::vector<std::string> fuse_opts;
  bool explicit_ro = false;
  bool explicit_rw = false;
  bool shared_storage = false;
  long long cache_ttl = 300;
  long long cache_max = 16384;
  long long pool_size = 256;
  long long prefetch = 16;
  long long readahead = 32;
  long long unlink_queue = 1024;
  long long ready_files = 8;
  long long spin_us = 20;
  std::optional<int> background_cpu;  // --background-cpu; none: anywhere
  std::string log_file;
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
      std::fprintf(code == 0 ? stdout : stderr, "kmsfs: %s\n", message.c_str());
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

// Redirects the daemon's stdio once the parent has its answer.
void Detach(const std::string& log_file) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
  }
  int log_fd = log_file.empty() ? -1 : open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
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
  SetBackgroundCpu(plan.background_cpu);
  // Modes arrive from the kernel with the caller's umask already applied;
  // the daemon's own umask must not mask them again.
  umask(0);
  auto kms_or = ConnectKms(args, plan.config.project_id);
  if (!kms_or.ok()) {
    reporter.Report(ExitCodeFor(kms_or.status()), "KMS connection: " + kms_or.status().message());
    return ExitCodeFor(kms_or.status());
  }
  std::shared_ptr<kms::Client> kms = std::move(kms_or).value();
  const std::string& key_id = plan.config.key_id;

  // Read access: unwrap the canary.
  auto canary = kms->DecryptDataKey(key_id, plan.config.canary_wrapped_dek, core::kDekSize,
                                    core::FileContext(plan.config.canary_file_id));
  if (!canary.ok()) {
    const Status& s = canary.status();
    int code = ExitCodeFor(s);
    std::string msg;
    if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kUnauthenticated) {
      code = kExitFailure;
      msg = "mount refused: " + AccessDeniedMessage(*kms, "decrypt-datakey", key_id, s) +
            ". The key's owner can grant access with 'kmsfs grant create " + plan.backing_dir +
            " --grantee USER_ID --access read'";
    } else if (s.code() == StatusCode::kUnavailable) {
      msg = "mount failed: cannot reach the KMS: " + s.message();
    } else {
      msg = "mount failed: cannot unwrap the volume's canary key with " + key_id + ": " + s.ToString();
    }
    reporter.Report(code, msg);
    return code;
  }

  // Write access: wrap a key as a new file would.
  bool read_only = plan.explicit_ro;
  std::string note;
  if (!read_only) {
    auto wrapped = kms->EncryptDataKey(key_id, *canary, core::FileContext(plan.config.canary_file_id));
    if (!wrapped.ok()) {
      const Status& s = wrapped.status();
      if (s.code() != StatusCode::kPermissionDenied) {
        reporter.Report(ExitCodeFor(s), "mount failed: encrypt-datakey with " + key_id + ": " + s.ToString());
        return ExitCodeFor(s);
      }
      if (plan.explicit_rw) {
        reporter.Report(kExitFailure, "mount refused: " + AccessDeniedMessage(*kms, "encrypt-datakey", key_id, s) +
                                          ", so it cannot be mounted read-write; drop '-o rw' to mount it read-only");
        return kExitFailure;
      }
      read_only = true;
      note = " (read-only: " + AccessDeniedMessage(*kms, "encrypt-datakey", key_id, s) + ")";
    }
  }
  canary = Status::Internal("wiped");  // drop the canary key now

  std::vector<std::string> fuse_opts = plan.fuse_opts;
  if (read_only && !plan.explicit_ro) fuse_opts.push_back("ro");

  core::VolumeOptions vopts;
  vopts.cache.ttl = std::chrono::seconds(plan.cache_ttl);
  vopts.cache.max_entries = static_cast<size_t>(plan.cache_max);
  // Pooled DEKs are plaintext keys in memory too: they age out with the
  // cache TTL (so a revoked grant also stops new files within it), and a
  // mount that caches nothing keeps no pool either.
  vopts.pool.target = plan.cache_ttl == 0 ? 0 : static_cast<size_t>(plan.pool_size);
  vopts.pool.max_age = std::chrono::seconds(plan.cache_ttl);
  // Enough wraps in flight to keep up with file creation at a KMS round trip
  // of tens of milliseconds (128 in flight at 20 ms: 6 400 new files/s; a
  // local kmsd let 5 000 creates run at 5 400 files/s).
  vopts.pool.refill_concurrency = 128;
  // As many wraps in flight as a new file every 0.15 ms needs: 128 against a
  // KMS 19 ms or more away, one against a local kmsd that answers at once.
  vopts.pool.refill_interval = std::chrono::microseconds(150);
  // Against a KMS that keeps up one wrap at a time, a sleeping refill worker
  // is woken once an eighth of the pool has been taken, not at every new
  // file: the wake-up is paid on the creating thread. 5 000 creates, 21 runs
  // each, alternating: median 1.14 s waking at every take, 1.08 s with
  // batches of 16.
  vopts.pool.refill_batch = std::max<size_t>(1, vopts.pool.target / 8);
  vopts.read_only = read_only;
  // Listing a directory fetches its files' keys with this many KMS calls in
  // flight, so reading the files afterwards rarely waits for the KMS.
  vopts.prefetch_concurrency = static_cast<size_t>(plan.prefetch);
  // As many calls in flight as load a key every 50 µs at the KMS's latency
  // (2-3 against a local kmsd): a program reading a listed directory's files
  // waits for their keys, so prefetching must run ahead of it. Reading 5 000
  // files after a remount: 1.17-1.60 s at 300 µs (one call at a time, as for
  // the pool), 0.96-1.06 s at 50 µs; 25 and 10 µs were no faster. The pool
  // keeps to 300 µs: it refills a buffer, and more wraps in flight only took
  // CPU from the creates (1.00-1.26 s at 300 µs, 1.29-1.59 s at 50-100 µs).
  vopts.prefetch_interval = std::chrono::microseconds(50);
  vopts.readahead.files_ahead = static_cast<size_t>(plan.readahead);
  // Another client of shared storage would see an unlinked name a moment
  // longer: there, unlinks are done before they are answered.
  vopts.unlinks.max_pending = plan.shared_storage ? 0 : static_cast<size_t>(plan.unlink_queue);
  vopts.ready_files.per_directory = static_cast<size_t>(plan.ready_files);
  auto volume = core::Volume::Open(plan.backing_dir, plan.config, kms, vopts);
  if (!volume.ok()) {
    reporter.Report(ExitCodeFor(volume.status()), "mount failed: " + volume.status().message());
    return ExitCodeFor(volume.status());
  }

  fuse::FuseFsOptions fopts;
  if (plan.shared_storage) {
    fopts.entry_timeout = 0;
    fopts.attr_timeout = 0;
    fopts.auto_cache = false;
    fopts.writeback_cache = false;
  }
  fopts.set_owner = geteuid() == 0;
  fuse::FuseFs fs(volume->get(), fopts);

  fuse::SessionOptions sopts;
  sopts.mountpoint = plan.mountpoint;
  sopts.fsname = plan.backing_dir;
  sopts.mount_opts = fuse_opts;
  sopts.device_io.spin = std::chrono::microseconds(plan.spin_us);
  sopts.on_tick = [v = volume->get()] { v->Tick(); };
  sopts.on_mounted = [&](const Status& s) {
    if (!s.ok()) {
      reporter.Report(ExitCodeFor(s), "mount failed: " + s.message());
      return;
    }
    reporter.Report(kExitOk, "mounted " + plan.backing_dir + " on " + plan.mountpoint +
                                 (read_only ? " read-only" : " read-write") + note);
    if (daemon) Detach(plan.log_file);
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
  std::printf("kmsfs: %s\n", text.c_str());
  return kExitOk;
}

}  // namespace

int MountCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"-o", "--cache-ttl", "--cache-max", "--pool-size", "--prefetch",
                                          "--readahead", "--unlink-queue", "--ready-files", "--spin-us",
                                          "--background-cpu", "--log-file"},
                                  {"-f", "--foreground", "--shared-storage"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs mount BACKING_DIR MOUNTPOINT [-f] [-o OPTIONS]");

  MountPlan plan;
  auto backing = RealDir(args->positional()[0], "backing directory");
  if (!backing.ok()) return Fail(kExitUsage, backing.status().message());
  plan.backing_dir = *backing;
  auto mountpoint = RealDir(args->positional()[1], "mount point");
  if (!mountpoint.ok()) return Fail(kExitUsage, mountpoint.status().message());
  plan.mountpoint = *mountpoint;
  if (plan.mountpoint == plan.backing_dir) return Fail(kExitUsage, "the mount point must not be the backing directory");
  auto config = LoadBackingConfig(plan.backing_dir);
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  plan.config = std::move(config).value();

  for (const std::string& o : args->GetAll("-o")) {
    if (o == "ro") plan.explicit_ro = true;
    if (o == "rw") {
      plan.explicit_rw = true;
      continue;
    }
    plan.fuse_opts.push_back(o);
  }
  if (plan.explicit_ro && plan.explicit_rw) return Fail(kExitUsage, "-o ro and -o rw contradict each other");
  plan.shared_storage = args->Has("--shared-storage");
  auto ttl = args->GetInt("--cache-ttl", 300);
  auto max = args->GetInt("--cache-max", 16384);
  auto pool = args->GetInt("--pool-size", 256);
  auto prefetch = args->GetInt("--prefetch", 16);
  auto readahead = args->GetInt("--readahead", 32);
  auto unlink_queue = args->GetInt("--unlink-queue", 1024);
  auto ready_files = args->GetInt("--ready-files", 8);
  auto spin = args->GetInt("--spin-us", 20);
  for (const auto* v : {&ttl, &max, &pool, &prefetch, &readahead, &unlink_queue, &ready_files, &spin}) {
    if (!v->ok()) return Fail(kExitUsage, v->status().message());
  }
  // Upper bounds, each with what it guards.
  struct Bound {
    const char* flag;
    long long value;
    long long max;
    const char* too;
  };
  const Bound bounds[] = {
      {"--prefetch", *prefetch, 256, "many"},         // each worker: a thread and a KMS connection
      {"--readahead", *readahead, 1024, "many"},      // each file: an open and up to 128 KiB of page cache
      {"--unlink-queue", *unlink_queue, 65536, "many"},  // each waiting unlink: a path in memory
      {"--ready-files", *ready_files, 64, "many"},    // each: an fd and a locked DEK, in up to 16 directories
      {"--spin-us", *spin, 10000, "long"},            // polling past a scheduler tick only burns a core
  };
  for (const Bound& b : bounds) {
    if (b.value > b.max) {
      return Fail(kExitUsage, std::string(b.flag) + " " + std::to_string(b.value) + " is too " + b.too +
                                  " (at most " + std::to_string(b.max) + ")");
    }
  }
  plan.cache_ttl = *ttl;
  plan.cache_max = *max;
  plan.pool_size = *pool;
  plan.prefetch = *prefetch;
  plan.readahead = *readahead;
  plan.unlink_queue = *unlink_queue;
  plan.ready_files = *ready_files;
  plan.spin_us = *spin;
  auto background_cpu = ParseCpuChoice("--background-cpu", args->Get("--background-cpu").value_or("last"));
  if (!background_cpu.ok()) return Fail(kExitUsage, background_cpu.status().message());
  plan.background_cpu = *background_cpu;
  plan.log_file = args->Get("--log-file").value_or("");

  if (args->Has("-f") || args->Has("--foreground")) {
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
