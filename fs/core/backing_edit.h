// BackingEdit: one change to a backing file, made of several writes, that
// either stays whole or is undone, so that a failure half way (ENOSPC, EIO,
// a short write) never leaves a torn sealed block behind.
//
// It notes the file's size when it begins and, before each Write, reads the
// bytes that write will overwrite inside that old size. Finish() with an
// error undoes everything: it cuts the file back to its old size (dropping
// what was appended, and space reserved past the end), then writes the saved
// bytes back, as far as each write got. An edit that changed nothing undoes
// nothing (a read-only backing file fails cleanly). Bytes written past the old end need no copy, so appends cost
// nothing extra; rewriting bytes in place costs one read of them.
//
// Reserve() allocates space up front where the filesystem can (fallocate
// with FALLOC_FL_KEEP_SIZE): an edit that would rewrite existing bytes and
// then run out of space fails before it changes anything. Where it cannot
// (EOPNOTSUPP) the edit goes on unreserved and the undo covers it.
//
// Limits: a Truncate that shrinks the file below its old size cannot be
// undone, so it must be the edit's last step. The undo is itself I/O; if it
// fails too (a dead disk), Finish says so and the old bytes may be gone.
//
// Thread-safety: none. Used under the owner's exclusive lock on the file;
// `scratch` holds the saved bytes and must not be shared while the edit lives.
#ifndef KMSFS_FS_CORE_BACKING_EDIT_H_
#define KMSFS_FS_CORE_BACKING_EDIT_H_

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "fs/core/backing_file.h"

namespace kmsfs::core {

class BackingEdit {
 public:
  // `old_size`: the backing file's size now.
  BackingEdit(BackingFile& file, uint64_t old_size, std::vector<uint8_t>& scratch);
  BackingEdit(const BackingEdit&) = delete;
  BackingEdit& operator=(const BackingEdit&) = delete;

  uint64_t old_size() const { return old_size_; }

  // Allocates [offset, end) ahead of the writes that will fill it. Ok also
  // when the filesystem cannot reserve (then nothing is reserved).
  Status Reserve(uint64_t offset, uint64_t end);
  // Writes `data` at `offset`, first saving what it overwrites below old_size().
  Status Write(uint64_t offset, std::span<const uint8_t> data);
  // Sets the file's size. Growing is undone by Finish; shrinking below
  // old_size() is not, so it must come last.
  Status Truncate(uint64_t size);

  // Ends the edit. `result` ok: keeps the changes and returns ok. Otherwise
  // undoes them and returns `result`, annotated if the undo failed too.
  Status Finish(Status result);

 private:
  struct Saved {
    uint64_t offset;  // in the backing file
    size_t at;        // in scratch_
    size_t len;       // saved bytes the write overwrote
  };
  Status Undo();

  BackingFile& file_;
  const uint64_t old_size_;
  std::vector<uint8_t>& scratch_;
  size_t scratch_used_ = 0;
  std::vector<Saved> saved_;
  bool grew_ = false;  // something may lie past old_size_: Undo cuts back
  bool finished_ = false;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_BACKING_EDIT_H_
