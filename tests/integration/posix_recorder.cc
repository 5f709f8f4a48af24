#include "tests/integration/posix_recorder.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kmsfs::testing {

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x);
  }
  return s;
}

uint64_t Fnv1a(const void* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

long PosixRecorder::Rec(const std::string& what, long rc) {
  if (rc < 0) {
    const char* name = strerrorname_np(errno);
    log_ += what + " -> " + (name ? name : std::to_string(errno)) + "\n";
  } else {
    log_ += what + " -> " + std::to_string(rc) + "\n";
  }
  return rc;
}

int PosixRecorder::Open(const std::string& rel, int flags, mode_t mode) {
  int fd = open(P(rel).c_str(), flags | O_CLOEXEC, mode);
  Rec("open " + rel + " flags " + std::to_string(flags), fd < 0 ? -1 : 0);
  return fd;
}

void PosixRecorder::Close(int fd) {
  if (fd >= 0) Rec("close", close(fd));
}

void PosixRecorder::Write(int fd, const std::string& tag, const std::string& data) {
  Rec("write " + tag, write(fd, data.data(), data.size()));
}

void PosixRecorder::Pwrite(int fd, const std::string& tag, const std::string& data, off_t off) {
  Rec("pwrite " + tag + " @" + std::to_string(off), pwrite(fd, data.data(), data.size(), off));
}

void PosixRecorder::Pread(int fd, size_t len, off_t off) {
  std::string buf(len, '\0');
  ssize_t n = pread(fd, buf.data(), len, off);
  if (n < 0) {
    Rec("pread " + std::to_string(len) + " @" + std::to_string(off), -1);
    return;
  }
  Note("pread " + std::to_string(len) + " @" + std::to_string(off) + " -> " + std::to_string(n) + " hash " +
       std::to_string(Fnv1a(buf.data(), static_cast<size_t>(n))));
}

void PosixRecorder::ReadAll(const std::string& rel) {
  int fd = open(P(rel).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Rec("readall " + rel, -1);
    return;
  }
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) all.append(buf, static_cast<size_t>(n));
  int err = errno;
  close(fd);
  if (n < 0) {
    errno = err;
    Rec("readall " + rel, -1);
    return;
  }
  Note("readall " + rel + " -> " + std::to_string(all.size()) + " hash " + std::to_string(Fnv1a(all.data(), all.size())));
}

namespace {
std::string Describe(const struct stat& st, bool with_mtime) {
  std::string type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link"
                   : S_ISFIFO(st.st_mode) ? "fifo" : "other";
  char mode[16];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  std::string s = type + " mode " + mode + " nlink " + std::to_string(st.st_nlink) + " uid " +
                  std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid);
  // Directory sizes depend on the backing filesystem, not on kmsfs.
  if (!S_ISDIR(st.st_mode)) s += " size " + std::to_string(st.st_size);
  if (with_mtime) s += " mtime " + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  return s;
}
}  // namespace

void PosixRecorder::Stat(const std::string& rel, bool with_mtime) {
  struct stat st;
  if (lstat(P(rel).c_str(), &st) != 0) {
    Rec("stat " + rel, -1);
    return;
  }
  Note("stat " + rel + " -> " + Describe(st, with_mtime));
}

void PosixRecorder::Fstat(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Rec("fstat", -1);
    return;
  }
  Note("fstat -> " + Describe(st, false));
}

void PosixRecorder::List(const std::string& rel) {
  DIR* d = opendir(P(rel).c_str());
  if (d == nullptr) {
    Rec("list " + rel, -1);
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(n + ":" + std::to_string(e->d_type));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::string line = "list " + rel + " ->";
  for (const auto& n : names) line += " " + n;
  Note(line);
}

}  // namespace kmsfs::testing
