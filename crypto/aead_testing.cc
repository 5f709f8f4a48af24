#include "crypto/aead_testing.h"

namespace kmsfs::crypto {

Status SealWithNonceOf(const Aead& aead, std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                       std::span<const uint8_t> ad, std::span<uint8_t> out) {
  return aead.SealWithNonce(nonce, plain, ad, out);
}

Status SealWithNonceForTesting(CipherSuite suite, const SecretBytes& key,
                               std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                               std::span<const uint8_t> ad, std::span<uint8_t> out) {
  KMSFS_ASSIGN_OR_RETURN(auto aead, Aead::New(suite, key));
  return SealWithNonceOf(*aead, nonce, plain, ad, out);
}

Status SealWithNonceForTesting(AesGcmBackend backend, const SecretBytes& key, std::span<const uint8_t> nonce,
                               std::span<const uint8_t> plain, std::span<const uint8_t> ad,
                               std::span<uint8_t> out) {
  KMSFS_ASSIGN_OR_RETURN(auto aead, NewAesGcmAead(backend, key));
  return SealWithNonceOf(*aead, nonce, plain, ad, out);
}

}  // namespace kmsfs::crypto
