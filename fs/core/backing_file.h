// BackingFile: every I/O call a CryptFile makes on its backing file, behind
// one small interface, so tests can fail any of them (the idea of LevelDB's
// Env, for one file).
//
// The calls are the system calls themselves, short counts included: Pread may
// read and Pwrite may write fewer bytes than asked, as pread(2)/pwrite(2) do
// when a disk fills up. PreadAll/PwriteAll loop over them.
//
// FdBackingFile is the production implementation: each call is one system
// call on the fd it owns (retried on EINTR), nothing more. FaultyBackingFile
// (faulty_backing_file.h) wraps another BackingFile and fails chosen calls.
//
// Thread-safety: implementations are safe to call from several threads at
// once, as the system calls are; ordering is the caller's business.
#ifndef KMSFS_FS_CORE_BACKING_FILE_H_
#define KMSFS_FS_CORE_BACKING_FILE_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "base/unique_fd.h"

namespace kmsfs::core {

class BackingFile {
 public:
  virtual ~BackingFile() = default;

  // pread(2): bytes read into the front of `out`; 0 at end of file.
  virtual StatusOr<size_t> Pread(std::span<uint8_t> out, uint64_t offset) = 0;
  // pwrite(2): bytes written from the front of `data`, at least one for a
  // non-empty request (a system call that writes nothing is an error).
  virtual StatusOr<size_t> Pwrite(std::span<const uint8_t> data, uint64_t offset) = 0;
  // fallocate(2) with FALLOC_FL_KEEP_SIZE: allocates [offset, offset+length)
  // without changing the size, so later writes there cannot run out of space.
  // kUnimplemented when the filesystem cannot (EOPNOTSUPP); ENOSPC and other
  // failures as kIoError with the errno.
  virtual Status Reserve(uint64_t offset, uint64_t length) = 0;
  // ftruncate(2).
  virtual Status Truncate(uint64_t size) = 0;
  // st_size from fstat(2).
  virtual StatusOr<uint64_t> Size() = 0;
  // fsync(2), or fdatasync(2) when `datasync`.
  virtual Status Sync(bool datasync) = 0;
  // The descriptor, for what is not content I/O (fstat for attributes,
  // fchmod, futimens, xattrs). Content I/O goes through the calls above.
  virtual int fd() const = 0;
};

// Reads until `out` is full or the file ends; returns the bytes read.
StatusOr<size_t> PreadAll(BackingFile& file, std::span<uint8_t> out, uint64_t offset);
// Writes all of `data` at `offset`. On failure some prefix of `data` may
// already be in the file.
Status PwriteAll(BackingFile& file, std::span<const uint8_t> data, uint64_t offset);

class FdBackingFile final : public BackingFile {
 public:
  explicit FdBackingFile(UniqueFd fd) : fd_(std::move(fd)) {}

  StatusOr<size_t> Pread(std::span<uint8_t> out, uint64_t offset) override;
  StatusOr<size_t> Pwrite(std::span<const uint8_t> data, uint64_t offset) override;
  Status Reserve(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t size) override;
  StatusOr<uint64_t> Size() override;
  Status Sync(bool datasync) override;
  int fd() const override { return fd_.get(); }

 private:
  const UniqueFd fd_;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_BACKING_FILE_H_
