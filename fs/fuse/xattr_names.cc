#include "fs/fuse/xattr_names.h"

#include <cstring>

#include "fs/format/file_header.h"

namespace kmsfs::fuse {

bool IsHeaderXattr(const char* name) { return std::strcmp(name, format::kHeaderXattrName) == 0; }

bool IsBackingOnlyXattr(const char* name) {
  return std::strncmp(name, "security.", 9) == 0 || std::strncmp(name, "system.", 7) == 0;
}

}  // namespace kmsfs::fuse
