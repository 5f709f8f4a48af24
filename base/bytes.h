// Views of text as bytes, for hashing labels and ASCII fields.
#ifndef KMSFS_BASE_BYTES_H_
#define KMSFS_BASE_BYTES_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace kmsfs {

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace kmsfs

#endif  // KMSFS_BASE_BYTES_H_
