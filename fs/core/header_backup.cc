#include "fs/core/header_backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "fs/core/backing_root.h"
#include "fs/core/crypt_file.h"
#include "fs/core/dir_entries.h"
#include "fs/core/dir_values.h"
#include "fs/core/header_io.h"
#include "fs/core/name_mapper.h"
#include "fs/format/block_codec.h"

namespace kmsfs::core {
namespace {

using format::ExportedEntry;

// Names that fail a value check before it is given up as not fitting.
constexpr size_t kMaxNamesTried = 64;

std::string Shown(const std::string& path) { return path.empty() ? "/" : path; }
std::string Join(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

std::string NowRfc3339() {
  char buf[32];
  const std::time_t now = std::time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}


// Whether the backing entry `name` of a directory is one of the tree's
// names (not the volume's own files, sidecars or temporaries).
bool IsTreeEntry(const std::string& name, bool at_root, bool encrypted) {
  if (at_root && (IsVolumeFileName(name) || (encrypted && name == format::kTargetStoreDir))) return false;
  // Encoded names never have a '.'; long names' stored form is the one that does.
  if (encrypted && name.find('.') != std::string::npos && !format::NameCodec::IsLongName(name)) return false;
  return true;
}

// Whether the xattr `user.kmsfs` exists on `fd` (a directory's value).
StatusOr<bool> HasXattrValue(int fd) {
  if (fgetxattr(fd, format::kHeaderXattrName, nullptr, 0) >= 0) return true;
  if (errno == ENODATA) return false;
  return Status::FromErrno(errno, "read xattr user.kmsfs");
}

}  // namespace

Status ExportHeaders(const std::string& backing_dir, const format::VolumeConfig& config,
                     const std::function<Status(std::string_view line)>& write, ExportSummary* summary) {
  if (config.header == format::HeaderMode::kInline) {
    return Status::FailedPrecondition(backing_dir + " keeps its headers inline, inside its files: every copy keeps "
                                      "them, and there is nothing to export");
  }
  // A path the user gave through a symlink of theirs is resolved once; the
  // walk then never follows one.
  KMSFS_ASSIGN_OR_RETURN(BackingRoot root, ResolveBackingRoot(backing_dir));
  const bool encrypted = config.names == format::NameMode::kEncrypted;
  format::HeadersFileInfo info;
  info.volume_id = config.version >= 2 ? format::VolumeIdHex(config.volume_id) : "";
  info.key_id = config.key_id;
  info.created = NowRfc3339();
  KMSFS_RETURN_IF_ERROR(write(format::EncodeInfoLine(info)));

  std::vector<std::pair<std::shared_ptr<UniqueFd>, std::string>> pending = {
      {std::make_shared<UniqueFd>(std::move(root.fd)), std::string()}};
  while (!pending.empty()) {
    auto [dir, path] = std::move(pending.back());
    pending.pop_back();
    if (encrypted) {
      auto value = ReadDirValue(dir->get());
      if (value.ok()) {
        ExportedEntry e;
        e.kind = ExportedEntry::Kind::kDirectory;
        e.path = path;
        e.value = *value;
        KMSFS_RETURN_IF_ERROR(write(format::EncodeEntryLine(e)));
        ++summary->directories;
      } else {
        summary->missing.push_back(Shown(path) + ": " + value.status().message());
      }
    }
    KMSFS_ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDirEntries(dir->get()));
    std::vector<std::pair<std::shared_ptr<UniqueFd>, std::string>> subdirs;
    for (const std::string& name : entries) {
      if (!IsTreeEntry(name, path.empty(), encrypted)) continue;
      const std::string entry_path = Join(path, name);
      struct stat st;
      if (fstatat(dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        summary->missing.push_back(entry_path + ": cannot stat: " + std::strerror(errno));
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        const int sub = openat(dir->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          summary->missing.push_back(entry_path + ": cannot open: " + std::strerror(errno));
          continue;
        }
        subdirs.emplace_back(std::make_shared<UniqueFd>(sub), entry_path);
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      UniqueFd file(openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!file.valid()) {
        summary->missing.push_back(entry_path + ": cannot open: " + std::strerror(errno));
        continue;
      }
      auto header = ReadFileHeaderIfPresent(file.get(), format::HeaderMode::kXattr);
      if (!header.ok()) {
        summary->missing.push_back(entry_path + ": " + header.status().message());
        continue;
      }
      if (!header->has_value()) {
        summary->missing.push_back(entry_path + ": no header (xattr user.kmsfs is missing)");
        continue;
      }
      ExportedEntry e;
      e.kind = ExportedEntry::Kind::kFile;
      e.path = entry_path;
      e.header = std::move(**header);
      KMSFS_RETURN_IF_ERROR(write(format::EncodeEntryLine(e)));
      ++summary->files;
    }
    // Visited in name order: the export lists a directory before its contents.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) pending.push_back(std::move(*it));
  }
  return Status::Ok();
}

HeaderImporter::HeaderImporter(const UnlockedVolume& volume, UniqueFd root)
    : config_(volume.config), accepted_keys_(volume.AcceptedKeyIds()), root_(std::move(root)) {}

StatusOr<std::unique_ptr<HeaderImporter>> HeaderImporter::New(const UnlockedVolume& volume,
                                                               Envelope envelope) {
  if (volume.config.header != format::HeaderMode::kXattr) {
    return Status::FailedPrecondition(volume.backing_dir + " keeps its headers inline, inside its files: there is "
                                      "nothing to import");
  }
  // The directory the config was read from, not whatever the path leads to now.
  KMSFS_ASSIGN_OR_RETURN(UniqueFd root, DupBackingRoot(volume.root_fd.get()));
  std::unique_ptr<HeaderImporter> importer(new HeaderImporter(volume, std::move(root)));
  if (volume.config.names == format::NameMode::kEncrypted) {
    KMSFS_ASSIGN_OR_RETURN(importer->names_,
                           format::NameCodec::New(volume.volume_key, volume.config.volume_id, volume.config.suite));
  }
  KeyServiceOptions options;
  options.cache.ttl = std::chrono::seconds(0);  // one unwrap per file, nothing kept
  options.pool.target = 0;
  options.read_only = true;
  importer->keys_ = std::make_unique<KeyService>(volume.config.key_id, volume.AcceptedKeyIds(),
                                                 volume.config.suite, volume.config.block_size, std::move(envelope),
                                                 options, /*queue=*/nullptr);
  return importer;
}

Status HeaderImporter::CheckExportIsOfThisVolume(const format::HeadersFileInfo& info) const {
  const std::string volume_id = config_.version >= 2 ? format::VolumeIdHex(config_.volume_id) : "";
  const bool same = config_.version >= 2 ? info.volume_id == volume_id
                                         : info.volume_id.empty() &&
                                               std::find(accepted_keys_.begin(), accepted_keys_.end(),
                                                         info.key_id) != accepted_keys_.end();
  if (same) return Status::Ok();
  return Status::FailedPrecondition("the export is of another volume (volume id " +
                                    (info.volume_id.empty() ? std::string("none") : info.volume_id) + ", key " +
                                    info.key_id + "), not of this one (volume id " +
                                    (volume_id.empty() ? std::string("none") : volume_id) + ", key " + config_.key_id +
                                    "): use the export made from this volume");
}

StatusOr<UniqueFd> HeaderImporter::OpenUnderRoot(const std::string& path, bool directory) const {
  if (path.empty()) {
    if (!directory) return Status::InvalidArgument("the root is not a file");
    const int fd = openat(root_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open the backing root");
    return UniqueFd(fd);
  }
  UniqueFd dir;
  int at = root_.get();
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    const bool last = slash == std::string::npos;
    int flags = O_NOFOLLOW | O_CLOEXEC;
    if (!last) {
      flags |= O_PATH | O_DIRECTORY;
    } else if (directory) {
      flags |= O_RDONLY | O_DIRECTORY;
    } else {
      flags |= O_RDONLY | O_NONBLOCK;
    }
    const int fd = openat(at, part.c_str(), flags);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("not in the backing directory");
      if (errno == ELOOP || errno == ENOTDIR) return Status::InvalidArgument("a symlink or a file is in the way");
      return Status::FromErrno(errno, "open");
    }
    dir = UniqueFd(fd);
    at = fd;
    if (last) break;
    start = slash + 1;
  }
  struct stat st;
  if (fstat(dir.get(), &st) != 0) return Status::FromErrno(errno, "stat");
  if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    return Status::FromErrno(directory ? ENOTDIR : EINVAL,
                             directory ? "not a directory here" : "not a regular file here");
  }
  return dir;
}

void HeaderImporter::Problem(const std::string& path, const std::string& why) {
  MutexLock lock(&mu_);
  summary_.problems.push_back(Shown(path) + ": " + why);
}

void HeaderImporter::Count(uint64_t ImportSummary::*counter) {
  MutexLock lock(&mu_);
  ++(summary_.*counter);
}

ImportSummary HeaderImporter::summary() const {
  MutexLock lock(&mu_);
  return summary_;
}

bool HeaderImporter::ValueFitsNames(int dir_fd, const format::DirValue& value) const {
  auto entries = ListDirEntries(dir_fd);
  if (!entries.ok()) return false;
  size_t tried = 0;
  for (const std::string& name : *entries) {
    std::string encoded = name;
    if (format::NameCodec::IsLongName(name)) {
      UniqueFd side(openat(dir_fd, format::NameCodec::SidecarName(name).c_str(),
                           O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!side.valid()) continue;
      encoded.assign(1025, '\0');
      auto n = PreadFull(side.get(), encoded.data(), encoded.size(), 0);
      if (!n.ok() || *n > 1024) continue;
      encoded.resize(*n);
    } else if (name.find('.') != std::string::npos) {
      continue;  // the volume's own entries
    }
    if (names_->Decrypt(value, encoded).ok()) return true;
    if (++tried >= kMaxNamesTried) break;
  }
  return tried == 0;
}

void HeaderImporter::ImportDirectory(const ExportedEntry& entry) {
  if (names_ == nullptr) {
    return Problem(entry.path, "the export holds a directory value, but this volume's names are not encrypted");
  }
  auto dir = OpenUnderRoot(entry.path, true);
  if (!dir.ok()) {
    if (dir.status().code() == StatusCode::kNotFound) return Count(&ImportSummary::not_in_copy);
    return Problem(entry.path, dir.status().message());
  }
  auto present = HasXattrValue(dir->get());
  if (!present.ok()) return Problem(entry.path, present.status().message());
  if (*present) {
    auto existing = ReadDirValue(dir->get());
    if (existing.ok() && *existing == entry.value) return Count(&ImportSummary::already_there);
    return Problem(entry.path, existing.ok() ? "has another name value than the export's: not the directory exported; "
                                               "left as it is"
                                             : existing.status().message() + "; left as it is");
  }
  if (!ValueFitsNames(dir->get(), entry.value)) {
    return Problem(entry.path, "the exported name value does not decrypt the names here: not the directory exported");
  }
  const std::vector<uint8_t> encoded = format::EncodeDirValue(entry.value);
  if (fsetxattr(dir->get(), format::kHeaderXattrName, encoded.data(), encoded.size(), XATTR_CREATE) != 0) {
    if (errno == EEXIST) return ImportDirectory(entry);  // set meanwhile: compare again
    if (errno == ENOTSUP) return Problem(entry.path, "the backing filesystem has no user xattrs");
    return Problem(entry.path, std::string("cannot set its name value: ") + std::strerror(errno));
  }
  Count(&ImportSummary::directories_restored);
}

Status HeaderImporter::HeaderOpensData(int fd, const format::FileHeader& header) {
  KMSFS_ASSIGN_OR_RETURN(cache::DekCache::Handle key, keys_->KeyFor(header));
  KMSFS_ASSIGN_OR_RETURN(auto codec, format::BlockCodec::New(header.suite, header.block_size, key.key(), header.file_id));
  const int copy = dup(fd);
  if (copy < 0) return Status::FromErrno(errno, "dup");
  CryptFile file(UniqueFd(copy), header, std::move(codec), std::move(key));
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size == 0) return Status::Ok();  // nothing to prove, nothing to lose
  const uint64_t bs = header.block_size;
  std::vector<uint8_t> buf(bs);
  // Both ends: a sparse file's first block may be a hole, which opens under any key.
  for (uint64_t at : {uint64_t{0}, (size - 1) / bs * bs}) {
    const uint64_t len = std::min<uint64_t>(bs, size - at);
    KMSFS_RETURN_IF_ERROR(file.Read(at, {buf.data(), len}).status());
  }
  return Status::Ok();
}

void HeaderImporter::ImportFile(const ExportedEntry& entry) {
  auto file = OpenUnderRoot(entry.path, false);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kNotFound) return Count(&ImportSummary::not_in_copy);
    return Problem(entry.path, file.status().message());
  }
  auto existing = ReadFileHeaderIfPresent(file->get(), format::HeaderMode::kXattr);
  if (!existing.ok()) return Problem(entry.path, existing.status().message() + "; left as it is");
  if (existing->has_value()) {
    if (**existing == entry.header) return Count(&ImportSummary::already_there);
    return Problem(entry.path, "has another header (file id " + format::FileIdHex((*existing)->file_id) +
                                   ") than the export's (file id " + format::FileIdHex(entry.header.file_id) +
                                   "): left as it is");
  }
  if (Status s = keys_->CheckBelongs(entry.header); !s.ok()) return Problem(entry.path, "exported " + s.message());
  if (Status s = HeaderOpensData(file->get(), entry.header); !s.ok()) {
    if (s.code() == StatusCode::kUnavailable) {
      MutexLock lock(&mu_);
      summary_.kms_unreachable = true;
      return;
    }
    if (s.code() == StatusCode::kDataLoss) {
      return Problem(entry.path, "the exported header (file id " + format::FileIdHex(entry.header.file_id) +
                                     ") does not open this file's data: not the file exported, or damaged (" +
                                     s.message() + ")");
    }
    return Problem(entry.path, s.message());
  }
  Status written = WriteFileHeader(file->get(), entry.header, /*create_only=*/true);
  if (!written.ok()) {
    if (written.sys_errno() == EEXIST) return ImportFile(entry);  // another name of the same file got there first
    return Problem(entry.path, written.message());
  }
  Count(&ImportSummary::files_restored);
}

}  // namespace kmsfs::core
