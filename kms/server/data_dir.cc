#include "kms/server/data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>

namespace kmsfs::kms::server {
namespace {

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string Uid(uid_t uid) { return "uid " + std::to_string(uid); }

// The checks every file kmsd keeps in the directory must pass.
Status CheckFile(int dir_fd, const std::string& path, std::string_view name) {
  struct stat st {};
  if (::fstatat(dir_fd, std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno(errno, "stat " + path);
  }
  if (S_ISLNK(st.st_mode)) {
    return Status::FailedPrecondition("data directory file " + path +
                                      " is a symbolic link; kmsd does not follow links in its data directory "
                                      "(remove it, or put the file itself there)");
  }
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition("data directory file " + path + " is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return Status::FailedPrecondition("data directory file " + path + " is owned by " + Uid(st.st_uid) +
                                      ", not by kmsd's user (" + Uid(::geteuid()) +
                                      "); someone else may have made it (chown it, or use a fresh directory)");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::FailedPrecondition("data directory file " + path + ": " + std::string(name) + " has mode " +
                                      OctalMode(st.st_mode) + ", open to group or others; it must be 0600 (chmod 600 " +
                                      path + "), and a root key others may have read should be replaced");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<DataDir> DataDir::Open(const std::string& path) {
  std::error_code ec;
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0) {
    if (errno != ENOENT) return Status::FromErrno(errno, "data directory " + path);
    std::filesystem::create_directories(path, ec);  // under kmsd's umask 077: mode 0700
    if (ec) return Status::Unavailable("cannot create data directory " + path + ": " + ec.message());
  } else if (S_ISLNK(lst.st_mode)) {
    return Status::FailedPrecondition("data directory " + path + " is a symbolic link; name the directory itself");
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP) {
      return Status::FailedPrecondition("data directory " + path +
                                        " is a symbolic link; name the directory itself");
    }
    if (errno == ENOTDIR) return Status::FailedPrecondition("data directory " + path + " is not a directory");
    return Status::FromErrno(errno, "data directory " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (st.st_uid != ::geteuid()) {
    return Status::FailedPrecondition("data directory " + path + " is owned by " + Uid(st.st_uid) +
                                      ", not by kmsd's user (" + Uid(::geteuid()) +
                                      "); kmsd trusts only a directory of its own (chown it, or use a fresh one)");
  }
  if ((st.st_mode & 022) != 0) {
    return Status::FailedPrecondition("data directory " + path + " has mode " + OctalMode(st.st_mode) +
                                      ": group or others may write it and so replace kmsd's files; chmod 700 " +
                                      path);
  }
  if (::faccessat(fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    return Status::Unavailable("data directory " + path + " is not writable");
  }
  for (std::string_view name : kFiles) {
    KMSFS_RETURN_IF_ERROR(CheckFile(fd.get(), path + "/" + std::string(name), name));
  }
  return DataDir(path, std::move(fd));
}

Status DataDir::WritePrivateFile(std::string_view name, std::string_view content) const {
  const std::string target(name);
  const std::string temp = target + ".new";
  const std::string where = File(name);
  // A leftover of an interrupted write (never followed: unlinkat removes the link itself).
  if (::unlinkat(fd_.get(), temp.c_str(), 0) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "remove " + File(temp));
  }
  UniqueFd out(::openat(fd_.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::FromErrno(errno, "cannot write " + File(temp));
  if (::fchmod(out.get(), 0600) != 0) return Status::FromErrno(errno, "chmod 0600 " + File(temp));
  KMSFS_RETURN_IF_ERROR(PwriteFull(out.get(), content.data(), content.size(), 0));
  if (::fsync(out.get()) != 0) return Status::FromErrno(errno, "fsync " + File(temp));
  if (::renameat(fd_.get(), temp.c_str(), fd_.get(), target.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + File(temp) + " to " + where);
  }
  if (::fsync(fd_.get()) != 0) return Status::FromErrno(errno, "fsync " + path_);
  return Status::Ok();
}

}  // namespace kmsfs::kms::server
