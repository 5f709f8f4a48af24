// The fixed inputs of the worked example in docs/FORMAT.md, shared by the
// golden test and print_format_example (which prints the example's numbers).
#ifndef KMSFS_TESTS_FORMAT_FORMAT_EXAMPLE_H_
#define KMSFS_TESTS_FORMAT_FORMAT_EXAMPLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/secret_bytes.h"
#include "fs/format/file_header.h"

namespace kmsfs::format::example {

// DEK = 00 01 02 ... 3f.
inline SecretBytes Dek() {
  SecretBytes dek(64);
  for (size_t i = 0; i < dek.size(); ++i) dek.data()[i] = static_cast<uint8_t>(i);
  return dek;
}

// File id = a0 a1 ... af.
inline FileId Id() {
  FileId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0xa0 + i);
  return id;
}

inline constexpr char kKeyId[] = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";

// An illustrative wrapped DEK shaped like a KMS DEK envelope (188 bytes, 376
// upper-case hex characters): 02 00 | 98 00 | 112 opaque bytes | key id |
// 00000000 | 32 opaque bytes. The header treats it as opaque text.
inline std::string WrappedDek() {
  std::vector<uint8_t> env = {0x02, 0x00, 0x98, 0x00};
  for (int i = 0; i < 112; ++i) env.push_back(static_cast<uint8_t>(i * 37 + 11));
  for (const char* p = kKeyId; *p != '\0'; ++p) env.push_back(static_cast<uint8_t>(*p));
  for (int i = 0; i < 4; ++i) env.push_back(0);
  for (int i = 0; i < 32; ++i) env.push_back(static_cast<uint8_t>(i * 101 + 7));
  static const char kDigits[] = "0123456789ABCDEF";
  std::string hex;
  for (uint8_t b : env) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 15]);
  }
  return hex;
}

// The header of the example file in format version 1 (the golden bytes of
// tests/vectors/format_v1_golden.h).
inline FileHeader Header() {
  FileHeader h;
  h.version = 1;
  h.suite = crypto::CipherSuite::kAes256Gcm;
  h.block_size = 4096;
  h.file_id = Id();
  h.key_id = kKeyId;
  h.wrapped_dek = WrappedDek();
  return h;
}

// The 12-byte GCM nonce of block 0 (fixed only in this example).
inline std::vector<uint8_t> Nonce() {
  return {0xe3, 0x5c, 0x91, 0x0a, 0x7f, 0x22, 0xd4, 0x68, 0xb1, 0x06, 0x3e, 0x9d};
}

inline constexpr char kPlaintext[] = "Hello, kmsfs! This file is one short block.\n";

}  // namespace kmsfs::format::example

#endif  // KMSFS_TESTS_FORMAT_FORMAT_EXAMPLE_H_
