// kmsfs status MOUNTPOINT and kmsfs umount MOUNTPOINT.
#include <sys/mount.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "fs/cli/commands.h"
#include "fs/cli/exit_codes.h"
#include "fs/fuse/lowlevel_fs.h"

namespace kmsfs::cli {

int StatusCommand(const Words& words) {
  if (words.size() != 1) return Fail(kExitUsage, "usage: kmsfs status MOUNTPOINT");
  const std::string& mp = words[0];
  std::string buf(64 * 1024, '\0');
  ssize_t n = getxattr(mp.c_str(), fuse::kStatusXattrName, buf.data(), buf.size());
  if (n < 0) {
    if (errno == ENOENT) return Fail(kExitUsage, mp + " does not exist");
    return Fail(kExitUsage, mp + " is not a kmsfs mount (" + std::strerror(errno) + ")");
  }
  buf.resize(static_cast<size_t>(n));
  nlohmann::json j = nlohmann::json::parse(buf, nullptr, false);
  if (j.is_discarded()) return Fail(kExitFailure, "the mount at " + mp + " answered with unreadable status");
  auto u = [&](const char* a, const char* b) { return j.value(a, nlohmann::json::object()).value(b, 0ULL); };
  std::printf("mount:       %s\n", mp.c_str());
  std::printf("backing:     %s\n", j.value("backing_dir", "").c_str());
  std::printf("key:         %s\n", j.value("key_id", "").c_str());
  std::printf("mode:        %s\n", j.value("read_only", false) ? "read-only" : "read-write");
  std::printf("cache:       entries %llu, hits %llu, misses %llu, evictions %llu, loads %llu, load errors %llu\n",
              u("cache", "entries"), u("cache", "hits"), u("cache", "misses"), u("cache", "evictions"),
              u("cache", "loads"), u("cache", "load_errors"));
  std::printf("kms:         calls %llu, errors %llu\n", u("kms", "calls"), u("kms", "errors"));
  std::printf("pool:        ready %llu, taken %llu, direct %llu, wrap errors %llu\n", u("pool", "ready"),
              u("pool", "taken"), u("pool", "direct"), u("pool", "wrap_errors"));
  std::printf("prefetch:    loaded %llu, already cached %llu, skipped %llu, failed %llu, dropped %llu, pending %llu\n",
              u("prefetch", "loaded"), u("prefetch", "skipped_cached"), u("prefetch", "skipped"),
              u("prefetch", "failed"), u("prefetch", "dropped"),
              u("prefetch", "pending") + u("prefetch", "in_flight"));
  std::printf("readahead:   files %llu, dropped %llu\n", u("readahead", "files"), u("readahead", "dropped"));
  std::printf("unlinks:     deferred %llu, failed %llu\n", u("unlinks", "deferred"), u("unlinks", "failed"));
  std::printf("new files:   made ahead %llu, used %llu, dropped %llu\n", u("ready_files", "made"),
              u("ready_files", "used"), u("ready_files", "dropped"));
  std::printf("headers:     remembered %llu, reused %llu\n", u("headers", "entries"), u("headers", "hits"));
  std::printf("open files:  %llu\n", static_cast<unsigned long long>(j.value("open_files", 0ULL)));
  return kExitOk;
}

int UmountCommand(const Words& words) {
  if (words.size() != 1) return Fail(kExitUsage, "usage: kmsfs umount MOUNTPOINT");
  const std::string& mp = words[0];
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", mp.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int wstatus = 0;
  if (pid > 0) waitpid(pid, &wstatus, 0);
  if (pid > 0 && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return kExitOk;
  // Without fusermount3 (or when it refuses), root can unmount directly.
  if (geteuid() == 0 && umount2(mp.c_str(), 0) == 0) return kExitOk;
  return Fail(kExitFailure, "cannot unmount " + mp + ": " + std::strerror(errno) +
                                " (is it mounted, and is no process using it?)");
}

}  // namespace kmsfs::cli
