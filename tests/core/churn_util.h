// What a lookup/forget churn test measures about its own process: open
// descriptors and resident memory, both from /proc/self.
#ifndef KMSFS_TESTS_CORE_CHURN_UTIL_H_
#define KMSFS_TESTS_CORE_CHURN_UTIL_H_

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kmsfs::testing {

// AddressSanitizer keeps freed memory in quarantine (256 MiB by default),
// so resident memory says nothing about leaks there; its leak checker and
// the tests' node and descriptor counts do.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kResidentMemoryIsMeaningful = false;
#else
inline constexpr bool kResidentMemoryIsMeaningful = true;
#endif

// Descriptors open in this process now (the listing's own not counted).
inline int OpenFdCount() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;
}

// VmRSS of this process in KiB; -1 if it cannot be read.
inline long ResidentKib() {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "VmRSS:");
  return line == nullptr ? -1 : std::strtol(line + 6, nullptr, 10);
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_CORE_CHURN_UTIL_H_
