#include "crypto/aes_siv.h"

#include <openssl/evp.h>

#include "crypto/openssl_ptr.h"

namespace kmsfs::crypto {

// The fetched algorithm, kept for the object's life: fetching per call would
// cost more than sealing a name.
struct AesSiv::CipherHolder {
  CipherPtr cipher;
};

AesSiv::AesSiv(SecretBytes key) : key_(std::move(key)), cipher_(std::make_unique<CipherHolder>()) {}
AesSiv::~AesSiv() = default;

StatusOr<std::unique_ptr<AesSiv>> AesSiv::New(const SecretBytes& key) {
  const char* name = key.size() == 64 ? "AES-256-SIV" : key.size() == 48 ? "AES-192-SIV"
                     : key.size() == 32 ? "AES-128-SIV" : nullptr;
  if (name == nullptr) return Status::InvalidArgument("AES-SIV needs a 32-, 48- or 64-byte key");
  std::unique_ptr<AesSiv> siv(new AesSiv(SecretBytes::CopyFrom(key.span())));
  siv->cipher_->cipher.reset(EVP_CIPHER_fetch(nullptr, name, nullptr));
  if (siv->cipher_->cipher == nullptr) return Status::Internal("OpenSSL has no AES-256-SIV");
  return siv;
}

StatusOr<std::vector<uint8_t>> AesSiv::Seal(std::span<const uint8_t> plain, std::span<const uint8_t> ad) const {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return Status::Internal("EVP_CIPHER_CTX_new failed");
  std::vector<uint8_t> out(kTagSize + plain.size());
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx.get(), cipher_->cipher.get(), key_.data(), nullptr, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data() + kTagSize, &len, plain.data(), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + kTagSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize, out.data()) != 1) {
    return Status::Internal("AES-256-SIV seal failed");
  }
  return out;
}

StatusOr<std::vector<uint8_t>> AesSiv::Open(std::span<const uint8_t> sealed, std::span<const uint8_t> ad) const {
  if (sealed.size() < kTagSize) return Status::DataLoss("AES-256-SIV: shorter than its tag");
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return Status::Internal("EVP_CIPHER_CTX_new failed");
  std::vector<uint8_t> out(sealed.size() - kTagSize);
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx.get(), cipher_->cipher.get(), key_.data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize, const_cast<uint8_t*>(sealed.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1) {
    return Status::Internal("AES-256-SIV open failed");
  }
  // The tag is checked in the update that decrypts; a failure leaves no
  // plaintext the caller could use.
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data() + kTagSize,
                        static_cast<int>(sealed.size() - kTagSize)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Status::DataLoss("AES-256-SIV: authentication failed");
  }
  return out;
}

}  // namespace kmsfs::crypto
