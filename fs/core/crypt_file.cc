#include "fs/core/crypt_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "fs/format/offsets.h"

namespace kmsfs::core {
namespace {

// Per-thread scratch buffers: FUSE requests are up to 1 MiB, and allocating
// (and zeroing) that much per request costs more than the crypto.
std::vector<uint8_t>& SealedScratch(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}
std::vector<uint8_t>& PlainScratch(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}
// Whole-block writes sealed before the file's lock is taken; separate from
// SealedScratch because padding the old last block under the lock uses that.
std::vector<uint8_t>& PresealedScratch(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}
// Used only by unaligned reads; separate from PlainScratch because a write's
// read-modify-write reads into PlainScratch.
std::vector<uint8_t>& BounceScratch(size_t n) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf;
}

}  // namespace

CryptFile::CryptFile(UniqueFd fd, format::FileHeader header,
                     std::unique_ptr<format::BlockCodec> codec, cache::DekCache::Handle key)
    : fd_(std::move(fd)), header_(std::move(header)), codec_(std::move(codec)), key_(std::move(key)) {}

StatusOr<uint64_t> CryptFile::SizeLocked() {
  struct stat st;
  if (fstat(fd_.get(), &st) != 0) return Status::FromErrno(errno, "fstat");
  return format::PlainSize(static_cast<uint64_t>(st.st_size), codec_->geometry());
}

StatusOr<uint64_t> CryptFile::Size() {
  std::shared_lock lock(content_mu_);
  return SizeLocked();
}

StatusOr<size_t> CryptFile::Read(uint64_t offset, std::span<uint8_t> out) {
  std::shared_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
  return ReadLocked(offset, out, size);
}

StatusOr<size_t> CryptFile::ReadLocked(uint64_t offset, std::span<uint8_t> out, uint64_t size) {
  if (offset >= size || out.empty()) return size_t{0};
  const format::Geometry& g = codec_->geometry();
  const uint64_t end = std::min<uint64_t>(size, offset + out.size());
  const uint64_t first = format::BlockIndex(offset, g);
  const uint64_t last = format::BlockIndex(end - 1, g);
  // Plaintext held by blocks first..last (the final one may be the file's partial last block).
  const uint64_t plain_begin = first * g.block_size;
  const uint64_t plain_end = std::min<uint64_t>((last + 1) * g.block_size, size);
  const uint64_t plain_len = plain_end - plain_begin;
  const uint64_t sealed_len = format::BackingSize(plain_len, g);

  std::vector<uint8_t>& sealed = SealedScratch(sealed_len);
  KMSFS_ASSIGN_OR_RETURN(size_t got, PreadFull(fd_.get(), sealed.data(), sealed_len,
                                               static_cast<off_t>(format::BackingOffset(first, g))));
  if (got != sealed_len) {
    return Status::DataLoss("backing file shrank during read at block " + std::to_string(first));
  }
  // Whole-block-aligned reads decrypt straight into the caller's buffer.
  const bool direct = offset == plain_begin && end == plain_end;
  std::span<uint8_t> plain =
      direct ? out.first(plain_len) : std::span<uint8_t>(BounceScratch(plain_len).data(), plain_len);
  KMSFS_RETURN_IF_ERROR(codec_->Open(first, {sealed.data(), sealed_len}, plain));
  if (!direct) std::memcpy(out.data(), plain.data() + (offset - plain_begin), end - offset);
  return static_cast<size_t>(end - offset);
}

StatusOr<size_t> CryptFile::Write(uint64_t offset, std::span<const uint8_t> data) {
  const format::Geometry& g = codec_->geometry();
  if (!data.empty() && offset % g.block_size == 0 && data.size() % g.block_size == 0) {
    // Whole blocks (the kernel's page writeback): nothing to merge, so the
    // blocks are sealed before the file's lock is taken and concurrent
    // writeback requests for one file encrypt in parallel.
    const uint64_t first = offset / g.block_size;
    const uint64_t sealed_len = format::BackingSize(data.size(), g);
    std::vector<uint8_t>& sealed = PresealedScratch(sealed_len);
    KMSFS_RETURN_IF_ERROR(codec_->Seal(first, data, {sealed.data(), sealed_len}));
    std::unique_lock lock(content_mu_);
    KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
    KMSFS_ASSIGN_OR_RETURN(bool padded, PadOldLastBlockLocked(first, &size));
    KMSFS_RETURN_IF_ERROR(StoreSealedLocked(first, {sealed.data(), sealed_len}, size, padded));
    return data.size();
  }
  std::unique_lock lock(content_mu_);
  return WriteLocked(offset, data);
}

StatusOr<bool> CryptFile::PadOldLastBlockLocked(uint64_t first, uint64_t* size) {
  const uint64_t bs = codec_->geometry().block_size;
  if (*size % bs == 0 || *size / bs >= first) return false;
  const uint64_t old_last = *size / bs;
  KMSFS_RETURN_IF_ERROR(
      ResizeBlockLocked(old_last, static_cast<uint32_t>(*size - old_last * bs), static_cast<uint32_t>(bs)));
  *size = (old_last + 1) * bs;
  return true;
}

Status CryptFile::StoreSealedLocked(uint64_t first, std::span<const uint8_t> sealed, uint64_t size,
                                    bool rewrites_existing) {
  const format::Geometry& g = codec_->geometry();
  const uint64_t write_at = format::BackingOffset(first, g);
  const uint64_t backing_end = format::BackingSize(size, g);
  rewrites_existing = rewrites_existing || write_at < backing_end;
  // An extending write that also rewrites a block already in the file (the
  // old partial last block, merged by read-modify-write) reserves its space
  // first: running out of space half way through would tear that block and
  // lose its old bytes. ENOSPC then changes nothing. A write wholly past the
  // old end (appends at a block boundary, new files) skips that system call:
  // if it fails part way, cutting the file back to its old length undoes it.
  if (rewrites_existing && write_at + sealed.size() > backing_end &&
      fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(backing_end),
                static_cast<off_t>(write_at + sealed.size() - backing_end)) != 0 &&
      errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "reserve space");
  }
  Status written = PwriteFull(fd_.get(), sealed.data(), sealed.size(), static_cast<off_t>(write_at));
  if (!written.ok() && !rewrites_existing && ftruncate(fd_.get(), static_cast<off_t>(backing_end)) != 0) {
    return written.Annotate("and cutting the file back failed: " + std::string(std::strerror(errno)));
  }
  return written;
}

StatusOr<uint64_t> CryptFile::Append(std::span<const uint8_t> data) {
  std::unique_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
  KMSFS_RETURN_IF_ERROR(WriteLocked(size, data).status());
  return size;
}

StatusOr<size_t> CryptFile::WriteLocked(uint64_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return size_t{0};
  const format::Geometry& g = codec_->geometry();
  const uint64_t bs = g.block_size;
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
  const uint64_t end = offset + data.size();
  const uint64_t first = offset / bs;
  const uint64_t last = (end - 1) / bs;
  // The old partial last block stops being last when the write starts in a
  // later block: pad it to a full block first.
  KMSFS_ASSIGN_OR_RETURN(bool padded, PadOldLastBlockLocked(first, &size));

  const uint64_t new_size = std::max(size, end);
  const uint64_t plain_begin = first * bs;
  const uint64_t plain_end = std::min((last + 1) * bs, new_size);
  const uint64_t plain_len = plain_end - plain_begin;
  std::vector<uint8_t>& plain = PlainScratch(plain_len);

  // Existing bytes the write does not cover: the head block before `offset`
  // and the tail block after `end`, where they exist in the file.
  const uint64_t existing_end = std::min(plain_end, size);
  const bool head_partial = offset > plain_begin && plain_begin < size;
  const bool tail_partial = end < existing_end;
  if (head_partial || tail_partial) {
    std::memset(plain.data(), 0, plain_len);
    auto load_block = [&](uint64_t block) -> Status {
      const uint64_t b_begin = block * bs;
      const uint64_t b_len = std::min(bs, size - b_begin);
      KMSFS_ASSIGN_OR_RETURN(size_t n, ReadLocked(b_begin, {plain.data() + (b_begin - plain_begin), b_len}, size));
      if (n != b_len) return Status::DataLoss("short read of block " + std::to_string(block));
      return Status::Ok();
    };
    if (head_partial) KMSFS_RETURN_IF_ERROR(load_block(first));
    if (tail_partial && (last != first || !head_partial)) KMSFS_RETURN_IF_ERROR(load_block(last));
  } else if (offset > plain_begin) {
    // Head block lies past the old end of file: the gap before `offset` reads as zeros.
    std::memset(plain.data(), 0, offset - plain_begin);
  }
  // A write that covers its blocks exactly (the kernel's page writeback:
  // block-aligned, up to the end of file) is sealed straight from the
  // request, without staging a copy.
  const bool covers_blocks = !head_partial && !tail_partial && offset == plain_begin && data.size() == plain_len;
  if (!covers_blocks) std::memcpy(plain.data() + (offset - plain_begin), data.data(), data.size());
  std::span<const uint8_t> plain_blocks = covers_blocks ? data : std::span<const uint8_t>(plain.data(), plain_len);

  const uint64_t sealed_len = format::BackingSize(plain_len, g);
  std::vector<uint8_t>& sealed = SealedScratch(sealed_len);
  KMSFS_RETURN_IF_ERROR(codec_->Seal(first, plain_blocks, {sealed.data(), sealed_len}));
  KMSFS_RETURN_IF_ERROR(StoreSealedLocked(first, {sealed.data(), sealed_len}, size, padded));
  return data.size();
}

Status CryptFile::ResizeBlockLocked(uint64_t block, uint32_t old_len, uint32_t new_len) {
  const format::Geometry& g = codec_->geometry();
  const uint64_t b_begin = block * g.block_size;
  std::vector<uint8_t>& plain = PlainScratch(std::max(old_len, new_len));
  KMSFS_ASSIGN_OR_RETURN(size_t n, ReadLocked(b_begin, {plain.data(), old_len}, b_begin + old_len));
  if (n != old_len) return Status::DataLoss("short read of block " + std::to_string(block));
  if (new_len > old_len) std::memset(plain.data() + old_len, 0, new_len - old_len);
  const uint64_t sealed_len = format::BackingSize(new_len, g);
  std::vector<uint8_t>& sealed = SealedScratch(sealed_len);
  KMSFS_RETURN_IF_ERROR(codec_->Seal(block, {plain.data(), new_len}, {sealed.data(), sealed_len}));
  return PwriteFull(fd_.get(), sealed.data(), sealed_len, static_cast<off_t>(format::BackingOffset(block, g)));
}

Status CryptFile::Truncate(uint64_t size) {
  std::unique_lock lock(content_mu_);
  return TruncateLocked(size);
}

Status CryptFile::TruncateLocked(uint64_t new_size) {
  const format::Geometry& g = codec_->geometry();
  const uint64_t bs = g.block_size;
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
  if (new_size == size) return Status::Ok();
  if (new_size < size) {
    const uint64_t block = new_size / bs;
    const uint32_t keep = static_cast<uint32_t>(new_size % bs);
    if (keep != 0) {
      const uint32_t old_len = static_cast<uint32_t>(std::min(bs, size - block * bs));
      KMSFS_RETURN_IF_ERROR(ResizeBlockLocked(block, old_len, keep));
    }
  } else if (size % bs != 0) {
    // Growing: the old partial last block gets zero padding up to the new end
    // or to a full block; everything past it becomes holes.
    const uint64_t block = size / bs;
    const uint32_t old_len = static_cast<uint32_t>(size - block * bs);
    const uint32_t new_len = static_cast<uint32_t>(std::min(bs, new_size - block * bs));
    KMSFS_RETURN_IF_ERROR(ResizeBlockLocked(block, old_len, new_len));
  }
  if (ftruncate(fd_.get(), static_cast<off_t>(format::BackingSize(new_size, g))) != 0) {
    return Status::FromErrno(errno, "ftruncate");
  }
  return Status::Ok();
}

Status CryptFile::Allocate(uint64_t offset, uint64_t length) {
  std::unique_lock lock(content_mu_);
  const format::Geometry& g = codec_->geometry();
  const uint64_t end = offset + length;
  // Reserve the backing space first so ENOSPC surfaces before anything changes.
  const uint64_t backing_end = format::BackingSize(end, g);
  const uint64_t backing_begin = format::BackingOffset(format::BlockIndex(offset, g), g);
  if (fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(backing_begin),
                static_cast<off_t>(backing_end - backing_begin)) != 0 &&
      errno != EOPNOTSUPP) {
    return Status::FromErrno(errno, "fallocate");
  }
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, SizeLocked());
  if (end > size) return TruncateLocked(end);
  return Status::Ok();
}

Status CryptFile::Sync(bool datasync) {
  int rc = datasync ? fdatasync(fd_.get()) : fsync(fd_.get());
  if (rc != 0) return Status::FromErrno(errno, datasync ? "fdatasync" : "fsync");
  return Status::Ok();
}

}  // namespace kmsfs::core
