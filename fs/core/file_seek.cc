#include "fs/core/file_seek.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "fs/format/offsets.h"

namespace kmsfs::core {

StatusOr<off_t> SeekDataOrHole(CryptFile& file, off_t offset, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Status::FromErrno(EINVAL, "lseek");
  if (offset < 0) return Status::FromErrno(ENXIO, "lseek");
  const format::Geometry& g = file.geometry();
  KMSFS_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  const uint64_t off = static_cast<uint64_t>(offset);
  if (off >= size) return Status::FromErrno(ENXIO, "lseek");
  const uint64_t s = g.sealed_block_size();
  const int fd = file.fd();
  // The block a backing offset at or past the header region falls in.
  auto block_at = [&](off_t backing) { return (static_cast<uint64_t>(backing) - g.data_offset) / s; };
  uint64_t block = format::BlockIndex(off, g);
  if (whence == SEEK_DATA) {
    const off_t found = lseek(fd, static_cast<off_t>(format::BackingOffset(block, g)), SEEK_DATA);
    if (found < 0) return Status::FromErrno(errno, "lseek");  // ENXIO: only holes remain
    // The data lies in this block, which starts here.
    const uint64_t plain = std::max(off, block_at(found) * g.block_size);
    if (plain >= size) return Status::FromErrno(ENXIO, "lseek");
    return static_cast<off_t>(plain);
  }
  // SEEK_HOLE: the first block from here whose sealed bytes hold no data.
  const uint64_t blocks = format::BlockCount(size, g);
  while (block < blocks) {
    const off_t hole = lseek(fd, static_cast<off_t>(format::BackingOffset(block, g)), SEEK_HOLE);
    if (hole < 0) return Status::FromErrno(errno, "lseek");
    block = (static_cast<uint64_t>(hole) - g.data_offset + s - 1) / s;  // first block starting in the hole
    if (block >= blocks) break;
    const off_t data = lseek(fd, static_cast<off_t>(format::BackingOffset(block, g)), SEEK_DATA);
    if (data < 0 && errno != ENXIO) return Status::FromErrno(errno, "lseek");
    if (data < 0 || static_cast<uint64_t>(data) >= format::BackingOffset(block + 1, g)) {
      return static_cast<off_t>(std::max(off, block * g.block_size));
    }
    block = block_at(data);  // data in that block: look past it
    ++block;
  }
  return static_cast<off_t>(size);  // the end of file is a hole
}

}  // namespace kmsfs::core
