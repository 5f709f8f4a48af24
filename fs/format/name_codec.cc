#include "fs/format/name_codec.h"

#include <sodium.h>

#include <cerrno>
#include <cstring>

#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "fs/format/big_endian.h"

namespace kmsfs::format {
namespace {

constexpr uint8_t kDirMagic[4] = {'K', 'M', 'S', 'D'};
constexpr uint16_t kDirValueVersion = 1;
constexpr size_t kPadBlock = 16;
constexpr std::string_view kNameKeyInfo = "kmsfs v2 name key";
constexpr std::string_view kTargetKeyInfo = "kmsfs v2 target key";
constexpr std::string_view kTargetAd = "kmsfs symlink target";

std::span<const uint8_t> Bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Status CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("not a name component");
  }
  if (name.size() > kMaxNameSize) return Status::FromErrno(ENAMETOOLONG, "name");
  return Status::Ok();
}

StatusOr<SecretBytes> Derive(const SecretBytes& volume_key, const VolumeId& volume_id, std::string_view info,
                             size_t size) {
  return crypto::HkdfSha256(volume_key.span(), volume_id, Bytes(info), size);
}

}  // namespace

std::vector<uint8_t> EncodeDirValue(const DirValue& value) {
  std::vector<uint8_t> out(kDirValueXattrSize);
  std::memcpy(out.data(), kDirMagic, 4);
  PutBigEndian16(out.data() + 4, kDirValueVersion);
  std::memcpy(out.data() + 6, value.data(), value.size());
  return out;
}

StatusOr<DirValue> DecodeDirValue(std::span<const uint8_t> bytes) {
  if (bytes.size() != kDirValueXattrSize) {
    return Status::DataLoss("directory value is " + std::to_string(bytes.size()) + " bytes, not 22");
  }
  if (std::memcmp(bytes.data(), kDirMagic, 4) != 0) return Status::DataLoss("directory value has bad magic (not KMSD)");
  if (GetBigEndian16(bytes.data() + 4) != kDirValueVersion) {
    return Status::DataLoss("directory value version " + std::to_string(GetBigEndian16(bytes.data() + 4)) +
                            " is not supported");
  }
  DirValue value;
  std::memcpy(value.data(), bytes.data() + 6, value.size());
  return value;
}

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  std::vector<uint8_t> out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return Status::DataLoss("not unpadded base64url");
  }
  out.resize(len);
  // Canonical only: trailing bits that a re-encoding would drop are refused,
  // so every stored name has exactly one form.
  if (Base64UrlEncode(out) != text) return Status::DataLoss("not canonical base64url");
  return out;
}

StatusOr<std::unique_ptr<NameCodec>> NameCodec::New(const SecretBytes& volume_key, const VolumeId& volume_id,
                                                    crypto::CipherSuite suite) {
  if (volume_key.size() != kVolumeKeySize) return Status::InvalidArgument("the volume key must be 32 bytes");
  KMSFS_ASSIGN_OR_RETURN(SecretBytes name_key, Derive(volume_key, volume_id, kNameKeyInfo, crypto::AesSiv::kKeySize));
  KMSFS_ASSIGN_OR_RETURN(SecretBytes target_key, Derive(volume_key, volume_id, kTargetKeyInfo, 32));
  KMSFS_ASSIGN_OR_RETURN(auto names, crypto::AesSiv::New(name_key));
  KMSFS_ASSIGN_OR_RETURN(auto targets, crypto::Aead::New(suite, target_key));
  return std::unique_ptr<NameCodec>(new NameCodec(std::move(names), std::move(targets)));
}

StatusOr<std::string> NameCodec::Encrypt(const DirValue& dir, std::string_view name) const {
  KMSFS_RETURN_IF_ERROR(CheckName(name));
  const size_t pad = kPadBlock - name.size() % kPadBlock;  // 1..16
  std::vector<uint8_t> padded(name.begin(), name.end());
  padded.insert(padded.end(), pad, static_cast<uint8_t>(pad));
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, names_->Seal(padded, dir));
  return Base64UrlEncode(sealed);
}

StatusOr<std::string> NameCodec::Decrypt(const DirValue& dir, std::string_view encoded) const {
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, Base64UrlDecode(encoded));
  const size_t padded_size = sealed.size() < crypto::AesSiv::kTagSize ? 0 : sealed.size() - crypto::AesSiv::kTagSize;
  if (padded_size == 0 || padded_size % kPadBlock != 0 || padded_size > kMaxNameSize + 1) {
    return Status::DataLoss("encrypted name has an impossible length");
  }
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> padded, names_->Open(sealed, dir));
  const uint8_t pad = padded.back();
  if (pad == 0 || pad > kPadBlock || pad > padded.size()) return Status::DataLoss("encrypted name has bad padding");
  for (size_t i = padded.size() - pad; i < padded.size(); ++i) {
    if (padded[i] != pad) return Status::DataLoss("encrypted name has bad padding");
  }
  std::string name(padded.begin(), padded.end() - pad);
  if (!CheckName(name).ok()) return Status::DataLoss("encrypted name is not a valid name");
  return name;
}

std::string NameCodec::StoredName(std::string_view encoded) {
  if (encoded.size() <= kMaxStoredName) return std::string(encoded);
  const std::array<uint8_t, 32> digest = crypto::Sha256(Bytes(encoded));
  return kLongNamePrefix + Base64UrlEncode(digest);
}

bool NameCodec::IsLongName(std::string_view stored) {
  const std::string_view prefix = kLongNamePrefix;
  return stored.size() == prefix.size() + 43 && stored.substr(0, prefix.size()) == prefix;
}

StatusOr<std::string> NameCodec::EncryptTarget(std::string_view target) const {
  if (target.empty() || target.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("not a symlink target");
  }
  if (target.size() > kMaxTargetSize) return Status::FromErrno(ENAMETOOLONG, "symlink target");
  std::vector<uint8_t> sealed(target.size() + targets_->overhead());
  KMSFS_RETURN_IF_ERROR(targets_->Seal(Bytes(target), Bytes(kTargetAd), sealed));
  return Base64UrlEncode(sealed);
}

StatusOr<std::string> NameCodec::DecryptTarget(std::string_view encoded) const {
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, Base64UrlDecode(encoded));
  if (sealed.size() <= targets_->overhead() || sealed.size() > kMaxTargetSize + targets_->overhead()) {
    return Status::DataLoss("encrypted symlink target has an impossible length");
  }
  std::string target(sealed.size() - targets_->overhead(), '\0');
  KMSFS_RETURN_IF_ERROR(
      targets_->Open(sealed, Bytes(kTargetAd), {reinterpret_cast<uint8_t*>(target.data()), target.size()}));
  if (target.find('\0') != std::string::npos) return Status::DataLoss("encrypted symlink target holds a NUL");
  return target;
}

uint64_t NameCodec::TargetPlainSize(uint64_t encoded_size) const {
  const uint64_t sealed = encoded_size * 3 / 4;  // unpadded base64: 4 characters per 3 bytes
  return sealed > targets_->overhead() ? sealed - targets_->overhead() : 0;
}

bool NameCodec::IsTargetId(std::string_view id) {
  if (id.size() != 43) return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string NameCodec::TargetId(std::string_view encoded) {
  return Base64UrlEncode(crypto::Sha256(Bytes(encoded)));
}

}  // namespace kmsfs::format
