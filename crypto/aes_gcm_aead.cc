#include "crypto/aes_gcm_aead.h"

#include <openssl/crypto.h>

#include <climits>
#include <cstring>

namespace kmsfs::crypto {
namespace {

// Idle contexts kept per key; more concurrent callers than this still work,
// their extra contexts are freed on return.
constexpr size_t kMaxIdleContexts = 16;

}  // namespace

StatusOr<std::unique_ptr<AesGcmAead>> AesGcmAead::New(const SecretBytes& key) {
  if (key.size() != kKeySize) {
    return Status::InvalidArgument("AES-256-GCM key must be 32 bytes");
  }
  std::unique_ptr<AesGcmAead> aead(new AesGcmAead(key.Clone()));
  // Build one context up front so a broken OpenSSL fails here, not mid-write.
  KMSFS_ASSIGN_OR_RETURN(CipherCtxPtr ctx, aead->Lease());
  aead->Return(std::move(ctx));
  return aead;
}

StatusOr<CipherCtxPtr> AesGcmAead::Lease() const {
  {
    MutexLock lock(&mu_);
    if (!idle_.empty()) {
      CipherCtxPtr ctx = std::move(idle_.back());
      idle_.pop_back();
      return ctx;
    }
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return Status::Internal("EVP_CIPHER_CTX_new failed");
  // The IV length defaults to 12 for GCM, which is ours.
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nullptr) != 1) {
    return Status::Internal("AES-256-GCM key setup failed");
  }
  return ctx;
}

void AesGcmAead::Return(CipherCtxPtr ctx) const {
  MutexLock lock(&mu_);
  if (idle_.size() < kMaxIdleContexts) idle_.push_back(std::move(ctx));
}

Status AesGcmAead::SealWithNonce(std::span<const uint8_t> nonce, std::span<const uint8_t> plain,
                                 std::span<const uint8_t> ad, std::span<uint8_t> out) const {
  if (nonce.size() != kNonceSize) return Status::InvalidArgument("AES-256-GCM nonce must be 12 bytes");
  if (out.size() != plain.size() + overhead()) {
    return Status::InvalidArgument("AES-256-GCM seal: output size must be input + 28");
  }
  if (plain.size() > INT_MAX || ad.size() > INT_MAX) {
    return Status::InvalidArgument("AES-256-GCM seal: input too large");
  }
  std::memcpy(out.data(), nonce.data(), kNonceSize);
  uint8_t* ct = out.data() + kNonceSize;
  uint8_t* tag = ct + plain.size();

  KMSFS_ASSIGN_OR_RETURN(CipherCtxPtr ctx, Lease());
  EVP_CIPHER_CTX* c = ctx.get();
  int len = 0;
  int final_len = 0;
  bool ok = EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, out.data()) == 1;
  if (ok && !ad.empty()) ok = EVP_EncryptUpdate(c, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
  if (ok && !plain.empty()) {
    ok = EVP_EncryptUpdate(c, ct, &len, plain.data(), static_cast<int>(plain.size())) == 1 &&
         static_cast<size_t>(len) == plain.size();
  }
  uint8_t no_output[kTagSize];  // GCM's Final emits nothing
  if (ok) ok = EVP_EncryptFinal_ex(c, no_output, &final_len) == 1 && final_len == 0;
  if (ok) ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
  if (!ok) {
    // A context in an unknown state is dropped, not pooled.
    OPENSSL_cleanse(out.data(), out.size());
    return Status::Internal("AES-256-GCM seal failed");
  }
  Return(std::move(ctx));
  return Status::Ok();
}

Status AesGcmAead::Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad,
                        std::span<uint8_t> out) const {
  if (sealed.size() < overhead() || out.size() != sealed.size() - overhead()) {
    return Status::InvalidArgument("AES-256-GCM open: output size must be input - 28");
  }
  if (out.size() > INT_MAX || ad.size() > INT_MAX) {
    return Status::InvalidArgument("AES-256-GCM open: input too large");
  }
  const uint8_t* nonce = sealed.data();
  const uint8_t* ct = nonce + kNonceSize;
  uint8_t tag[kTagSize];
  std::memcpy(tag, ct + out.size(), kTagSize);  // OpenSSL wants a writable tag pointer

  KMSFS_ASSIGN_OR_RETURN(CipherCtxPtr ctx, Lease());
  EVP_CIPHER_CTX* c = ctx.get();
  int len = 0;
  int final_len = 0;
  bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce) == 1;
  if (ok && !ad.empty()) ok = EVP_DecryptUpdate(c, nullptr, &len, ad.data(), static_cast<int>(ad.size())) == 1;
  if (ok && !out.empty()) {
    ok = EVP_DecryptUpdate(c, out.data(), &len, ct, static_cast<int>(out.size())) == 1 &&
         static_cast<size_t>(len) == out.size();
  }
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::Internal("AES-256-GCM open failed");
  }
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::Internal("AES-256-GCM open: cannot set tag");
  }
  // DecryptFinal compares the tag in constant time.
  uint8_t no_output[kTagSize];  // GCM's Final emits nothing
  const bool authentic = EVP_DecryptFinal_ex(c, no_output, &final_len) == 1 && final_len == 0;
  Return(std::move(ctx));
  if (!authentic) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::DataLoss("authentication failed (data tampered, truncated or wrong key)");
  }
  return Status::Ok();
}

}  // namespace kmsfs::crypto
