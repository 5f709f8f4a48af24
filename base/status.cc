#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace kmsfs {
namespace {
const std::string& EmptyString() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}
}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kIoError: return "IO_ERROR";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
  }
  return "UNKNOWN";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;
  auto rep = std::make_shared<Rep>();
  rep->code = code;
  rep->message = std::move(message);
  rep_ = std::move(rep);
}

Status Status::FromErrno(int err, std::string_view what) {
  auto rep = std::make_shared<Rep>();
  rep->code = StatusCode::kIoError;
  rep->message = std::string(what) + ": " + std::strerror(err);
  rep->sys_errno = err;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

const std::string& Status::message() const { return rep_ ? rep_->message : EmptyString(); }

Status Status::WithDetail(std::shared_ptr<const StatusDetail> detail) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->detail = std::move(detail);
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithDetailOf(const Status& other) const {
  return WithDetail(other.rep_ ? other.rep_->detail : nullptr);
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->message = std::string(context) + ": " + rep->message;
  Status s;
  s.rep_ = std::move(rep);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  out += ": ";
  out += message();
  if (rep_->detail != nullptr) out += " [" + rep_->detail->ToString() + "]";
  return out;
}

int ToErrno(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInvalidArgument: return EINVAL;
    case StatusCode::kNotFound: return ENOENT;
    case StatusCode::kAlreadyExists: return EEXIST;
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated: return EACCES;
    case StatusCode::kFailedPrecondition: return EPERM;
    case StatusCode::kResourceExhausted: return status.sys_errno() ? status.sys_errno() : ENOSPC;
    case StatusCode::kIoError: return status.sys_errno() ? status.sys_errno() : EIO;
    case StatusCode::kUnimplemented: return ENOTSUP;
    case StatusCode::kDataLoss:
    case StatusCode::kUnavailable:
    case StatusCode::kInternal: return EIO;
  }
  return EIO;
}

}  // namespace kmsfs
