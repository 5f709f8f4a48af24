// Snapshot: everything a directory tree shows about itself (names, types,
// modes, owners, sizes, link counts, times, contents, user xattrs), so a
// test can say "nothing here changed" byte for byte and name for name.
#ifndef KMSFS_TESTS_INTEGRATION_SNAPSHOT_H_
#define KMSFS_TESTS_INTEGRATION_SNAPSHOT_H_

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {

// One line per object under `root` (the root itself as "."), without
// following symlinks.
inline std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  auto describe = [](const std::string& path) {
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return std::string("(gone)");
    std::string d = "mode " + std::to_string(st.st_mode) + " owner " + std::to_string(st.st_uid) + ":" +
                    std::to_string(st.st_gid) + " size " + std::to_string(st.st_size) + " links " +
                    std::to_string(st.st_nlink) + " mtime " + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec) + " ctime " + std::to_string(st.st_ctim.tv_sec) + "." +
                    std::to_string(st.st_ctim.tv_nsec);
    if (S_ISREG(st.st_mode)) d += " content " + ReadFile(path);
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      const ssize_t n = readlink(path.c_str(), target, sizeof target);
      d += " target " + std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
    }
    char names[4096];
    const ssize_t n = llistxattr(path.c_str(), names, sizeof names);
    d += " xattrs " + std::string(names, n > 0 ? static_cast<size_t>(n) : 0);
    return d;
  };
  out["."] = describe(root);
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    out[std::filesystem::relative(e.path(), root).string()] = describe(e.path().string());
  }
  return out;
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_INTEGRATION_SNAPSHOT_H_
