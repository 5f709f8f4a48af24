#include "fs/core/faulty_backing_file.h"

#include <cerrno>

namespace kmsfs::core {

void FaultyBackingFile::Inject(Fault fault) {
  MutexLock lock(&mu_);
  fault_ = fault;
  fault_call_ = calls_ + (fault.call == 0 ? 1 : fault.call);
  fault_hit_ = false;
  fail_next_err_ = 0;
}

void FaultyBackingFile::SetSpaceLimit(std::optional<uint64_t> limit) {
  MutexLock lock(&mu_);
  space_limit_ = limit;
}

void FaultyBackingFile::SetReserveUnsupported(bool unsupported) {
  MutexLock lock(&mu_);
  reserve_unsupported_ = unsupported;
}

void FaultyBackingFile::ClearFaults() {
  MutexLock lock(&mu_);
  fault_call_.reset();
  fail_next_err_ = 0;
  space_limit_.reset();
}

uint64_t FaultyBackingFile::calls() const {
  MutexLock lock(&mu_);
  return calls_;
}

uint64_t FaultyBackingFile::calls(Call kind) const {
  MutexLock lock(&mu_);
  return calls_by_kind_[static_cast<size_t>(kind)];
}

bool FaultyBackingFile::fault_hit() const {
  MutexLock lock(&mu_);
  return fault_hit_;
}

FaultyBackingFile::Verdict FaultyBackingFile::Next(Call kind, size_t write_len, uint64_t offset) {
  MutexLock lock(&mu_);
  ++calls_;
  ++calls_by_kind_[static_cast<size_t>(kind)];
  Verdict v;
  if (fail_next_err_ != 0) {
    v.err = fail_next_err_;
    fail_next_err_ = 0;
    return v;
  }
  if (fault_call_ && *fault_call_ == calls_) {
    fault_call_.reset();
    fault_hit_ = true;
    if (kind == Call::kPwrite && fault_.short_write != 0 && write_len > fault_.short_write) {
      v.write_limit = fault_.short_write;
      fail_next_err_ = fault_.err;
    } else {
      v.err = fault_.err;
    }
    return v;
  }
  if (kind == Call::kPwrite && space_limit_ && write_len > 0) {
    if (offset >= *space_limit_) {
      v.err = ENOSPC;
    } else if (offset + write_len > *space_limit_) {
      v.write_limit = static_cast<size_t>(*space_limit_ - offset);
    }
  }
  return v;
}

StatusOr<size_t> FaultyBackingFile::Pread(std::span<uint8_t> out, uint64_t offset) {
  const Verdict v = Next(Call::kPread);
  if (v.err != 0) return Status::FromErrno(v.err, "pread (injected)");
  return base_->Pread(out, offset);
}

StatusOr<size_t> FaultyBackingFile::Pwrite(std::span<const uint8_t> data, uint64_t offset) {
  const Verdict v = Next(Call::kPwrite, data.size(), offset);
  if (v.err != 0) return Status::FromErrno(v.err, "pwrite (injected)");
  return base_->Pwrite(v.write_limit != 0 ? data.first(v.write_limit) : data, offset);
}

Status FaultyBackingFile::Reserve(uint64_t offset, uint64_t length) {
  const Verdict v = Next(Call::kReserve);
  if (v.err != 0) return Status::FromErrno(v.err, "reserve space (injected)");
  {
    MutexLock lock(&mu_);
    if (reserve_unsupported_) return Status::Unimplemented("reserve space: not supported (injected)");
    if (space_limit_ && length > 0 && offset + length > *space_limit_) {
      return Status::FromErrno(ENOSPC, "reserve space (injected full disk)");
    }
  }
  return base_->Reserve(offset, length);
}

Status FaultyBackingFile::Truncate(uint64_t size) {
  const Verdict v = Next(Call::kTruncate);
  if (v.err != 0) return Status::FromErrno(v.err, "ftruncate (injected)");
  return base_->Truncate(size);
}

StatusOr<uint64_t> FaultyBackingFile::Size() {
  const Verdict v = Next(Call::kSize);
  if (v.err != 0) return Status::FromErrno(v.err, "fstat (injected)");
  return base_->Size();
}

Status FaultyBackingFile::Sync(bool datasync) {
  const Verdict v = Next(Call::kSync);
  if (v.err != 0) return Status::FromErrno(v.err, "fsync (injected)");
  return base_->Sync(datasync);
}

}  // namespace kmsfs::core
