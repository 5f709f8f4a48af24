#include "fs/format/inline_header.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "fs/format/big_endian.h"

namespace kmsfs::format {

StatusOr<std::vector<uint8_t>> EncodeInlineRegion(const FileHeader& header) {
  KMSFS_RETURN_IF_ERROR(header.Validate());
  if (header.version != 2) {
    return Status::InvalidArgument("inline header region: holds version 2 headers only, not version " +
                                   std::to_string(header.version));
  }
  const std::vector<uint8_t> encoded = header.Encode();
  if (encoded.empty() || encoded.size() > kMaxInlineHeaderSize) {
    return Status::InvalidArgument("inline header region: a header of " + std::to_string(encoded.size()) +
                                   " bytes does not fit the " + std::to_string(kMaxInlineHeaderSize) +
                                   " bytes of the region (wrapped DEK or key id too long)");
  }
  std::vector<uint8_t> region(kInlineRegionSize, 0);
  PutBigEndian16(region.data(), static_cast<uint16_t>(encoded.size()));
  std::memcpy(region.data() + kInlineLengthSize, encoded.data(), encoded.size());
  return region;
}

StatusOr<FileHeader> DecodeInlineRegion(std::span<const uint8_t> region) {
  if (region.size() < kInlineRegionSize) {
    if (region.empty()) return Status::DataLoss("inline header region is missing (the backing file is empty)");
    return Status::DataLoss("inline header region is cut: the backing file holds " + std::to_string(region.size()) +
                            " of its " + std::to_string(kInlineRegionSize) + " bytes");
  }
  region = region.first(kInlineRegionSize);
  const uint16_t length = GetBigEndian16(region.data());
  if (length == 0) return Status::DataLoss("inline header region holds no header (length 0)");
  if (length > kMaxInlineHeaderSize) {
    return Status::DataLoss("inline header region gives a header length of " + std::to_string(length) +
                            ", more than its " + std::to_string(kMaxInlineHeaderSize) + " bytes");
  }
  const std::span<const uint8_t> padding = region.subspan(kInlineLengthSize + length);
  if (!std::all_of(padding.begin(), padding.end(), [](uint8_t b) { return b == 0; })) {
    return Status::DataLoss("inline header region has non-zero bytes after its header");
  }
  auto header = FileHeader::Decode(region.subspan(kInlineLengthSize, length));
  if (!header.ok()) return header.status().Annotate("inline header region");
  if (header->version != 2) {
    return Status::DataLoss("inline header region holds a version " + std::to_string(header->version) +
                            " header (only version 2 is stored inline)");
  }
  return header;
}

}  // namespace kmsfs::format
