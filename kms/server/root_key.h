// RootKeyring: the 32-byte root key in DATA/root.key and the keys derived from
// it. Everything secret kmsd stores (CMK material, RSA wrapping private keys)
// is sealed under it, so the SQLite file alone reveals no key.
//
// The file is created on first start with mode 0600 from the system CSPRNG.
// An existing file with a wider mode or a size other than 32 bytes is refused
// (kmsd will not run with a root key others can read, or a damaged one).
//
// Sealed blob: 01 || 12-byte nonce || AES-256-GCM ciphertext || 16-byte tag,
// with the caller's `label` (naming the row the blob belongs to) as associated
// data, so blobs cannot be moved between rows.
//
// Thread-safety: immutable after LoadOrCreate; safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_ROOT_KEY_H_
#define KMSFS_KMS_SERVER_ROOT_KEY_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/hash.h"

namespace kmsfs::kms::server {

inline constexpr size_t kRootKeySize = 32;

class RootKeyring {
 public:
  // Loads `path`, creating it when missing. kFailedPrecondition (with a
  // message naming the file and the fix) for a bad mode or size.
  static StatusOr<std::unique_ptr<RootKeyring>> LoadOrCreate(const std::string& path);
  // From raw root key bytes (tests).
  static StatusOr<std::unique_ptr<RootKeyring>> FromBytes(const SecretBytes& root);

  RootKeyring(const RootKeyring&) = delete;
  RootKeyring& operator=(const RootKeyring&) = delete;

  std::vector<uint8_t> Seal(std::string_view label, std::span<const uint8_t> plaintext) const;
  // kDataLoss when the blob is damaged or belongs to another label.
  StatusOr<SecretBytes> Open(std::string_view label, std::span<const uint8_t> blob) const;

  // MAC key for import tokens.
  const SecretBytes& import_token_mac_key() const { return token_mac_key_; }
  // Keyed fingerprint of imported material, to recognise a re-import of the
  // same bytes (KMS.2606) without storing them after deletion.
  crypto::Sha256Digest MaterialFingerprint(std::string_view key_id, const SecretBytes& material) const;

 private:
  RootKeyring() = default;
  SecretBytes seal_key_;
  SecretBytes token_mac_key_;
  SecretBytes fingerprint_key_;
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_ROOT_KEY_H_
