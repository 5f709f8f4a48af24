#include "fs/core/xattr_names.h"

#include <cstring>

#include "fs/format/file_header.h"

namespace kmsfs::core {

bool IsHeaderXattr(const char* name) {
  const size_t n = std::strlen(format::kHeaderXattrName);
  return std::strncmp(name, format::kHeaderXattrName, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

bool IsBackingOnlyXattr(const char* name) {
  return std::strncmp(name, "security.", 9) == 0 || std::strncmp(name, "system.", 7) == 0;
}

}  // namespace kmsfs::core
