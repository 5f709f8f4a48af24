#include "fs/core/pins.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/unique_fd.h"

namespace kmsfs::core {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxPinsFile = 4 << 20;

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p with mode 0700 for the parts it makes.
Status MakeDirs(const std::string& dir) {
  if (dir.empty() || dir == "/") return Status::Ok();
  struct stat st;
  if (lstat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(dir + " is not a directory");
    return Status::Ok();
  }
  KMSFS_RETURN_IF_ERROR(MakeDirs(DirName(dir)));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + dir);
  return Status::Ok();
}

// The user's own file, not writable by anyone else.
Status CheckOwnFile(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return Status::FailedPrecondition(path + " is not a regular file");
  if (st.st_uid != geteuid()) {
    return Status::FailedPrecondition(path + " belongs to another user: refusing to trust its key pins");
  }
  if (st.st_mode & 022) {
    return Status::FailedPrecondition(path + " is writable by group or others: refusing to trust its key pins "
                                             "(chmod 600 it)");
  }
  return Status::Ok();
}

StatusOr<Json> ReadPins(int fd, const std::string& path) {
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxPinsFile) return Status::DataLoss(path + " is larger than 4 MiB");
  }
  if (text.empty()) return Json::object();
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::DataLoss(path + " is not a JSON object");
  return j;
}

StatusOr<std::optional<Pin>> PinFromJson(const Json& j, const std::string& path) {
  if (!j.is_object()) return Status::DataLoss(path + ": a pin is not an object");
  Pin pin;
  for (auto [field, out] : {std::pair<const char*, std::string*>{"key_id", &pin.key_id},
                            {"volume_id", &pin.volume_id},
                            {"project_id", &pin.project_id}}) {
    auto it = j.find(field);
    if (it == j.end() || !it->is_string()) return Status::DataLoss(path + ": a pin lacks \"" + field + "\"");
    *out = it->get<std::string>();
  }
  if (auto it = j.find("rewrap_key"); it != j.end()) {
    if (!it->is_string()) return Status::DataLoss(path + ": a pin's \"rewrap_key\" is not a string");
    pin.rewrap_key = it->get<std::string>();
  }
  return std::optional<Pin>(std::move(pin));
}

}  // namespace

StatusOr<Pins> Pins::ForCurrentUser() {
  if (const char* file = std::getenv("KMSFS_PINS_FILE"); file != nullptr && file[0] != '\0') {
    return Pins(file);
  }
  if (const char* config = std::getenv("XDG_CONFIG_HOME"); config != nullptr && config[0] == '/') {
    return Pins(std::string(config) + "/kmsfs/pins.json");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
    return Pins(std::string(home) + "/.config/kmsfs/pins.json");
  }
  return Status::FailedPrecondition("no place for key pins: set HOME, XDG_CONFIG_HOME or KMSFS_PINS_FILE");
}

StatusOr<std::optional<Pin>> Pins::Find(const std::string& backing_dir) const {
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<Pin>();
    return Status::FromErrno(errno, "open " + path_);
  }
  KMSFS_RETURN_IF_ERROR(CheckOwnFile(fd.get(), path_));
  KMSFS_ASSIGN_OR_RETURN(Json j, ReadPins(fd.get(), path_));
  auto it = j.find(backing_dir);
  if (it == j.end()) return std::optional<Pin>();
  return PinFromJson(*it, path_);
}

Status Pins::Put(const std::string& backing_dir, const Pin& pin) const {
  KMSFS_RETURN_IF_ERROR(MakeDirs(DirName(path_)));
  // Writers take a lock file; the pins file is replaced by rename, so a
  // reader sees the old or the new file whole, and a crash loses no pin.
  const std::string lock_path = path_ + ".lock";
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock.valid()) return Status::FromErrno(errno, "open " + lock_path);
  KMSFS_RETURN_IF_ERROR(CheckOwnFile(lock.get(), lock_path));
  if (flock(lock.get(), LOCK_EX) != 0) return Status::FromErrno(errno, "lock " + lock_path);
  Json j = Json::object();
  if (UniqueFd old(open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)); old.valid()) {
    KMSFS_RETURN_IF_ERROR(CheckOwnFile(old.get(), path_));
    KMSFS_ASSIGN_OR_RETURN(j, ReadPins(old.get(), path_));
  } else if (errno != ENOENT) {
    return Status::FromErrno(errno, "open " + path_);
  }
  j[backing_dir] = {{"key_id", pin.key_id}, {"volume_id", pin.volume_id}, {"project_id", pin.project_id}};
  if (!pin.rewrap_key.empty()) j[backing_dir]["rewrap_key"] = pin.rewrap_key;
  const std::string text = j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  const std::string tmp = path_ + ".tmp";
  unlink(tmp.c_str());  // a leftover of a crash; we hold the lock
  UniqueFd out(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::FromErrno(errno, "create " + tmp);
  Status s = PwriteFull(out.get(), text.data(), text.size(), 0);
  if (s.ok() && fsync(out.get()) != 0) s = Status::FromErrno(errno, "fsync " + tmp);
  if (s.ok() && rename(tmp.c_str(), path_.c_str()) != 0) s = Status::FromErrno(errno, "rename " + tmp);
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

}  // namespace kmsfs::core
