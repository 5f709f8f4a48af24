#include "fs/core/volume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "fs/base/logging.h"
#include "fs/core/listed_file.h"
#include "fs/crypto/kdf.h"
#include "fs/format/offsets.h"

namespace kmsfs::core {
namespace {

constexpr int kOpenFlags = O_CLOEXEC | O_NOFOLLOW;

// Opens a backing file for content I/O: read-write where possible (one
// CryptFile serves every later handle), read-only on a read-only volume, or
// for a reader when the backing file cannot be written (read-only backing
// filesystem); a writer then gets the real error (EROFS, EACCES).
StatusOr<UniqueFd> OpenBacking(int root_fd, const std::string& rel_path, bool read_only, bool for_write) {
  int fd = openat(root_fd, rel_path.c_str(), (read_only ? O_RDONLY : O_RDWR) | kOpenFlags);
  if (fd < 0 && !read_only && !for_write && (errno == EROFS || errno == EACCES)) {
    fd = openat(root_fd, rel_path.c_str(), O_RDONLY | kOpenFlags);
  }
  if (fd < 0) return Status::FromErrno(errno, "open " + rel_path);
  return UniqueFd(fd);
}

std::string DirName(const std::string& rel_path) {
  size_t slash = rel_path.rfind('/');
  return slash == std::string::npos ? "." : rel_path.substr(0, slash);
}

std::string BaseName(const std::string& rel_path) {
  size_t slash = rel_path.rfind('/');
  return slash == std::string::npos ? rel_path : rel_path.substr(slash + 1);
}

// Gives the nameless file `fd` the name `rel_path`. AT_EMPTY_PATH needs
// CAP_DAC_READ_SEARCH; without it, the link goes through /proc.
int LinkNameless(int fd, int root_fd, const std::string& rel_path) {
  int rc = linkat(fd, "", root_fd, rel_path.c_str(), AT_EMPTY_PATH);
  if (rc != 0 && (errno == EPERM || errno == ENOENT)) {
    char proc_path[64];
    std::snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    rc = linkat(AT_FDCWD, proc_path, root_fd, rel_path.c_str(), AT_SYMLINK_FOLLOW);
  }
  return rc;
}

}  // namespace

kms::EncryptionContext FileContext(const format::FileId& file_id) {
  return {{"kmsfs_file_id", format::FileIdHex(file_id)}};
}

StatusOr<format::FileHeader> ReadFileHeader(int fd) {
  std::vector<uint8_t> buf(format::FileHeader::kMaxEncodedSize);
  ssize_t n = fgetxattr(fd, format::kHeaderXattrName, buf.data(), buf.size());
  if (n < 0) {
    if (errno == ENODATA) return Status::DataLoss("header (xattr user.kmsfs) is missing");
    if (errno == ERANGE) return Status::DataLoss("header (xattr user.kmsfs) is too large");
    return Status::FromErrno(errno, "read header xattr");
  }
  buf.resize(static_cast<size_t>(n));
  return format::FileHeader::Decode(buf);
}

Status WriteFileHeader(int fd, const format::FileHeader& header, bool create_only) {
  // A wrapped key the KMS returned malformed must not become an empty header.
  KMSFS_RETURN_IF_ERROR(header.Validate());
  const std::vector<uint8_t> encoded = header.Encode();
  if (fsetxattr(fd, format::kHeaderXattrName, encoded.data(), encoded.size(), create_only ? XATTR_CREATE : 0) != 0) {
    if (errno == ENOTSUP) return Status::FromErrno(errno, "backing filesystem has no user xattrs: write header");
    return Status::FromErrno(errno, "write header");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<Volume>> Volume::Open(const std::string& backing_dir,
                                               format::VolumeConfig config,
                                               std::shared_ptr<kms::Client> kms,
                                               VolumeOptions options) {
  KMSFS_ASSIGN_OR_RETURN(format::Geometry geometry, format::GeometryFor(config.suite, config.block_size));
  int fd = open(backing_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open backing directory " + backing_dir);
  auto volume = std::unique_ptr<Volume>(new Volume(backing_dir, UniqueFd(fd), std::move(config), geometry,
                                                   std::move(kms), std::move(options)));
  return volume;
}

Volume::Volume(std::string backing_dir, UniqueFd root_fd, format::VolumeConfig config, format::Geometry geometry,
               std::shared_ptr<kms::Client> kms, VolumeOptions options)
    : backing_dir_(std::move(backing_dir)),
      root_fd_(std::move(root_fd)),
      config_(std::move(config)),
      default_geometry_(geometry),
      kms_(std::move(kms)),
      options_(std::move(options)),
      cache_(options_.cache),
      // Headers are remembered as long as keys are: a header alone saves an
      // xattr read, but a reopen without the key waits for the KMS anyway.
      headers_(options_.cache.ttl.count() > 0 ? options_.cache.max_entries : 0),
      readahead_(options_.readahead),
      unlinks_(root_fd_.get(), options_.unlinks) {
  if (!options_.read_only) {
    pool_ = std::make_unique<cache::DekPool>(
        options_.pool, [this](const SecretBytes& dek, const std::array<uint8_t, 16>& file_id) {
          return WrapDek(dek, file_id);
        });
  }
  if (pool_ != nullptr) {
    ready_ = std::make_unique<ReadyFiles>(
        options_.ready_files, [this](const std::string& dir_rel, mode_t mode, std::optional<cache::PooledDek> dek) {
          return MakeReadyFile(dir_rel, mode, std::move(dek));
        });
  }
  KeyPrefetcherOptions prefetch;
  const bool cache_on = options_.cache.ttl.count() > 0 && options_.cache.max_entries > 0;
  prefetch.concurrency = cache_on ? options_.prefetch_concurrency : 0;
  prefetch.interval = options_.prefetch_interval;
  prefetcher_ = std::make_unique<KeyPrefetcher>(
      prefetch, [this](const format::FileHeader& header) { return WarmKey(header); });
}

Volume::~Volume() {
  // Stop background KMS work before the cache and the client go away.
  prefetcher_.reset();
  ready_.reset();  // takes DEKs from pool_
  pool_.reset();
}

StatusOr<std::string> Volume::WrapDek(const SecretBytes& dek, const format::FileId& file_id) {
  kms_calls_.fetch_add(1, std::memory_order_relaxed);
  auto wrapped = kms_->EncryptDataKey(config_.key_id, dek, FileContext(file_id));
  if (!wrapped.ok()) kms_errors_.fetch_add(1, std::memory_order_relaxed);
  return wrapped;
}

StatusOr<SecretBytes> Volume::UnwrapDek(const format::FileHeader& header) {
  kms_calls_.fetch_add(1, std::memory_order_relaxed);
  auto dek = kms_->DecryptDataKey(header.key_id, header.wrapped_dek, kDekSize, FileContext(header.file_id));
  if (!dek.ok()) kms_errors_.fetch_add(1, std::memory_order_relaxed);
  return dek;
}

StatusOr<KeyPrefetcher::Outcome> Volume::WarmKey(const format::FileHeader& header) {
  // Files of another key or layout are rare (a copied-in file): their open
  // fails or is slow anyway, so prefetching stays with the volume's own.
  if (header.suite != config_.suite || header.block_size != config_.block_size ||
      header.key_id != config_.key_id) {
    return KeyPrefetcher::Outcome::kSkipped;
  }
  const std::string cache_id = format::FileIdHex(header.file_id);
  // Asking does not restart a cached key's TTL: a listing keeps no key alive.
  if (cache_.Contains(cache_id)) return KeyPrefetcher::Outcome::kAlreadyCached;
  // The same id and loader as Adopt, so an open racing with this shares the
  // one decrypt-datakey call and finds the key under the same entry.
  bool loaded = false;
  auto key = cache_.Get(cache_id, [&]() {
    loaded = true;
    return UnwrapDek(header);
  });
  if (!key.ok()) return key.status();
  // Dropping the handle unpins the entry: its TTL starts now.
  return loaded ? KeyPrefetcher::Outcome::kLoaded : KeyPrefetcher::Outcome::kAlreadyCached;
}

void Volume::PrefetchKeys(int dir_fd, std::vector<std::string> names, std::string dir_for_logs) {
  if (!prefetcher_->enabled() || names.empty()) return;
  UniqueFd dir = DupDirectoryFd(dir_fd);
  if (dir.valid()) prefetcher_->Prefetch(std::move(dir), std::move(names), std::move(dir_for_logs));
}

void Volume::NoteListing(int dir_fd, const std::string& dir_rel, std::vector<std::string> names) {
  if (names.empty()) return;
  if (readahead_.enabled()) {
    readahead_.NoteListing(dir_fd, dir_rel, prefetcher_->enabled() ? names : std::move(names));
  }
  if (!prefetcher_->enabled()) return;
  UniqueFd dir = DupDirectoryFd(dir_fd);
  if (!dir.valid()) return;
  Listing listing{std::move(dir), std::move(names), std::chrono::steady_clock::now()};
  std::lock_guard<std::mutex> lock(listings_mu_);
  listings_.insert_or_assign(dir_rel, std::move(listing));
  if (listings_.size() > kMaxListings) {
    auto oldest = listings_.begin();
    for (auto it = listings_.begin(); it != listings_.end(); ++it) {
      if (it->second.when < oldest->second.when) oldest = it;
    }
    listings_.erase(oldest);
  }
}

void Volume::PrefetchListingOf(const std::string& dir_rel) {
  Listing listing;
  {
    std::lock_guard<std::mutex> lock(listings_mu_);
    auto it = listings_.find(dir_rel);
    if (it == listings_.end()) return;
    listing = std::move(it->second);
    listings_.erase(it);
  }
  // A listing long past says little about what will be read next.
  if (std::chrono::steady_clock::now() - listing.when > kListingLifetime) return;
  prefetcher_->Prefetch(std::move(listing.dir), std::move(listing.names), dir_rel == "." ? "/" : "/" + dir_rel);
}

bool Volume::WaitForPrefetchIdle(std::chrono::milliseconds timeout) { return prefetcher_->WaitIdle(timeout); }

StatusOr<uint64_t> Volume::PlainSizeOf(uint64_t backing_size) const {
  return format::VisiblePlainSize(backing_size, default_geometry_);
}

StatusOr<std::shared_ptr<CryptFile>> Volume::MakeCryptFile(UniqueFd fd, format::FileHeader header,
                                                           cache::DekCache::Handle key,
                                                           std::unique_ptr<format::BlockCodec> codec) {
  if (codec == nullptr) {
    KMSFS_ASSIGN_OR_RETURN(codec, format::BlockCodec::New(header.suite, header.block_size, key.key(), header.file_id));
  }
  if (codec->geometry().block_size != default_geometry_.block_size ||
      codec->geometry().overhead != default_geometry_.overhead) {
    return Status::DataLoss("header's cipher suite or block size differs from the volume's");
  }
  return std::make_shared<CryptFile>(std::move(fd), std::move(header), std::move(codec), std::move(key));
}

format::FileHeader Volume::NewHeader(const cache::PooledDek& pooled) const {
  format::FileHeader header;
  header.suite = config_.suite;
  header.block_size = config_.block_size;
  header.file_id = pooled.file_id;
  header.key_id = config_.key_id;
  header.wrapped_dek = pooled.wrapped_dek;
  return header;
}

StatusOr<ReadyFiles::File> Volume::MakeReadyFile(const std::string& dir_rel, mode_t mode,
                                                 std::optional<cache::PooledDek> dek) {
  if (!dek.has_value()) {
    KMSFS_ASSIGN_OR_RETURN(cache::PooledDek fresh, pool_->Take());
    dek = std::move(fresh);
  }
  const int dir_fd = openat(root_fd_.get(), dir_rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) return Status::FromErrno(errno, "make a file ahead in " + dir_rel);
  UniqueFd dir(dir_fd);
  // Under a default ACL a new file's mode and ACL derive from the mode it is
  // created with, which a mode set when it is taken would not redo.
  if (fgetxattr(dir.get(), "system.posix_acl_default", nullptr, 0) >= 0) {
    return Status::FailedPrecondition(dir_rel + " has a default ACL");
  }
  // The header xattr needs the owner's write permission unless the daemon
  // may override it; the create sets a mode without it afterwards.
  const mode_t made_mode = (mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR) ? (mode & 07777) : 0600;
  const int fd = openat(dir.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, made_mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EOPNOTSUPP || err == EISDIR || err == EINVAL) return Status::FailedPrecondition("no O_TMPFILE here");
    return Status::FromErrno(err, "make a file ahead in " + dir_rel);
  }
  UniqueFd file(fd);
  KMSFS_RETURN_IF_ERROR(WriteFileHeader(file.get(), NewHeader(*dek), false));
  // The bits as made: the kernel may have dropped setgid.
  struct stat st;
  if (fstat(file.get(), &st) != 0) return Status::FromErrno(errno, "make a file ahead in " + dir_rel);
  KMSFS_ASSIGN_OR_RETURN(auto codec,
                         format::BlockCodec::New(config_.suite, config_.block_size, dek->dek, dek->file_id));
  return ReadyFiles::File{std::move(file), std::move(dek).value(), std::chrono::steady_clock::now(),
                          static_cast<mode_t>(st.st_mode & 07777), std::move(codec)};
}

StatusOr<std::shared_ptr<CryptFile>> Volume::CreateFile(const std::string& rel_path, mode_t mode,
                                                        uid_t uid, gid_t gid, bool exclusive) {
  if (options_.read_only) return Status::FromErrno(EROFS, "create " + rel_path);
  const std::string dir = DirName(rel_path);
  const bool chown_needed = uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1);
  UniqueFd file;
  cache::PooledDek pooled;
  std::unique_ptr<format::BlockCodec> codec;
  bool named = false;
  if (std::optional<ReadyFiles::File> ready = ready_ ? ready_->Take(dir, mode & 07777) : std::nullopt) {
    // Made ahead, with older times and maybe another mode: the create's mode, owner and now.
    file = std::move(ready->fd);
    pooled = std::move(ready->dek);
    codec = std::move(ready->codec);
    const bool chmod_needed = ready->mode != (mode & 07777);
    if ((chmod_needed && fchmod(file.get(), mode & 07777) != 0) || futimens(file.get(), nullptr) != 0 ||
        (chown_needed && fchown(file.get(), uid, gid) != 0)) {
      return Status::FromErrno(errno, "create " + rel_path);
    }
  } else {
    KMSFS_ASSIGN_OR_RETURN(pooled, pool_->Take());
    // The file gets its header while it is still nameless (O_TMPFILE), so no
    // crash can leave a named backing file without one. Filesystems without
    // O_TMPFILE fall back to create-then-set within this call.
    int fd = openat(root_fd_.get(), dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode & 07777);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
      fd = openat(root_fd_.get(), rel_path.c_str(), O_CREAT | O_EXCL | O_RDWR | kOpenFlags, mode & 07777);
      named = true;
    }
    if (fd < 0) return Status::FromErrno(errno, "create " + rel_path);
    file = UniqueFd(fd);
    auto undo = [&]() {
      if (named) unlinkat(root_fd_.get(), rel_path.c_str(), 0);
    };
    if (Status s = WriteFileHeader(file.get(), NewHeader(pooled), false); !s.ok()) {
      undo();
      return s.Annotate(rel_path);
    }
    if (chown_needed && fchown(file.get(), uid, gid) != 0) {
      int err = errno;
      undo();
      return Status::FromErrno(err, "chown " + rel_path);
    }
  }
  if (!named && LinkNameless(file.get(), root_fd_.get(), rel_path) != 0) {
    int err = errno;
    if (err == EEXIST && !exclusive) return OpenFile(rel_path, true);
    return Status::FromErrno(err, "link " + rel_path);
  }
  return AdoptCreated(std::move(file), std::move(pooled), std::move(codec));
}

StatusOr<std::shared_ptr<CryptFile>> Volume::AdoptCreated(UniqueFd fd, cache::PooledDek pooled,
                                                          std::unique_ptr<format::BlockCodec> codec) {
  format::FileHeader header = NewHeader(pooled);
  cache::DekCache::Handle key = cache_.Insert(format::FileIdHex(header.file_id), std::move(pooled.dek));
  KMSFS_ASSIGN_OR_RETURN(auto crypt,
                         MakeCryptFile(std::move(fd), std::move(header), std::move(key), std::move(codec)));
  struct stat st;
  if (fstat(crypt->fd(), &st) == 0) {
    headers_.Put(st, crypt->header());
    std::lock_guard<std::mutex> lock(open_mu_);
    open_files_[{st.st_dev, st.st_ino}] = {crypt, true};
  }
  return crypt;
}

StatusOr<std::shared_ptr<CryptFile>> Volume::OpenFile(const std::string& rel_path, bool for_write) {
  KMSFS_ASSIGN_OR_RETURN(UniqueFd fd, OpenBacking(root_fd_.get(), rel_path, options_.read_only, for_write));
  if (!for_write) readahead_.NoteOpen(DirName(rel_path), BaseName(rel_path));
  return Adopt(std::move(fd), rel_path, for_write);
}

StatusOr<std::shared_ptr<CryptFile>> Volume::Adopt(UniqueFd fd, const std::string& rel_path, bool for_write) {
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "fstat " + rel_path);
  if (!S_ISREG(st.st_mode)) return Status::FromErrno(EINVAL, "open " + rel_path + ": not a regular file");
  const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
  // An object of this inode may still be open: another handle holds it, or
  // the kernel has not yet sent the release of a file just closed (release
  // is asynchronous). It is shared only while its header is still the one
  // on disk, since the xattr may have been changed behind the mount.
  std::shared_ptr<CryptFile> existing;
  bool existing_header_read = false;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    auto it = open_files_.find(id);
    if (it != open_files_.end()) {
      existing = it->second.file.lock();
      existing_header_read = it->second.header_read;
      if (existing == nullptr) open_files_.erase(it);
    }
  }
  // A read may use the header this mount saw for the file as it is now
  // (same inode, times and size; any xattr change moves ctime). A new
  // object for a write always reads it: if a reused inode number ever
  // matched a stale entry, a read would only fail to authenticate, but a
  // write would encrypt under another file's key. (While an object is open
  // its fd pins the inode, so its number cannot be reused.)
  std::optional<format::FileHeader> remembered;
  if (!for_write || existing != nullptr) remembered = headers_.Find(st);
  if (existing != nullptr && remembered && *remembered == existing->header() &&
      (!for_write || existing_header_read)) {
    return existing;
  }
  if (for_write) remembered.reset();
  const bool header_read = !remembered.has_value();
  StatusOr<format::FileHeader> header =
      remembered ? StatusOr<format::FileHeader>(std::move(*remembered)) : ReadFileHeader(fd.get());
  if (!header.ok()) return header.status().Annotate(rel_path);
  if (header_read) headers_.Put(st, *header);
  if (existing != nullptr && *header == existing->header()) {
    std::lock_guard<std::mutex> lock(open_mu_);
    auto it = open_files_.find(id);
    if (header_read && it != open_files_.end() && it->second.file.lock() == existing) it->second.header_read = true;
    return existing;
  }
  const std::string cache_id = format::FileIdHex(header->file_id);
  // A miss in a directory that was just listed: the other files' keys will
  // likely be wanted next, so fetch them while this one loads.
  if (!cache_.Contains(cache_id)) PrefetchListingOf(DirName(rel_path));
  auto key = cache_.Get(cache_id, [&]() { return UnwrapDek(*header); });
  if (!key.ok()) {
    const Status& s = key.status();
    if (s.code() == StatusCode::kUnavailable) {
      return s.Annotate("KMS unreachable for decrypt-datakey on key " + header->key_id);
    }
    // Any answer from the KMS other than the key is a refusal: the user may
    // not (or no longer) use this key, or the key cannot be used (disabled,
    // material deleted). The application sees EACCES.
    return Status(StatusCode::kPermissionDenied, "KMS refused decrypt-datakey on key " + header->key_id + " for " +
                                                     kms_->PrincipalDescription() + ": " + s.message())
        .WithKmsError(s.kms_error_code(), s.http_status());
  }
  KMSFS_ASSIGN_OR_RETURN(auto crypt, MakeCryptFile(std::move(fd), std::move(header).value(), std::move(key).value()));
  std::lock_guard<std::mutex> lock(open_mu_);
  // Another thread may have opened the same inode meanwhile: share its
  // object if it has our header, unless only ours has a header read from the
  // xattr. A stale object (its header no longer on disk) keeps serving only
  // the handles that hold it.
  auto& slot = open_files_[id];
  if (auto other = slot.file.lock(); other != nullptr && other != existing && other->header() == crypt->header() &&
                                     (slot.header_read || !header_read)) {
    return other;
  }
  slot = {crypt, header_read};
  return crypt;
}

void Volume::RememberHeader(const CryptFile& file) {
  struct stat before;
  if (fstat(file.fd(), &before) != 0 || headers_.Current(before)) return;
  auto on_disk = ReadFileHeader(file.fd());
  struct stat after;
  if (!on_disk.ok() || *on_disk != file.header() || fstat(file.fd(), &after) != 0) return;
  // Recorded only if nothing changed the file while its xattr was read.
  if (before.st_ctim.tv_sec == after.st_ctim.tv_sec && before.st_ctim.tv_nsec == after.st_ctim.tv_nsec) {
    headers_.Put(after, *on_disk);
  }
}

void Volume::ForgetHeaderOf(const std::string& rel_path) {
  struct stat st;
  if (fstatat(root_fd_.get(), rel_path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
    headers_.Forget(st.st_dev, st.st_ino);
  }
}

Status Volume::Unlink(const std::string& rel_path) {
  struct stat st;
  if (fstatat(root_fd_.get(), rel_path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Status::FromErrno(errno, "unlink " + rel_path);
  }
  if (S_ISDIR(st.st_mode)) return Status::FromErrno(EISDIR, "unlink " + rel_path);
  if (S_ISREG(st.st_mode)) headers_.Forget(st.st_dev, st.st_ino);
  // The checks unlinkat itself makes of the directory (write and search
  // permission for the daemon, a read-write filesystem); the name's own
  // inode matters only for append-only or immutable files, which are rare
  // enough to be left to the worker's log.
  if (faccessat(root_fd_.get(), DirName(rel_path).c_str(), W_OK | X_OK, AT_EACCESS) == 0 &&
      unlinks_.Defer(rel_path)) {
    return Status::Ok();
  }
  if (unlinkat(root_fd_.get(), rel_path.c_str(), 0) != 0) return Status::FromErrno(errno, "unlink " + rel_path);
  return Status::Ok();
}

void Volume::Tick() {
  cache_.EvictExpired();
  {
    // A remembered listing holds its directory open: let stale ones go, so a
    // deleted directory's inode is freed and no fd outlives its use.
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(listings_mu_);
    std::erase_if(listings_, [&](const auto& entry) { return now - entry.second.when > kListingLifetime; });
  }
  readahead_.ForgetStale();
  if (ready_) ready_->DropStale();
  std::lock_guard<std::mutex> lock(open_mu_);
  for (auto it = open_files_.begin(); it != open_files_.end();) {
    it = it->second.file.expired() ? open_files_.erase(it) : std::next(it);
  }
}

VolumeStats Volume::stats() const {
  VolumeStats s;
  s.cache = cache_.stats();
  if (pool_) s.pool = pool_->stats();
  s.kms_calls = kms_calls_.load();
  s.kms_errors = kms_errors_.load();
  s.prefetch = prefetcher_->stats();
  s.readahead = readahead_.stats();
  s.unlinks = unlinks_.stats();
  if (ready_) s.ready_files = ready_->stats();
  s.headers = headers_.stats();
  std::lock_guard<std::mutex> lock(open_mu_);
  for (const auto& [id, open] : open_files_) s.open_files += open.file.expired() ? 0 : 1;
  return s;
}

}  // namespace kmsfs::core
