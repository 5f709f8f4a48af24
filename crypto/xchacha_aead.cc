#include "crypto/xchacha_aead.h"

#include <sodium.h>

#include <cstring>

namespace kmsfs::crypto {

static_assert(XChaCha20Poly1305Aead::kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(XChaCha20Poly1305Aead::kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(Aead::kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);

StatusOr<std::unique_ptr<XChaCha20Poly1305Aead>> XChaCha20Poly1305Aead::New(const SecretBytes& key) {
  if (key.size() != kKeySize) {
    return Status::InvalidArgument("XChaCha20-Poly1305 key must be 32 bytes");
  }
  EnsureSodiumInitialized();
  return std::unique_ptr<XChaCha20Poly1305Aead>(new XChaCha20Poly1305Aead(key.Clone()));
}

Status XChaCha20Poly1305Aead::SealWithNonce(std::span<const uint8_t> nonce,
                                            std::span<const uint8_t> plain,
                                            std::span<const uint8_t> ad,
                                            std::span<uint8_t> out) const {
  if (nonce.size() != kNonceSize) {
    return Status::InvalidArgument("XChaCha20-Poly1305 nonce must be 24 bytes");
  }
  if (out.size() != plain.size() + overhead()) {
    return Status::InvalidArgument("XChaCha20-Poly1305 seal: output size must be input + 40");
  }
  std::memmove(out.data(), nonce.data(), kNonceSize);
  uint8_t* ct = out.data() + kNonceSize;
  uint8_t* tag = ct + plain.size();
  unsigned long long tag_len = 0;  // NOLINT(runtime/int): libsodium's type
  if (crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
          ct, tag, &tag_len, plain.data(), plain.size(), ad.data(), ad.size(), nullptr,
          out.data(), key_.data()) != 0 ||
      tag_len != kTagSize) {
    sodium_memzero(out.data(), out.size());
    return Status::Internal("XChaCha20-Poly1305 seal failed");
  }
  return Status::Ok();
}

Status XChaCha20Poly1305Aead::Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
                                   std::span<uint8_t> out) const {
  if (sealed.size() < overhead() || out.size() != sealed.size() - overhead()) {
    return Status::InvalidArgument("XChaCha20-Poly1305 open: output size must be input - 40");
  }
  const uint8_t* nonce = sealed.data();
  const uint8_t* ct = nonce + kNonceSize;
  const uint8_t* tag = ct + out.size();
  // libsodium verifies the tag (constant time) before it decrypts anything.
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(out.data(), nullptr, ct, out.size(), tag,
                                                          ad.data(), ad.size(), nonce,
                                                          key_.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    return Status::DataLoss("authentication failed (data tampered, truncated or wrong key)");
  }
  return Status::Ok();
}

}  // namespace kmsfs::crypto
