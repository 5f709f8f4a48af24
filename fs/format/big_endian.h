// Big-endian integer coding for the on-disk structures (docs/FORMAT.md).
// Internal to fs/format. Thread-safety: pure functions.
#ifndef KMSFS_FS_FORMAT_BIG_ENDIAN_H_
#define KMSFS_FS_FORMAT_BIG_ENDIAN_H_

#include <cstdint>

namespace kmsfs::format {

inline void PutBigEndian16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void PutBigEndian32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline void PutBigEndian64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline uint16_t GetBigEndian16(const uint8_t* p) {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline uint32_t GetBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_BIG_ENDIAN_H_
