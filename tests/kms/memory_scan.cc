#include "tests/kms/memory_scan.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace kmsfs::testing {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kMaxMapping = uint64_t{1} << 30;

bool Overlaps(uintptr_t a, uintptr_t b, const MemoryRange& r) { return a < r.second && r.first < b; }

}  // namespace

size_t CountInProcessMemory(std::string_view needle, const std::vector<MemoryRange>& skip) {
  if (needle.empty()) return 0;
  // The read buffer is a mapping of its own, kept out of the scan.
  void* raw = ::mmap(nullptr, kChunk + needle.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return SIZE_MAX;
  char* buf = static_cast<char*>(raw);
  std::vector<MemoryRange> excluded = skip;
  excluded.emplace_back(reinterpret_cast<uintptr_t>(buf), reinterpret_cast<uintptr_t>(buf) + kChunk + needle.size());

  std::vector<MemoryRange> regions;
  {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      std::istringstream in(line);
      std::string range, perms, offset, dev, inode, path;
      in >> range >> perms >> offset >> dev >> inode;
      std::getline(in, path);
      if (perms.size() < 4 || perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p') continue;
      if (path.find("[vvar]") != std::string::npos || path.find("[vsyscall]") != std::string::npos) continue;
      const size_t dash = range.find('-');
      const uintptr_t begin = std::stoull(range.substr(0, dash), nullptr, 16);
      const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
      if (end - begin > kMaxMapping) continue;
      regions.emplace_back(begin, end);
    }
  }

  const int fd = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ::munmap(raw, kChunk + needle.size());
    return SIZE_MAX;
  }
  size_t found = 0;
  for (const MemoryRange& region : regions) {
    for (uintptr_t at = region.first; at < region.second; at += kChunk) {
      const size_t want = std::min<uintptr_t>(kChunk + needle.size() - 1, region.second - at);
      const ssize_t n = ::pread(fd, buf, want, static_cast<off_t>(at));
      if (n <= 0) break;
      const std::string_view window(buf, static_cast<size_t>(n));
      for (size_t pos = window.find(needle); pos != std::string_view::npos; pos = window.find(needle, pos + 1)) {
        if (pos >= kChunk) break;  // counted in the next chunk
        const uintptr_t addr = at + pos;
        bool skipped = false;
        for (const MemoryRange& r : excluded) skipped = skipped || Overlaps(addr, addr + needle.size(), r);
        if (!skipped) ++found;
      }
    }
  }
  ::close(fd);
  ::munmap(raw, kChunk + needle.size());
  return found;
}

}  // namespace kmsfs::testing
