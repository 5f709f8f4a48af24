// libFuzzer target: format::FileHeader::Decode on arbitrary bytes.
//
// Invariants: Decode never crashes; a header it accepts passes Validate(),
// encodes back to exactly the input bytes, and decodes again to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fs/format/file_header.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kmsfs::format::FileHeader;
  const std::span<const uint8_t> input(data, size);
  auto header = FileHeader::Decode(input);
  if (!header.ok()) {
    KMSFS_FUZZ_CHECK(header.status().code() == kmsfs::StatusCode::kDataLoss);
    return 0;
  }
  KMSFS_FUZZ_CHECK(header->Validate().ok());
  const std::vector<uint8_t> encoded = header->Encode();
  KMSFS_FUZZ_CHECK(encoded.size() == size);
  KMSFS_FUZZ_CHECK(size == 0 || std::memcmp(encoded.data(), data, size) == 0);
  auto again = FileHeader::Decode(encoded);
  KMSFS_FUZZ_CHECK(again.ok());
  KMSFS_FUZZ_CHECK(*again == *header);
  return 0;
}
