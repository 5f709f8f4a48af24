// kmsfs doctor BACKING_DIR [MOUNTPOINT]: checks what usually goes wrong, in
// the order it goes wrong (the volume, its filesystem, the connection, the
// KMS and the credentials, the key, the user's rights on it, the mount) and
// prints a row for each with what to do about a failure. A check that needs
// an earlier one which failed is skipped, saying so.
// Exit 0 nothing failed (warnings allowed), 1 something failed, 2 usage.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "base/unique_fd.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/output.h"
#include "fs/core/pins.h"
#include "fs/core/volume_access.h"
#include "fs/format/volume_config.h"
#include "fs/fuse/lowlevel_fs.h"

namespace kmsfs::cli {
namespace {

class Report {
 public:
  void Ok(const std::string& check, const std::string& detail) { Add(check, "ok", detail); }
  void Warn(const std::string& check, const std::string& detail) { Add(check, "warning", detail); }
  void Fail(const std::string& check, const std::string& detail) {
    failed_ = true;
    Add(check, "FAILED", detail);
  }
  void Skip(const std::string& check, const std::string& why) { Add(check, "skipped", why); }
  bool failed() const { return failed_; }
  std::string Render() const { return table_.Render(); }

 private:
  void Add(const std::string& check, const char* result, const std::string& detail) {
    table_.AddRow({check, result, Printable(detail)});
  }
  Table table_{{"CHECK", "RESULT", "DETAIL / WHAT TO DO"}};
  bool failed_ = false;
};

struct FsSupport {
  bool tmpfile = false;
  bool user_xattrs = false;
  std::string error;  // the probe itself failed
};

// Probes `dir`'s filesystem with a nameless file where O_TMPFILE works (so
// nothing ever shows in the directory), else with a named one removed at once.
FsSupport ProbeFilesystem(const std::string& dir) {
  FsSupport s;
  UniqueFd fd(open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  s.tmpfile = fd.valid();
  std::string named;
  if (!fd.valid()) {
    named = dir + "/.kmsfs-doctor-probe." + std::to_string(getpid());
    fd = UniqueFd(open(named.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      s.error = std::string("cannot create a file there: ") + std::strerror(errno);
      return s;
    }
  }
  const char value[] = "probe";
  s.user_xattrs = fsetxattr(fd.get(), "user.kmsfs.probe", value, sizeof value, 0) == 0;
  if (!s.user_xattrs && errno != ENOTSUP) s.error = std::string("setting a user xattr failed: ") + std::strerror(errno);
  if (!named.empty()) unlink(named.c_str());
  return s;
}

std::string Fix(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnavailable:
      return ": check the endpoint, the network and TLS (a private CA needs --ca-file or KMSFS_CA_FILE)";
    case StatusCode::kUnauthenticated:
      return ": check the user, password, token or AK/SK in the credentials file";
    case StatusCode::kPermissionDenied:
      return ": ask the key's owner for a grant (kmsfs grant create BACKING_DIR --grantee YOUR_USER_ID)";
    default:
      return "";
  }
}

// The errors and warnings in the end of the mount daemon's log (its lines:
// "2026-12-06T10:00:00Z E message").
void CheckDaemonLog(const std::string& log_file, Report& report) {
  if (log_file.empty()) {
    return report.Ok("daemon log", "the daemon logs to syslog: journalctl -t kmsfs shows it");
  }
  constexpr off_t kTail = 256 * 1024;
  UniqueFd fd(open(log_file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return report.Warn("daemon log", "cannot read " + log_file + ": " + std::strerror(errno));
  }
  const off_t from = st.st_size > kTail ? st.st_size - kTail : 0;
  std::string text(static_cast<size_t>(st.st_size - from), '\0');
  const ssize_t n = pread(fd.get(), text.data(), text.size(), from);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  size_t errors = 0, warnings = 0;
  std::string last;  // the last error, else the last warning
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.find(' ');
    if (space == std::string::npos || space + 2 >= line.size() || line[space + 2] != ' ') continue;
    if (line[space + 1] == 'E') {
      ++errors;
      last = line;
    } else if (line[space + 1] == 'W') {
      ++warnings;
      if (errors == 0) last = line;
    }
  }
  const std::string counts = std::to_string(errors) + " errors, " + std::to_string(warnings) + " warnings in the end of " +
                             log_file;
  if (errors == 0 && warnings == 0) return report.Ok("daemon log", counts);
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  report.Warn("daemon log", counts + "; the last " + (errors > 0 ? "error" : "warning") + ": " + last +
                                " (the line names the file or call and why)");
}

void CheckMount(const std::string& mountpoint, const std::string& backing_real, Report& report) {
  std::string buf(64 * 1024, '\0');
  const ssize_t n = getxattr(mountpoint.c_str(), fuse::kStatusXattrName, buf.data(), buf.size());
  if (n < 0) {
    const int err = errno;
    if (err == ENOTCONN) {
      return report.Fail("mount", mountpoint + ": its daemon is gone (" + std::strerror(err) +
                                      "): run 'fusermount3 -u " + mountpoint + "', then mount again; its log says why");
    }
    return report.Fail("mount", mountpoint + " is not a kmsfs mount (" + std::strerror(err) + "): run 'kmsfs mount " +
                                    backing_real + " " + mountpoint + "'");
  }
  buf.resize(static_cast<size_t>(n));
  const nlohmann::json j = nlohmann::json::parse(buf, nullptr, false);
  if (!j.is_object()) return report.Fail("mount", mountpoint + " answers with unreadable status: remount it");
  const std::string serves = j.value("backing_dir", std::string());
  if (serves != backing_real) {
    return report.Fail("mount", mountpoint + " serves " + serves + ", not " + backing_real);
  }
  const nlohmann::json kms = j.value("kms", nlohmann::json::object());
  const unsigned long long errors = kms.is_object() ? kms.value("errors", 0ULL) : 0ULL;
  const std::string detail = std::string("alive, ") + (j.value("read_only", false) ? "read-only" : "read-write") +
                             ", " + std::to_string(errors) + " KMS errors so far";
  if (errors > 0) {
    report.Warn("mount", detail + ": see its log (--log-file, else syslog)");
  } else {
    report.Ok("mount", detail);
  }
  CheckDaemonLog(j.value("log_file", std::string()), report);
}

}  // namespace

int DoctorCommand(const Words& words) {
  constexpr char kUsage[] = "usage: kmsfs doctor BACKING_DIR [MOUNTPOINT]";
  auto args = ParseKmsCommandArgs(words, {});
  if (!args.ok()) return Fail(kExitUsage, args.status().message() + " (" + kUsage + ")");
  const auto& pos = args->positional();
  if (pos.empty() || pos.size() > 2) return Fail(kExitUsage, kUsage);
  const std::string dir = pos[0];
  Report report;

  // 1. The volume.
  auto config = LoadBackingConfig(dir);
  char real[PATH_MAX];
  const std::string backing_real = realpath(dir.c_str(), real) != nullptr ? std::string(real) : dir;
  if (config.ok()) {
    report.Ok("volume", backing_real + ": format version " + std::to_string(config->version) + ", names " +
                            std::string(format::NameModeName(config->names)) + ", headers " +
                            std::string(format::HeaderModeName(config->header)) + ", key " + config->key_id);
  } else {
    report.Fail("volume", config.status().message());
  }

  // 2. Its filesystem.
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    report.Skip("backing filesystem", dir + " is not a directory");
  } else {
    const FsSupport fs = ProbeFilesystem(dir);
    const bool inline_volume = config.ok() && config->header == format::HeaderMode::kInline;
    if (!fs.error.empty()) {
      report.Fail("backing filesystem", fs.error + ": kmsfs needs to create files in " + dir);
    } else if (!fs.user_xattrs && !inline_volume) {
      report.Fail("backing filesystem", "no user extended attributes, where this volume keeps its headers: move it "
                                        "to ext4, xfs, btrfs or tmpfs, or copy its files into a volume made with "
                                        "kmsfs init --header inline");
    } else if (!fs.tmpfile) {
      report.Warn("backing filesystem", std::string("user xattrs ") + (fs.user_xattrs ? "yes" : "no") +
                                            ", O_TMPFILE no: a new file exists by name for a moment before its "
                                            "header (a crash then leaves one fsck reports); ext4, xfs, btrfs and "
                                            "tmpfs have O_TMPFILE");
    } else {
      report.Ok("backing filesystem", std::string("user xattrs ") + (fs.user_xattrs ? "yes" : "no (not needed)") +
                                          ", O_TMPFILE yes");
    }
  }

  // 3. The connection settings, 4. the KMS and the credentials.
  std::shared_ptr<kms::Client> kms;
  auto settings = ConnectionConfigFor(*args, config.ok() ? config->project_id : "");
  if (!settings.ok()) {
    report.Fail("connection settings", settings.status().message() +
                                           ": set them in a credentials file (--credentials FILE, mode 0600)");
  } else {
    report.Ok("connection settings", "KMS at " + settings->endpoint);
    auto client = ConnectKms(*args, config.ok() ? config->project_id : "");
    Status signed_in = client.ok() ? Status::Ok() : client.status();
    std::string user_id;
    if (client.ok()) {
      auto id = (*client)->UserId();
      if (id.ok()) {
        user_id = *id;
      } else {
        signed_in = id.status();
      }
    }
    if (!signed_in.ok()) {
      report.Fail("KMS and credentials", signed_in.message() + Fix(signed_in));
    } else {
      kms = *client;
      report.Ok("KMS and credentials", "reachable; signed in as " + kms->PrincipalDescription() +
                                           (user_id.empty() ? "" : " (user id " + user_id + ")"));
    }
  }

  // 5. The key, 6. this user's rights on it (and the pin).
  if (!config.ok() || kms == nullptr) {
    report.Skip("key", "needs the volume and the KMS");
    report.Skip("key rights", "needs the volume and the KMS");
  } else {
    auto key = kms->DescribeKey(config->key_id);
    if (!key.ok()) {
      report.Fail("key", config->key_id + ": " + key.status().message() + Fix(key.status()));
    } else if (std::string(KeyStateName(key->key_state)) != "enabled") {
      report.Fail("key", config->key_id + " is " + KeyStateName(key->key_state) +
                             ": its owner must enable it (or cancel its deletion)");
    } else {
      report.Ok("key", config->key_id + " is enabled");
    }
    auto pins = core::Pins::ForCurrentUser();
    if (!pins.ok()) {
      report.Fail("key rights", pins.status().message());
    } else {
      core::UnlockOptions options;
      options.probe_write = true;
      auto unlocked = core::UnlockVolume(dir, core::Envelope::OverKms(kms), *pins, options);
      if (!unlocked.ok()) {
        report.Fail("key rights", unlocked.status().message() + Fix(unlocked.status()));
      } else if (!unlocked->writable) {
        report.Warn("key rights", "read only (decrypt-datakey), so mounts are read-only: " +
                                      unlocked->write_refusal.message() +
                                      "; for writing, ask for a write grant (--access write)");
      } else {
        report.Ok("key rights", std::string("read and write (decrypt-datakey, encrypt-datakey)") +
                                    (unlocked->newly_pinned ? "; key pinned for this directory now" : ""));
      }
    }
  }

  // 7. The mount.
  if (pos.size() == 2) CheckMount(pos[1], backing_real, report);

  std::fputs(report.Render().c_str(), stdout);
  return report.failed() ? kExitFailure : kExitOk;
}

}  // namespace kmsfs::cli
