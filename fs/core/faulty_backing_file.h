// FaultyBackingFile: a BackingFile that passes every call to another one,
// except the calls a test chooses to fail. It is how unit tests reach the
// failures a real disk gives only now and then: an error at any step of an
// operation, a write cut short part way, a disk that is full, a filesystem
// without fallocate.
//
// Calls are counted from construction, every kind alike (Pread, Pwrite,
// Reserve, Truncate, Size, Sync), so a test can run an operation once, read
// calls() to learn how many steps it takes, and then fail each step in turn.
//
// Thread-safety: safe from several threads; one mutex guards the plan and
// the counters, and calls reach the wrapped file outside it.
#ifndef KMSFS_FS_CORE_FAULTY_BACKING_FILE_H_
#define KMSFS_FS_CORE_FAULTY_BACKING_FILE_H_

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/mutex.h"
#include "fs/core/backing_file.h"

namespace kmsfs::core {

class FaultyBackingFile final : public BackingFile {
 public:
  enum class Call { kPread, kPwrite, kReserve, kTruncate, kSize, kSync };
  static constexpr size_t kCallKinds = 6;

  // One failure, counted in calls from now.
  struct Fault {
    uint64_t call = 1;  // 1 = the next call
    int err = ENOSPC;   // errno the failing call reports
    // Nonzero: if that call is a Pwrite of more than this many bytes, it
    // writes just its first `short_write` bytes and reports them written (a
    // short write, as when a disk fills part way); the call after it fails
    // with `err`. Any other call fails with `err` itself.
    size_t short_write = 0;
  };

  explicit FaultyBackingFile(std::unique_ptr<BackingFile> base) : base_(std::move(base)) {}

  // Arms one fault (replacing one not yet hit). The failed call changes nothing.
  void Inject(Fault fault);
  // A full disk: no byte at or past backing offset `limit` can be written.
  // A Pwrite crossing it writes the bytes before it (a short write) and the
  // next one fails with ENOSPC; a Reserve past it fails with ENOSPC; Truncate
  // passes (growing a file makes a hole, which takes no space). nullopt: room
  // again.
  void SetSpaceLimit(std::optional<uint64_t> limit);
  // Reserve reports kUnimplemented, as on a filesystem without fallocate.
  void SetReserveUnsupported(bool unsupported);
  // Drops the armed fault and the space limit.
  void ClearFaults();

  // Calls made so far: all of them, or those of one kind.
  uint64_t calls() const;
  uint64_t calls(Call kind) const;
  // Whether the armed fault has fired.
  bool fault_hit() const;

  StatusOr<size_t> Pread(std::span<uint8_t> out, uint64_t offset) override;
  StatusOr<size_t> Pwrite(std::span<const uint8_t> data, uint64_t offset) override;
  Status Reserve(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t size) override;
  StatusOr<uint64_t> Size() override;
  Status Sync(bool datasync) override;
  int fd() const override { return base_->fd(); }

 private:
  // What this call should do instead of passing through.
  struct Verdict {
    int err = 0;               // nonzero: fail with this errno
    size_t write_limit = 0;    // Pwrite only, nonzero: write at most this many bytes
  };
  // Counts the call and decides its fate. `write_len`: a Pwrite's length.
  Verdict Next(Call kind, size_t write_len = 0, uint64_t offset = 0);

  const std::unique_ptr<BackingFile> base_;
  mutable Mutex mu_;
  uint64_t calls_ KMSFS_GUARDED_BY(mu_) = 0;
  std::array<uint64_t, kCallKinds> calls_by_kind_ KMSFS_GUARDED_BY(mu_){};
  std::optional<uint64_t> fault_call_ KMSFS_GUARDED_BY(mu_);  // absolute call number
  Fault fault_ KMSFS_GUARDED_BY(mu_);
  bool fault_hit_ KMSFS_GUARDED_BY(mu_) = false;
  int fail_next_err_ KMSFS_GUARDED_BY(mu_) = 0;  // after a short write
  std::optional<uint64_t> space_limit_ KMSFS_GUARDED_BY(mu_);
  bool reserve_unsupported_ KMSFS_GUARDED_BY(mu_) = false;
};

}  // namespace kmsfs::core

#endif  // KMSFS_FS_CORE_FAULTY_BACKING_FILE_H_
