// PosixRecorder: runs file operations under one root directory and records
// each result (value or errno name) as a line, so the same scenario run in a
// kmsfs mount and in a plain directory can be compared line by line.
#ifndef KMSFS_TESTS_INTEGRATION_POSIX_RECORDER_H_
#define KMSFS_TESTS_INTEGRATION_POSIX_RECORDER_H_

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kmsfs::testing {

class PosixRecorder {
 public:
  explicit PosixRecorder(std::string root) : root_(std::move(root)) {}
  std::string P(const std::string& rel) const { return root_ + "/" + rel; }
  const std::string& log() const { return log_; }

  // Records `what -> rc` (or `-> ENOENT` when rc < 0). Returns rc.
  long Rec(const std::string& what, long rc);
  void Note(const std::string& line) { log_ += line + "\n"; }

  // Helpers that record what they did.
  int Open(const std::string& rel, int flags, mode_t mode = 0644);
  void Close(int fd);
  void Write(int fd, const std::string& tag, const std::string& data);
  void Pwrite(int fd, const std::string& tag, const std::string& data, off_t off);
  // Reads up to `len` bytes at `off` and records the length and a hash.
  void Pread(int fd, size_t len, off_t off);
  void ReadAll(const std::string& rel);
  // Records type, permission bits, size, nlink, uid, gid, and mtime if `with_mtime`.
  void Stat(const std::string& rel, bool with_mtime = false);
  void Fstat(int fd);
  // Sorted entry names with their d_type.
  void List(const std::string& rel);

 private:
  std::string root_;
  std::string log_;
};

// A repeatable byte pattern: `n` bytes seeded by `seed`.
std::string Pattern(size_t n, uint32_t seed);
uint64_t Fnv1a(const void* data, size_t n);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_INTEGRATION_POSIX_RECORDER_H_
