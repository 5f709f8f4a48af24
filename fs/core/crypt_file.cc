#include "fs/core/crypt_file.h"

#include <algorithm>
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
// The sealed blocks of a write, sealed before padding the old last block
// (which uses SealedScratch and PlainScratch) and, for whole blocks, before
// the file's lock is taken.
std::vector<uint8_t>& WriteScratch(size_t n) {
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
// The sealed bytes a BackingEdit saves to undo a failed change.
std::vector<uint8_t>& UndoScratch() {
  thread_local std::vector<uint8_t> buf;
  return buf;
}

}  // namespace

namespace {

format::Geometry WithDataOffset(format::Geometry g, uint32_t data_offset) {
  g.data_offset = data_offset;
  return g;
}

}  // namespace

CryptFile::CryptFile(UniqueFd fd, format::FileHeader header, std::unique_ptr<format::BlockCodec> codec,
                     cache::DekCache::Handle key, uint32_t data_offset)
    : CryptFile(std::make_unique<FdBackingFile>(std::move(fd)), std::move(header), std::move(codec),
                std::move(key), data_offset) {}

CryptFile::CryptFile(std::unique_ptr<BackingFile> file, format::FileHeader header,
                     std::unique_ptr<format::BlockCodec> codec, cache::DekCache::Handle key, uint32_t data_offset)
    : file_(std::move(file)),
      header_(std::move(header)),
      codec_(std::move(codec)),
      geometry_(WithDataOffset(codec_->geometry(), data_offset)),
      key_(std::move(key)) {}

StatusOr<CryptFile::Sizes> CryptFile::SizesLocked() {
  KMSFS_ASSIGN_OR_RETURN(uint64_t backing, file_->Size());
  return Sizes{backing, format::VisiblePlainSize(backing, geometry_)};
}

StatusOr<uint64_t> CryptFile::Size() {
  std::shared_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  return sizes.plain;
}

StatusOr<size_t> CryptFile::Read(uint64_t offset, std::span<uint8_t> out) {
  std::shared_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  return ReadLocked(offset, out, sizes.plain);
}

StatusOr<size_t> CryptFile::ReadLocked(uint64_t offset, std::span<uint8_t> out, uint64_t size) {
  if (offset >= size || out.empty()) return size_t{0};
  const format::Geometry& g = geometry_;
  const uint64_t end = std::min<uint64_t>(size, offset + out.size());
  const uint64_t first = format::BlockIndex(offset, g);
  const uint64_t last = format::BlockIndex(end - 1, g);
  // Plaintext held by blocks first..last (the final one may be the file's partial last block).
  const uint64_t plain_begin = first * g.block_size;
  const uint64_t plain_end = std::min<uint64_t>((last + 1) * g.block_size, size);
  const uint64_t plain_len = plain_end - plain_begin;
  const uint64_t sealed_len = format::SealedSize(plain_len, g);

  std::vector<uint8_t>& sealed = SealedScratch(sealed_len);
  KMSFS_ASSIGN_OR_RETURN(size_t got, PreadAll(*file_, {sealed.data(), sealed_len}, format::BackingOffset(first, g)));
  if (got != sealed_len) {
    // A file cut inside a block (VisiblePlainSize counts a piece too short
    // for any data as one byte), or cut by someone else during the read.
    const uint64_t bad = first + got / g.sealed_block_size();
    return Status::DataLoss("block " + std::to_string(bad) + " is cut short: the backing file ends " +
                            std::to_string(got % g.sealed_block_size()) + " bytes into it");
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
  if (data.empty()) return size_t{0};
  const format::Geometry& g = geometry_;
  if (offset % g.block_size == 0 && data.size() % g.block_size == 0) {
    // Whole blocks (the kernel's page writeback): nothing to merge, so the
    // blocks are sealed before the file's lock is taken and concurrent
    // writeback requests for one file encrypt in parallel.
    const uint64_t first = offset / g.block_size;
    const uint64_t sealed_len = format::SealedSize(data.size(), g);
    std::vector<uint8_t>& sealed = WriteScratch(sealed_len);
    KMSFS_RETURN_IF_ERROR(codec_->Seal(first, data, {sealed.data(), sealed_len}));
    std::unique_lock lock(content_mu_);
    KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
    BackingEdit edit(*file_, sizes.backing, UndoScratch());
    KMSFS_RETURN_IF_ERROR(edit.Finish(StoreSealedLocked(edit, first, {sealed.data(), sealed_len}, sizes.plain)));
    return data.size();
  }
  std::unique_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  BackingEdit edit(*file_, sizes.backing, UndoScratch());
  KMSFS_RETURN_IF_ERROR(edit.Finish(WriteLocked(edit, offset, data, sizes.plain)));
  return data.size();
}

StatusOr<uint64_t> CryptFile::Append(std::span<const uint8_t> data) {
  std::unique_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  if (data.empty()) return sizes.plain;
  BackingEdit edit(*file_, sizes.backing, UndoScratch());
  KMSFS_RETURN_IF_ERROR(edit.Finish(WriteLocked(edit, sizes.plain, data, sizes.plain)));
  return sizes.plain;
}

Status CryptFile::WriteLocked(BackingEdit& edit, uint64_t offset, std::span<const uint8_t> data, uint64_t size) {
  const format::Geometry& g = geometry_;
  const uint64_t bs = g.block_size;
  const uint64_t end = offset + data.size();
  const uint64_t first = offset / bs;
  const uint64_t last = (end - 1) / bs;

  const uint64_t new_size = std::max(size, end);
  const uint64_t plain_begin = first * bs;
  const uint64_t plain_end = std::min((last + 1) * bs, new_size);
  const uint64_t plain_len = plain_end - plain_begin;
  std::vector<uint8_t>& plain = PlainScratch(plain_len);

  // Existing bytes the write does not cover: the head block before `offset`
  // and the tail block after `end`, where they exist in the file. (When the
  // write starts past the old partial last block, neither does: that block
  // is padded separately, in StoreSealedLocked.)
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
  // A write that covers its blocks exactly (block-aligned, up to the end of
  // file) is sealed straight from the request, without staging a copy.
  const bool covers_blocks = !head_partial && !tail_partial && offset == plain_begin && data.size() == plain_len;
  if (!covers_blocks) std::memcpy(plain.data() + (offset - plain_begin), data.data(), data.size());
  std::span<const uint8_t> plain_blocks = covers_blocks ? data : std::span<const uint8_t>(plain.data(), plain_len);

  const uint64_t sealed_len = format::SealedSize(plain_len, g);
  std::vector<uint8_t>& sealed = WriteScratch(sealed_len);
  KMSFS_RETURN_IF_ERROR(codec_->Seal(first, plain_blocks, {sealed.data(), sealed_len}));
  return StoreSealedLocked(edit, first, {sealed.data(), sealed_len}, size);
}

Status CryptFile::StoreSealedLocked(BackingEdit& edit, uint64_t first, std::span<const uint8_t> sealed,
                                    uint64_t size) {
  const format::Geometry& g = geometry_;
  const uint64_t bs = g.block_size;
  const uint64_t write_at = format::BackingOffset(first, g);
  const uint64_t write_end = write_at + sealed.size();
  // The old partial last block stops being last when the write starts in a
  // later block: it is padded to a full block first.
  const bool pads = size % bs != 0 && size / bs < first;
  // An extending write that also changes bytes already in the file (the old
  // partial last block, padded or merged) reserves its new space before it
  // changes anything, so a full disk fails it with nothing to undo. A write
  // wholly past the old end (appends at a block boundary, new files) skips
  // that system call: undoing it is cutting the file back.
  if (pads || write_at < edit.old_size()) {
    KMSFS_RETURN_IF_ERROR(edit.Reserve(std::max(write_at, edit.old_size()), write_end));
  }
  if (pads) {
    const uint64_t old_last = size / bs;
    KMSFS_RETURN_IF_ERROR(
        ResizeBlockLocked(edit, old_last, static_cast<uint32_t>(size - old_last * bs), static_cast<uint32_t>(bs)));
  }
  return edit.Write(write_at, sealed);
}

Status CryptFile::ResizeBlockLocked(BackingEdit& edit, uint64_t block, uint32_t old_len, uint32_t new_len) {
  const format::Geometry& g = geometry_;
  const uint64_t b_begin = block * g.block_size;
  std::vector<uint8_t>& plain = PlainScratch(std::max(old_len, new_len));
  KMSFS_ASSIGN_OR_RETURN(size_t n, ReadLocked(b_begin, {plain.data(), old_len}, b_begin + old_len));
  if (n != old_len) return Status::DataLoss("short read of block " + std::to_string(block));
  if (new_len > old_len) std::memset(plain.data() + old_len, 0, new_len - old_len);
  const uint64_t sealed_len = format::SealedSize(new_len, g);
  std::vector<uint8_t>& sealed = SealedScratch(sealed_len);
  KMSFS_RETURN_IF_ERROR(codec_->Seal(block, {plain.data(), new_len}, {sealed.data(), sealed_len}));
  const uint64_t at = format::BackingOffset(block, g);
  if (new_len > old_len) KMSFS_RETURN_IF_ERROR(edit.Reserve(std::max(at, edit.old_size()), at + sealed_len));
  return edit.Write(at, {sealed.data(), sealed_len});
}

Status CryptFile::Truncate(uint64_t size) {
  std::unique_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  if (size == sizes.plain) return Status::Ok();
  BackingEdit edit(*file_, sizes.backing, UndoScratch());
  return edit.Finish(size < sizes.plain ? ShrinkLocked(edit, sizes.plain, size) : GrowLocked(edit, sizes.plain, size));
}

Status CryptFile::GrowLocked(BackingEdit& edit, uint64_t size, uint64_t new_size) {
  const format::Geometry& g = geometry_;
  const uint64_t bs = g.block_size;
  if (size % bs != 0) {
    const uint64_t block = size / bs;
    const uint32_t old_len = static_cast<uint32_t>(size - block * bs);
    const uint32_t new_len = static_cast<uint32_t>(std::min(bs, new_size - block * bs));
    KMSFS_RETURN_IF_ERROR(ResizeBlockLocked(edit, block, old_len, new_len));
  }
  return edit.Truncate(format::BackingSize(new_size, g));
}

Status CryptFile::ShrinkLocked(BackingEdit& edit, uint64_t size, uint64_t new_size) {
  const format::Geometry& g = geometry_;
  const uint64_t bs = g.block_size;
  const uint64_t block = new_size / bs;
  const uint32_t keep = static_cast<uint32_t>(new_size % bs);
  if (keep != 0) {
    // The new last block is re-sealed short in place; the bytes past it go
    // with the cut, which comes last because it cannot be undone.
    const uint32_t old_len = static_cast<uint32_t>(std::min(bs, size - block * bs));
    KMSFS_RETURN_IF_ERROR(ResizeBlockLocked(edit, block, old_len, keep));
  }
  return edit.Truncate(format::BackingSize(new_size, g));
}

Status CryptFile::Allocate(uint64_t offset, uint64_t length) {
  if (length == 0) return Status::InvalidArgument("fallocate of zero bytes");
  const format::Geometry& g = geometry_;
  const uint64_t bs = g.block_size;
  std::unique_lock lock(content_mu_);
  KMSFS_ASSIGN_OR_RETURN(Sizes sizes, SizesLocked());
  const uint64_t end = offset + length;
  const uint64_t new_size = std::max(sizes.plain, end);
  // Every block the range touches, whole, as it will be stored once the
  // file is new_size long: later writes there then need no new space.
  const uint64_t reserve_begin = format::BackingOffset(format::BlockIndex(offset, g), g);
  const uint64_t reserve_end = format::BackingSize(std::min((format::BlockIndex(end - 1, g) + 1) * bs, new_size), g);
  BackingEdit edit(*file_, sizes.backing, UndoScratch());
  Status status = edit.Reserve(reserve_begin, reserve_end);
  if (status.ok() && end > sizes.plain) status = GrowLocked(edit, sizes.plain, end);
  return edit.Finish(status);
}

Status CryptFile::Sync(bool datasync) { return file_->Sync(datasync); }

}  // namespace kmsfs::core
