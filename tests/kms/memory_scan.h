// Searching this process's own memory for a secret, to prove that no copy of
// it is left behind (in freed heap blocks, library buffers, anywhere
// writable). Reads /proc/self/mem, so it sees freed-but-mapped memory without
// touching it through pointers (ASan-safe).
#ifndef KMSFS_TESTS_KMS_MEMORY_SCAN_H_
#define KMSFS_TESTS_KMS_MEMORY_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace kmsfs::testing {

// An address range [first, second) the scan must not look into (the needle itself).
using MemoryRange = std::pair<uintptr_t, uintptr_t>;

// How many times `needle` occurs in the process's private writable mappings
// (heap, anonymous maps, stacks, data segments) outside `skip`. Mappings
// larger than 1 GiB (sanitizer shadow memory) are not read.
size_t CountInProcessMemory(std::string_view needle, const std::vector<MemoryRange>& skip);

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_KMS_MEMORY_SCAN_H_
