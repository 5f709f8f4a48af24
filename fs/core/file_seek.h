// SEEK_DATA and SEEK_HOLE over an encrypted file, in plaintext offsets.
//
// The backing filesystem knows where the backing file has data and holes; a
// plaintext block is data when any byte of its sealed block is stored. So the
// backing answer, found from the start of the block holding `offset`, is
// mapped back to plaintext at block granularity: data starts at a block's
// first byte, a hole at the first block wholly inside a backing hole (or at
// the end of file). As on any filesystem, reporting more data than there is
// is allowed; never less.
//
// Thread-safety: as CryptFile.
#ifndef KMSFS_FS_CORE_FILE_SEEK_H_
#define KMSFS_FS_CORE_FILE_SEEK_H_

#include <sys/types.h>

#include "base/status.h"
#include "fs/core/crypt_file.h"

namespace kmsfs::core {

// lseek(SEEK_DATA or SEEK_HOLE) of `file` from plaintext `offset`: ENXIO at
// or past the end of file (as lseek), EINVAL for another whence.
StatusOr<off_t> SeekDataOrHole(CryptFile& file, off_t offset, int whence);

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_FILE_SEEK_H_
