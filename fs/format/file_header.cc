#include "fs/format/file_header.h"

#include <cstring>
#include <string_view>

#include "base/hex.h"
#include "fs/format/big_endian.h"
#include "fs/format/offsets.h"

namespace kmsfs::format {
namespace {

constexpr uint8_t kMagic[4] = {'K', 'M', 'S', 'F'};

bool IsPrintableId(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool IsHexText(std::string_view s) {
  if (s.size() % 2 != 0) return false;
  for (char c : s) {
    const bool digit = c >= '0' && c <= '9';
    const bool lower = c >= 'a' && c <= 'f';
    const bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) return false;
  }
  return true;
}

// Why a key_id or wrapped DEK is unacceptable, or empty when it is fine.
std::string KeyIdProblem(std::string_view key_id) {
  if (key_id.empty()) return "key id is empty";
  if (key_id.size() > FileHeader::kMaxKeyIdSize) return "key id is longer than 255 bytes";
  if (!IsPrintableId(key_id)) return "key id has a non-printable or non-ASCII byte";
  return {};
}
std::string WrappedDekProblem(std::string_view wrapped, uint16_t version) {
  if (wrapped.empty()) return "wrapped DEK is empty";
  if (!IsHexText(wrapped)) return "wrapped DEK is not even-length hex text";
  if (version >= 2) {
    bool lower = false, upper = false;
    for (char c : wrapped) {
      lower = lower || (c >= 'a' && c <= 'f');
      upper = upper || (c >= 'A' && c <= 'F');
    }
    if (lower && upper) return "wrapped DEK mixes upper- and lower-case hex";
  }
  return {};
}

constexpr uint8_t kFlagUpperHex = 0x01;

bool IsUpperHex(std::string_view hex) {
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') return true;
  }
  return false;
}

// The wrapped DEK as stored: text (version 1) or its bytes (version 2).
size_t StoredWrappedSize(const FileHeader& h) {
  return h.version >= 2 ? h.wrapped_dek.size() / 2 : h.wrapped_dek.size();
}

// Bounds-checked cursor over the header bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  size_t remaining() const { return b_.size() - pos_; }
  // Returns nullptr when fewer than n bytes remain.
  const uint8_t* Take(size_t n) {
    if (remaining() < n) return nullptr;
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

Status Truncated(const char* field, size_t total) {
  return Status::DataLoss("header truncated: " + std::to_string(total) + " bytes end inside " +
                          field);
}

}  // namespace

std::string FileIdHex(const FileId& id) { return HexEncode(id); }

Status FileHeader::Validate() const {
  if (version != 1 && version != 2) {
    return Status::InvalidArgument("header: version " + std::to_string(version) + " is not 1 or 2");
  }
  if (!crypto::CipherSuiteFromId(static_cast<uint8_t>(suite)).ok()) {
    return Status::InvalidArgument("header: unknown cipher suite id " +
                                   std::to_string(static_cast<unsigned>(suite)));
  }
  if (!IsValidBlockSize(block_size)) {
    return Status::InvalidArgument("header: block size " + std::to_string(block_size) +
                                   " is not a power of two in 512..1048576");
  }
  if (std::string p = KeyIdProblem(key_id); !p.empty()) return Status::InvalidArgument("header: " + p);
  if (std::string p = WrappedDekProblem(wrapped_dek, version); !p.empty()) {
    return Status::InvalidArgument("header: " + p);
  }
  const size_t total = kFixedSize + key_id.size() + StoredWrappedSize(*this);
  if (total > kMaxEncodedSize) {
    return Status::InvalidArgument("header: encoded size " + std::to_string(total) +
                                   " exceeds 4096 bytes (wrapped DEK too long)");
  }
  return Status::Ok();
}

std::vector<uint8_t> FileHeader::Encode() const {
  if (!Validate().ok()) return {};
  const size_t wrapped_size = StoredWrappedSize(*this);
  std::vector<uint8_t> out(kFixedSize + key_id.size() + wrapped_size);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  p += 4;
  PutBigEndian16(p, version);
  p += 2;
  *p++ = static_cast<uint8_t>(suite);
  *p++ = version >= 2 && IsUpperHex(wrapped_dek) ? kFlagUpperHex : 0;  // flags
  PutBigEndian32(p, block_size);
  p += 4;
  std::memcpy(p, file_id.data(), kFileIdSize);
  p += kFileIdSize;
  *p++ = static_cast<uint8_t>(key_id.size());
  std::memcpy(p, key_id.data(), key_id.size());
  p += key_id.size();
  PutBigEndian16(p, static_cast<uint16_t>(wrapped_size));
  p += 2;
  if (version >= 2) {
    auto bytes = HexDecode(wrapped_dek);  // valid: checked by Validate
    if (!bytes.ok()) return {};
    std::memcpy(p, bytes->data(), bytes->size());
  } else {
    std::memcpy(p, wrapped_dek.data(), wrapped_dek.size());
  }
  return out;
}

StatusOr<FileHeader> FileHeader::Decode(std::span<const uint8_t> bytes) {
  const size_t total = bytes.size();
  if (total > kMaxEncodedSize) {
    return Status::DataLoss("header is " + std::to_string(total) + " bytes, more than 4096");
  }
  Reader r(bytes);
  const uint8_t* magic = r.Take(4);
  if (magic == nullptr) return Truncated("magic", total);
  if (std::memcmp(magic, kMagic, 4) != 0) return Status::DataLoss("header has bad magic (not KMSF)");
  const uint8_t* version = r.Take(2);
  if (version == nullptr) return Truncated("version", total);
  FileHeader h;
  h.version = GetBigEndian16(version);
  if (h.version != 1 && h.version != 2) {
    return Status::DataLoss("header version " + std::to_string(h.version) +
                            " is not supported (this build reads versions 1 and 2)");
  }
  const uint8_t* suite_reserved = r.Take(2);
  if (suite_reserved == nullptr) return Truncated("suite", total);
  auto suite = crypto::CipherSuiteFromId(suite_reserved[0]);
  if (!suite.ok()) {
    return Status::DataLoss("header has unknown cipher suite id " + std::to_string(suite_reserved[0]));
  }
  h.suite = *suite;
  const uint8_t flags = suite_reserved[1];
  if (flags & ~(h.version >= 2 ? kFlagUpperHex : 0)) return Status::DataLoss("header has unknown flag bits set");
  const uint8_t* bs = r.Take(4);
  if (bs == nullptr) return Truncated("block size", total);
  h.block_size = GetBigEndian32(bs);
  if (!IsValidBlockSize(h.block_size)) {
    return Status::DataLoss("header block size " + std::to_string(h.block_size) +
                            " is not a power of two in 512..1048576");
  }
  const uint8_t* id = r.Take(kFileIdSize);
  if (id == nullptr) return Truncated("file id", total);
  std::memcpy(h.file_id.data(), id, kFileIdSize);

  const uint8_t* key_len = r.Take(1);
  if (key_len == nullptr) return Truncated("key id length", total);
  if (*key_len == 0) return Status::DataLoss("header key id is empty");
  const uint8_t* key = r.Take(*key_len);
  if (key == nullptr) return Truncated("key id", total);
  h.key_id.assign(reinterpret_cast<const char*>(key), *key_len);
  if (!IsPrintableId(h.key_id)) return Status::DataLoss("header key id has a non-printable byte");

  const uint8_t* wrapped_len_bytes = r.Take(2);
  if (wrapped_len_bytes == nullptr) return Truncated("wrapped DEK length", total);
  const uint16_t wrapped_len = GetBigEndian16(wrapped_len_bytes);
  if (wrapped_len == 0) return Status::DataLoss("header wrapped DEK is empty");
  const uint8_t* wrapped = r.Take(wrapped_len);
  if (wrapped == nullptr) return Truncated("wrapped DEK", total);
  if (h.version >= 2) {
    std::span<const uint8_t> bytes(wrapped, wrapped_len);
    h.wrapped_dek = (flags & kFlagUpperHex) ? HexEncodeUpper(bytes) : HexEncode(bytes);
    // Upper-case flag on bytes whose hex has no letter would not re-encode
    // to the same header: refuse, so every header that decodes is canonical.
    if ((flags & kFlagUpperHex) && !IsUpperHex(h.wrapped_dek)) {
      return Status::DataLoss("header upper-case flag set on a wrapped DEK without letters");
    }
  } else {
    h.wrapped_dek.assign(reinterpret_cast<const char*>(wrapped), wrapped_len);
    if (!IsHexText(h.wrapped_dek)) {
      return Status::DataLoss("header wrapped DEK is not even-length hex text");
    }
  }
  if (r.remaining() != 0) {
    return Status::DataLoss("header has " + std::to_string(r.remaining()) + " trailing bytes");
  }
  return h;
}

}  // namespace kmsfs::format
