// Which library computes AES-256-GCM.
//
// Both produce the same bytes (AES-256-GCM, 12-byte nonce, 16-byte tag), so
// the choice is only one of speed. OpenSSL 3.0 has no VAES/AVX-512 code for
// GCM; intel-ipsec-mb's AVX2 and AVX-512 code seals a 4 KiB block faster,
// while its SSE and AVX code is no faster than OpenSSL's
// (docs/design/aes-gcm-backend.md). Aead::New therefore uses
// intel-ipsec-mb where kmsfs was built with it (KMSFS_HAVE_IPSEC_MB) and the
// library picks its AVX2 or AVX-512 code for this CPU, OpenSSL otherwise.
//
// Thread-safety: all functions are thread-safe.
#ifndef KMSFS_CRYPTO_AES_GCM_BACKEND_H_
#define KMSFS_CRYPTO_AES_GCM_BACKEND_H_

#include <memory>
#include <string>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/aead.h"

namespace kmsfs::crypto {

enum class AesGcmBackend {
  kOpenSsl,   // OpenSSL EVP (AesGcmAead)
  kIpsecMb,   // intel-ipsec-mb's direct GCM API (IpsecMbAesGcmAead)
};

// Whether `backend` was built in and can run on this CPU.
bool AesGcmBackendAvailable(AesGcmBackend backend);

// The backend Aead::New uses for AES-256-GCM, decided once per process.
AesGcmBackend PreferredAesGcmBackend();

// For logs and `kmsfs status`: "OpenSSL 3.0.19 27 Jan 2026" or
// "intel-ipsec-mb 1.3.0 (AVX-512)".
std::string AesGcmBackendDescription(AesGcmBackend backend);

// An AES-256-GCM Aead from `backend`; kUnimplemented when it is not available.
StatusOr<std::unique_ptr<Aead>> NewAesGcmAead(AesGcmBackend backend, const SecretBytes& key);

}  // namespace kmsfs::crypto

#endif  // KMSFS_CRYPTO_AES_GCM_BACKEND_H_
