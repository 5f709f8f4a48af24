// kmsfs init BACKING_DIR --key KEY_ID: prepares an empty directory as a volume.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/core/dir_values.h"
#include "fs/core/envelope.h"
#include "fs/core/pins.h"
#include "fs/core/volume_access.h"
#include "crypto/random.h"

namespace kmsfs::cli {
namespace {

// Empty means no entries at all (not even a dot file): a volume must not mix
// with plaintext files.
StatusOr<bool> IsEmptyDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "open " + dir);
  bool empty = true;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Xattr headers live in user xattrs; find out now rather than on the first
// file. False when the filesystem has none (ENOTSUP).
StatusOr<bool> HasUserXattrs(const std::string& dir) {
  const std::string probe = dir + "/.kmsfs-xattr-probe";
  UniqueFd fd(open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "create a probe file in " + dir);
  const char value[] = "probe";
  int rc = fsetxattr(fd.get(), "user.kmsfs.probe", value, sizeof value, 0);
  int err = errno;
  unlink(probe.c_str());
  if (rc != 0) {
    if (err == ENOTSUP) return false;
    return Status::FromErrno(err, "set a user xattr in " + dir);
  }
  return true;
}

std::string NowRfc3339() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

}  // namespace

int InitCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--key", "--block-size", "--cipher", "--header"}, {"--plaintext-names"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 1 || !args->Has("--key")) {
    return Fail(kExitUsage, "usage: kmsfs init BACKING_DIR --key KEY_ID [--plaintext-names] [--header xattr|inline]");
  }
  const std::string dir = args->positional()[0];
  const std::string key_id = *args->Get("--key");

  format::VolumeConfig config;
  config.key_id = key_id;
  config.names = args->Has("--plaintext-names") ? format::NameMode::kPlaintext : format::NameMode::kEncrypted;
  const std::optional<std::string> header = args->Get("--header");
  if (header == "inline") {
    config.header = format::HeaderMode::kInline;
  } else if (header && *header != "xattr") {
    return Fail(kExitUsage, "--header wants xattr or inline, got '" + *header + "'");
  }
  config.suite = crypto::PreferredCipherSuite();
  if (auto name = args->Get("--cipher")) {
    auto suite = crypto::CipherSuiteFromName(*name);
    if (!suite.ok()) return Fail(kExitUsage, "--cipher: " + suite.status().message());
    config.suite = *suite;
  }
  auto block_size = args->GetInt("--block-size", 4096);
  if (!block_size.ok()) return Fail(kExitUsage, block_size.status().message());
  config.block_size = static_cast<uint32_t>(*block_size);
  config.created = NowRfc3339();

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(kExitUsage, "cannot create backing directory " + dir + ": " + ec.message());
  auto empty = IsEmptyDir(dir);
  if (!empty.ok()) return Fail(empty.status(), "cannot read backing directory");
  if (!*empty) {
    struct stat st;
    if (stat((dir + "/" + format::kConfigFileName).c_str(), &st) == 0) {
      return Fail(kExitUsage, dir + " is already a kmsfs backing directory: mount it with 'kmsfs mount " + dir +
                                  " MOUNTPOINT'");
    }
    return Fail(kExitUsage, "backing directory " + dir + " is not empty: kmsfs init needs an empty directory");
  }
  std::string header_note;
  if (config.header == format::HeaderMode::kXattr) {
    auto xattrs = HasUserXattrs(dir);
    if (!xattrs.ok()) return Fail(xattrs.status(), "cannot use " + dir);
    if (!*xattrs && header) {
      return Fail(kExitUsage, "the filesystem holding " + dir +
                                  " has no user extended attributes, which --header xattr needs: use --header "
                                  "inline, or a filesystem with them (ext4, xfs, btrfs, tmpfs)");
    }
    if (!*xattrs) {
      config.header = format::HeaderMode::kInline;
      header_note = "; the filesystem holding it has no user extended attributes, so file headers are kept "
                    "inline, at the start of each file (--header inline)";
    }
  }
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr) return Fail(kExitUsage, "cannot resolve " + dir);

  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, pins.status().message());
  auto kms = ConnectKms(*args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  // The volume key: wrapping it proves the caller may write, mount unwraps it
  // to prove the caller may read, and it keys the config's MAC (and names).
  crypto::RandomBytes(config.volume_id);
  const core::Envelope envelope = core::Envelope::OverKms(*kms);
  SecretBytes volume_key = core::Envelope::NewVolumeKey();
  auto wrapped = envelope.WrapVolumeKey(key_id, volume_key, config.volume_id);
  if (!wrapped.ok()) {
    if (wrapped.status().code() == StatusCode::kPermissionDenied) {
      return Fail(kExitFailure,
                  "init refused: " + envelope.DeniedMessage("encrypt-datakey", key_id, wrapped.status()));
    }
    return Fail(wrapped.status(), "cannot wrap a key with " + key_id);
  }
  config.wrapped_volume_key = *wrapped;
  // The project the key lives in; mounts without --project-id/OS_PROJECT_ID use it.
  if (const char* env = std::getenv("OS_PROJECT_ID")) config.project_id = env;
  if (auto p = args->Get("--project-id")) config.project_id = *p;
  if (Status s = config.Seal(volume_key); !s.ok()) return Fail(s, "cannot seal the volume config");
  if (config.names == format::NameMode::kEncrypted) {
    // The root's name value: the names in it are encrypted with it as
    // associated data, like every directory's.
    UniqueFd root(open(real, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return Fail(kExitUsage, "cannot open " + dir);
    format::DirValue value;
    crypto::RandomBytes(value);
    if (Status s = core::DirValueStoreFor(config.header)->WriteNew(root.get(), value); !s.ok()) {
      return Fail(s, "cannot set the root's name value");
    }
  }
  if (Status s = config.Store(dir); !s.ok()) return Fail(s, "cannot write " + dir + "/" + format::kConfigFileName);
  if (Status s = pins->Put(real, core::PinOf(config)); !s.ok()) return Fail(s, "cannot pin the volume's key");
  std::printf("initialised %s with key %s (%s, %u-byte blocks, %s names, %s headers)%s\n", dir.c_str(),
              key_id.c_str(), std::string(crypto::CipherSuiteName(config.suite)).c_str(), config.block_size,
              std::string(format::NameModeName(config.names)).c_str(),
              std::string(format::HeaderModeName(config.header)).c_str(), header_note.c_str());
  return kExitOk;
}

}  // namespace kmsfs::cli
