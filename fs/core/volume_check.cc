#include "fs/core/volume_check.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "fs/core/backing_root.h"
#include "fs/core/crypt_file.h"
#include "fs/core/dir_entries.h"
#include "fs/core/encrypted_names.h"
#include "fs/core/header_io.h"
#include "fs/core/name_mapper.h"
#include "fs/core/open_file_table.h"
#include "fs/format/block_codec.h"
#include "fs/format/offsets.h"

namespace kmsfs::core {
namespace {

constexpr uint64_t kCheckChunk = 1 << 20;

std::string Join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }


}  // namespace

VolumeCheck::VolumeCheck(const UnlockedVolume& volume, bool quick)
    : config_(volume.config),
      backing_dir_(volume.backing_dir),
      quick_(quick),
      dir_values_(DirValueStoreFor(volume.config.header)) {}

StatusOr<std::unique_ptr<VolumeCheck>> VolumeCheck::New(const UnlockedVolume& volume,
                                                        Envelope envelope, bool quick) {
  std::unique_ptr<VolumeCheck> check(new VolumeCheck(volume, quick));
  KMSFS_ASSIGN_OR_RETURN(UniqueFd root, DupBackingRoot(volume.root_fd.get()));
  check->root_ = std::make_shared<UniqueFd>(std::move(root));
  if (volume.config.names == format::NameMode::kEncrypted) {
    KMSFS_ASSIGN_OR_RETURN(check->names_,
                           format::NameCodec::New(volume.volume_key, volume.config.volume_id, volume.config.suite));
  }
  KeyServiceOptions options;
  options.cache.ttl = std::chrono::seconds(0);  // one unwrap per file, nothing kept
  options.pool.target = 0;
  options.read_only = true;
  check->keys_ = std::make_unique<KeyService>(volume.config.key_id, volume.AcceptedKeyIds(),
                                              volume.config.suite, volume.config.block_size, std::move(envelope),
                                              options, /*queue=*/nullptr);
  return check;
}

void VolumeCheck::Problem(const std::string& path, const std::string& what) {
  MutexLock lock(&mu_);
  problems_.push_back((path.empty() ? std::string("/") : path) + ": " + what);
}

std::vector<std::string> VolumeCheck::problems() const {
  MutexLock lock(&mu_);
  return problems_;
}

bool VolumeCheck::kms_unreachable() const {
  MutexLock lock(&mu_);
  return kms_unreachable_;
}

Status VolumeCheck::Walk() {
  std::vector<std::pair<std::shared_ptr<UniqueFd>, std::string>> pending = {{root_, std::string()}};
  std::vector<std::string> stored_targets;
  bool root = true;
  while (!pending.empty()) {
    auto [dir, path] = std::move(pending.back());
    pending.pop_back();
    WalkDir(dir, path, root, &pending, &stored_targets);
    root = false;
  }
  if (names_ != nullptr) CheckTargetStore(stored_targets);
  std::sort(files_.begin(), files_.end(), [](const FileToCheck& a, const FileToCheck& b) { return a.path < b.path; });
  return Status::Ok();
}

void VolumeCheck::WalkDir(const std::shared_ptr<UniqueFd>& dir, const std::string& path, bool is_root,
                          std::vector<std::pair<std::shared_ptr<UniqueFd>, std::string>>* subdirs,
                          std::vector<std::string>* stored_targets) {
  auto entries = ListDirEntries(dir->get());
  if (!entries.ok()) return Problem(path, entries.status().message());
  std::optional<format::DirValue> value;
  if (names_ != nullptr) {
    auto v = dir_values_->Read(dir->get());
    if (v.ok()) {
      value = *v;
    } else if (config_.header == format::HeaderMode::kXattr) {
      Problem(path, "directory name value: " + v.status().message() +
                        " (its names cannot be read; if a copy tool dropped xattrs, restore them with 'kmsfs "
                        "headers import " + backing_dir_ + " EXPORT_FILE')");
    } else {
      Problem(path, "directory name value: " + v.status().message() + " (its names cannot be read)");
    }
  }
  std::set<std::string> sidecars, long_names;
  std::map<std::string, std::string> seen;  // plaintext name -> backing name
  for (const std::string& backing : *entries) {
    if (is_root && (IsVolumeFileName(backing) || (names_ != nullptr && backing == format::kTargetStoreDir))) continue;
    if (names_ != nullptr && dir_values_->file_name() != nullptr && backing == dir_values_->file_name()) continue;
    std::string shown = backing;  // the entry's name in reports
    if (names_ != nullptr) {
      std::string encoded;
      if (format::NameCodec::IsLongName(backing)) {
        long_names.insert(backing);
        UniqueFd side(openat(dir->get(), format::NameCodec::SidecarName(backing).c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        std::string text(1025, '\0');
        auto n = side.valid() ? PreadFull(side.get(), text.data(), text.size(), 0) : StatusOr<size_t>(Status::FromErrno(errno, "open"));
        if (!n.ok() || *n > 1024) {
          Problem(Join(path, backing), "long name without a readable sidecar (" +
                                           (n.ok() ? std::string("too large") : n.status().message()) + ")");
          continue;
        }
        text.resize(*n);
        if (format::NameCodec::StoredName(text) != backing) {
          Problem(Join(path, backing), "long name does not match its sidecar");
          continue;
        }
        encoded = std::move(text);
      } else if (backing.size() > std::strlen(format::kSidecarSuffix) && backing.ends_with(format::kSidecarSuffix) &&
                 format::NameCodec::IsLongName(backing.substr(0, backing.size() - std::strlen(format::kSidecarSuffix)))) {
        sidecars.insert(backing.substr(0, backing.size() - std::strlen(format::kSidecarSuffix)));
        continue;
      } else if (backing.find('.') != std::string::npos) {
        Problem(Join(path, backing), backing.starts_with("kmsfs.tmp.")
                                         ? "leftover of an interrupted mkdir, rmdir or rename (safe to remove from "
                                           "the backing directory)"
                                         : "an entry kmsfs did not make (not an encrypted name)");
        continue;
      } else {
        encoded = backing;
      }
      // Without the directory's value its names cannot be read, but what is
      // in it is still checked under its backing names, so a copy that lost
      // every xattr gets every file named.
      if (value) {
        auto name = names_->Decrypt(*value, encoded);
        if (!name.ok()) {
          Problem(Join(path, backing), "name does not decrypt in this directory (tampered, or moved from another "
                                       "directory): " + name.status().message());
          continue;
        }
        if (auto [it, fresh] = seen.emplace(*name, backing); !fresh) {
          Problem(Join(path, *name), "two backing entries (" + it->second + ", " + backing + ") decrypt to this name");
          continue;
        }
        shown = *name;
      }
    }
    const std::string entry_path = Join(path, shown);
    struct stat st;
    if (fstatat(dir->get(), backing.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      Problem(entry_path, std::string("cannot stat: ") + std::strerror(errno));
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      files_.push_back({dir, backing, entry_path});
    } else if (S_ISDIR(st.st_mode)) {
      const int fd = openat(dir->get(), backing.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {
        Problem(entry_path, std::string("cannot open directory: ") + std::strerror(errno));
        continue;
      }
      subdirs->emplace_back(std::make_shared<UniqueFd>(fd), entry_path);
    } else if (S_ISLNK(st.st_mode) && names_ != nullptr) {
      std::string stored(PATH_MAX, '\0');
      const ssize_t n = readlinkat(dir->get(), backing.c_str(), stored.data(), stored.size());
      if (n < 0) {
        Problem(entry_path, std::string("cannot read symlink: ") + std::strerror(errno));
        continue;
      }
      stored.resize(static_cast<size_t>(n));
      if (stored.starts_with(format::kStoredTargetPrefix)) {
        // Checked with the target store, once every reference is known.
        stored_targets->push_back(stored.substr(std::strlen(format::kStoredTargetPrefix)));
      } else if (auto target = names_->DecryptTarget(stored); !target.ok()) {
        Problem(entry_path, "symlink target does not decrypt: " + target.status().message());
      }
    }
  }
  for (const std::string& side : sidecars) {
    if (!long_names.count(side)) Problem(Join(path, side + format::kSidecarSuffix), "long-name sidecar without its entry");
  }
}

void VolumeCheck::CheckTargetStore(const std::vector<std::string>& referenced) {
  UniqueFd store(openat(root_->get(), format::kTargetStoreDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  const std::set<std::string> wanted(referenced.begin(), referenced.end());
  std::set<std::string> present;
  if (store.valid()) {
    auto ids = ListDirEntries(store.get());
    if (ids.ok()) present.insert(ids->begin(), ids->end());
  }
  for (const std::string& id : wanted) {
    if (!format::NameCodec::IsTargetId(id)) {
      Problem(std::string(format::kTargetStoreDir) + "/" + id, "a symlink names a malformed stored target");
      continue;
    }
    if (!present.count(id)) {
      Problem(std::string(format::kTargetStoreDir) + "/" + id, "a symlink's stored target is missing");
      continue;
    }
    std::string text(8193, '\0');
    UniqueFd f(openat(store.get(), id.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    auto n = f.valid() ? PreadFull(f.get(), text.data(), text.size(), 0) : StatusOr<size_t>(Status::FromErrno(errno, "open"));
    if (!n.ok() || *n > 8192) {
      Problem(std::string(format::kTargetStoreDir) + "/" + id, "stored target cannot be read");
      continue;
    }
    text.resize(*n);
    if (format::NameCodec::TargetId(text) != id || !names_->DecryptTarget(text).ok()) {
      Problem(std::string(format::kTargetStoreDir) + "/" + id, "stored target is damaged");
    }
  }
  for (const std::string& id : present) {
    if (!wanted.count(id)) {
      Problem(std::string(format::kTargetStoreDir) + "/" + id, "stored target no symlink refers to (safe to remove)");
    }
  }
}

void VolumeCheck::CheckFile(const FileToCheck& file) {
  UniqueFd fd(openat(file.dir->get(), file.backing_name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return Problem(file.path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Problem(file.path, "not a regular file any more");
  auto present = ReadFileHeaderIfPresent(fd.get(), config_.header);
  if (!present.ok()) return Problem(file.path, present.status().message());
  if (!present->has_value()) {
    if (config_.header == format::HeaderMode::kInline) {
      return Problem(file.path, "no header: the backing file is empty, its inline header region is gone");
    }
    return Problem(file.path, "no header (xattr user.kmsfs is missing: a copy tool dropped it?); restore it with "
                              "'kmsfs headers import " + backing_dir_ + " EXPORT_FILE'");
  }
  StatusOr<format::FileHeader> header = std::move(**present);
  if (Status s = keys_->CheckBelongs(*header); !s.ok()) return Problem(file.path, s.message());
  auto geometry = format::GeometryFor(header->suite, header->block_size);
  if (!geometry.ok()) return Problem(file.path, geometry.status().message());
  geometry->data_offset = DataOffset(config_.header);
  bool cut = false;
  if (auto size = format::PlainSize(static_cast<uint64_t>(st.st_size), *geometry); !size.ok()) {
    Problem(file.path, size.status().message() + " (the file was cut inside a block)");
    cut = true;
  }
  auto key = keys_->KeyFor(*header);
  if (!key.ok()) {
    if (key.status().code() == StatusCode::kUnavailable) {
      MutexLock lock(&mu_);
      kms_unreachable_ = true;
      return;
    }
    return Problem(file.path, "DEK does not unwrap: " + key.status().message());
  }
  // A cut file's blocks before the cut still get checked; the cut one is
  // already reported.
  if (quick_) return;
  auto codec = format::BlockCodec::New(header->suite, header->block_size, key->key(), header->file_id);
  if (!codec.ok()) return Problem(file.path, codec.status().message());
  CryptFile crypt(std::move(fd), std::move(header).value(), std::move(codec).value(), std::move(key).value(),
                  geometry->data_offset);
  auto size = crypt.Size();
  if (!size.ok()) return Problem(file.path, size.status().message());
  const uint64_t bs = geometry->block_size;
  // The visible size counts a cut block as one byte: stop before it.
  const uint64_t end = cut ? *size / bs * bs : *size;
  std::vector<uint8_t> buf(kCheckChunk);
  for (uint64_t at = 0; at < end; at += kCheckChunk) {
    auto n = crypt.Read(at, std::span<uint8_t>(buf.data(), std::min<uint64_t>(kCheckChunk, end - at)));
    if (!n.ok()) return Problem(file.path, n.status().message());
    if (*n == 0) break;
  }
}

}  // namespace kmsfs::core
