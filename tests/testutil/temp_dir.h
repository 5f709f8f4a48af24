// TempDir: a fresh directory under $TMPDIR (default /tmp), removed with its
// contents when the object dies, whether the test passed or not.
#ifndef KMSFS_TESTS_TESTUTIL_TEMP_DIR_H_
#define KMSFS_TESTS_TESTUTIL_TEMP_DIR_H_

#include <string>

namespace kmsfs::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Directory holding the built binaries (build/kmsd, build/kmsfs): $KMSFS_BUILD_DIR.
std::string BuildDir();
// Reads a whole file into a string; fails the current test on error.
std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& content);
// Reads a whole file with plain syscalls; on failure returns what was read and
// sets *err to the errno of the failing call (0 on success).
std::string ReadFile(const std::string& path, int* err = nullptr);
// Creates/truncates and writes a file; false (and *err = errno) on failure.
bool TryWriteFile(const std::string& path, const std::string& data, int* err = nullptr);
// `s` without trailing newlines and spaces (command output).
std::string TrimTrailing(std::string s);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_TEMP_DIR_H_
