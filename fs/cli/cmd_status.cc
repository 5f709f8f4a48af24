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

#include "fs/cli/args.h"
#include "fs/cli/commands.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/output.h"
#include "fs/fuse/lowlevel_fs.h"

namespace kmsfs::cli {

namespace {

using Json = nlohmann::json;

std::string Count(const Json& j, const char* group, const char* name) {
  const Json g = j.value(group, Json::object());
  return std::to_string(g.is_object() ? g.value(name, 0ULL) : 0ULL);
}

// The status as people read it: one aligned "label: value" line each
// (fs/cli/output.h's Table, its header line the first of them), what the
// volume is first, then the counters. Scripts take --json; a label and the
// start of its value ("pool:  ready N") are kept as they were for the
// scripts that grep them.
std::string StatusTable(const std::string& mountpoint, const Json& j) {
  auto text = [&](const char* key) { return Printable(j.value(key, std::string())); };
  auto c = [&](const char* group, const char* name) { return Count(j, group, name); };
  Table t({"mount:", Printable(mountpoint)});
  t.AddRow({"backing:", text("backing_dir")});
  t.AddRow({"key in use:", text("key_id")});
  t.AddRow({"pinned key:", text("pinned_key_id")});
  t.AddRow({"volume id:", text("volume_id").empty() ? "none (format version 1)" : text("volume_id")});
  t.AddRow({"format version:", std::to_string(j.value("format_version", 0))});
  t.AddRow({"names:", text("names") == "encrypted" ? "encrypted" : "not encrypted (" + text("names") + ")"});
  t.AddRow({"headers:", text("header")});
  t.AddRow({"mode:", j.value("read_only", false) ? "read-only" : "read-write"});
  t.AddRow({"open files:", std::to_string(j.value("open_files", 0ULL))});
  t.AddRow({"cache:", "entries " + c("cache", "entries") + ", hits " + c("cache", "hits") + ", misses " +
                          c("cache", "misses") + ", evictions " + c("cache", "evictions") + ", loads " +
                          c("cache", "loads") + ", load errors " + c("cache", "load_errors")});
  t.AddRow({"kms:", "calls " + c("kms", "calls") + ", errors " + c("kms", "errors")});
  t.AddRow({"pool:", "ready " + c("pool", "ready") + ", taken " + c("pool", "taken") + ", direct " +
                         c("pool", "direct") + ", wrap errors " + c("pool", "wrap_errors")});
  const unsigned long long pending = std::stoull(c("prefetch", "pending")) + std::stoull(c("prefetch", "in_flight"));
  t.AddRow({"prefetch:", "loaded " + c("prefetch", "loaded") + ", already cached " + c("prefetch", "skipped_cached") +
                             ", skipped " + c("prefetch", "skipped") + ", failed " + c("prefetch", "failed") +
                             ", dropped " + c("prefetch", "dropped") + ", pending " + std::to_string(pending)});
  t.AddRow({"readahead:", "files " + c("readahead", "files") + ", dropped " + c("readahead", "dropped")});
  t.AddRow({"inodes:", "known " + c("inodes", "known") + ", made " + c("inodes", "made") + ", forgotten " +
                           c("inodes", "forgotten")});
  t.AddRow({"foreign headers:", std::to_string(j.value("foreign_headers", 0ULL))});
  return t.Render();
}

}  // namespace

int StatusCommand(const Words& words) {
  constexpr char kUsage[] = "usage: kmsfs status MOUNTPOINT [--json]";
  auto args = Args::Parse(words, {}, {"--json"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message() + " (" + kUsage + ")");
  if (args->positional().size() != 1) return Fail(kExitUsage, kUsage);
  const std::string& mp = args->positional()[0];
  std::string buf(64 * 1024, '\0');
  ssize_t n = getxattr(mp.c_str(), fuse::kStatusXattrName, buf.data(), buf.size());
  if (n < 0) {
    if (errno == ENOENT) return Fail(kExitUsage, mp + " does not exist");
    return Fail(kExitUsage, mp + " is not a kmsfs mount (" + std::strerror(errno) + ")");
  }
  buf.resize(static_cast<size_t>(n));
  Json j = Json::parse(buf, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(kExitFailure, "the mount at " + mp + " answered with unreadable status: is its daemon this version?");
  }
  if (args->Has("--json")) {
    Json out = {{"mountpoint", mp}};
    out.update(j);
    std::fputs(JsonText(out).c_str(), stdout);
  } else {
    std::fputs(StatusTable(mp, j).c_str(), stdout);
  }
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
