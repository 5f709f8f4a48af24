// Status and StatusOr<T>: the error values that cross every module boundary.
//
// A Status is a code plus a human-readable message; OK carries nothing. A
// module may attach a typed detail (kms/ attaches the KMS's error code and
// HTTP status) that it alone reads back; Status only prints it. Messages must
// never contain key material.
//
// Thread-safety: values; safe to copy between threads.
#ifndef KMSFS_BASE_STATUS_H_
#define KMSFS_BASE_STATUS_H_

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kmsfs {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // caller's input is malformed
  kNotFound,            // a named thing does not exist
  kAlreadyExists,
  kPermissionDenied,    // authenticated, but not allowed (KMS 403, EACCES)
  kUnauthenticated,     // no / bad / expired credentials
  kFailedPrecondition,  // state does not allow the operation
  kDataLoss,            // corrupt or tampered persisted data (EIO at the mount)
  kUnavailable,         // a peer (KMS) could not be reached; retryable
  kResourceExhausted,   // quota, ENOSPC, 429
  kIoError,             // an OS call failed; errno is kept
  kInternal,
  kUnimplemented,
};

std::string_view StatusCodeName(StatusCode code);

// Typed extra information a module attaches to an error. Status keeps it
// through copies and Annotate() and prints it; only the module that defines
// the type reads it back, with Status::detail<T>().
class StatusDetail {
 public:
  virtual ~StatusDetail() = default;
  // Printed in brackets after the message by Status::ToString().
  virtual std::string ToString() const = 0;
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {StatusCode::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {StatusCode::kAlreadyExists, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {StatusCode::kPermissionDenied, std::move(msg)}; }
  static Status Unauthenticated(std::string msg) { return {StatusCode::kUnauthenticated, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) { return {StatusCode::kFailedPrecondition, std::move(msg)}; }
  static Status DataLoss(std::string msg) { return {StatusCode::kDataLoss, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {StatusCode::kResourceExhausted, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status Unimplemented(std::string msg) { return {StatusCode::kUnimplemented, std::move(msg)}; }
  // An OS call failed with `err` (an errno value); `what` names the call and object.
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;
  // errno for kIoError statuses made by FromErrno; 0 otherwise.
  int sys_errno() const { return rep_ ? rep_->sys_errno : 0; }
  // The attached detail if it is a D, else null.
  template <typename D>
  const D* detail() const {
    return rep_ ? dynamic_cast<const D*>(rep_->detail.get()) : nullptr;
  }

  // Returns a copy that carries `detail` (replacing any other). OK stays OK.
  Status WithDetail(std::shared_ptr<const StatusDetail> detail) const;
  // Returns a copy that carries `other`'s detail: for a new message about the
  // same failure.
  Status WithDetailOf(const Status& other) const;
  // Returns a copy whose message is "`context`: <message>".
  Status Annotate(std::string_view context) const;

  // "PERMISSION_DENIED: message [detail]"
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    int sys_errno = 0;
    std::shared_ptr<const StatusDetail> detail;
  };
  std::shared_ptr<const Rep> rep_;  // null == OK; shared so copies are cheap
};

// Maps a Status to the errno the FUSE edge returns (EIO, EACCES, ENOENT...).
int ToErrno(const Status& status);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : value_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(value_).ok() && "StatusOr built from OK status");
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(value_); }

  T& value() & { assert(ok()); return std::get<T>(value_); }
  const T& value() const& { assert(ok()); return std::get<T>(value_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(value_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> value_;
};

}  // namespace kmsfs

// Early return on error: KMSFS_RETURN_IF_ERROR(DoThing());
#define KMSFS_RETURN_IF_ERROR(expr)             \
  do {                                          \
    ::kmsfs::Status kmsfs_status_ = (expr);     \
    if (!kmsfs_status_.ok()) return kmsfs_status_; \
  } while (0)

#define KMSFS_CONCAT_INNER_(a, b) a##b
#define KMSFS_CONCAT_(a, b) KMSFS_CONCAT_INNER_(a, b)
// KMSFS_ASSIGN_OR_RETURN(auto x, MakeX());
#define KMSFS_ASSIGN_OR_RETURN(lhs, expr) \
  KMSFS_ASSIGN_OR_RETURN_IMPL_(KMSFS_CONCAT_(kmsfs_statusor_, __LINE__), lhs, expr)
#define KMSFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // KMSFS_BASE_STATUS_H_
