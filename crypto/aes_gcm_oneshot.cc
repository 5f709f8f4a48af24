#include "crypto/aes_gcm_oneshot.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/openssl_ptr.h"

namespace kmsfs::crypto {

Status AesGcmSeal(const SecretBytes& key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> plaintext, std::span<const uint8_t> aad,
                  std::span<uint8_t> ciphertext, std::span<uint8_t> tag) {
  if (key.size() != kAes256KeySize || nonce.size() != kGcmNonceSize || tag.size() != kGcmTagSize ||
      ciphertext.size() != plaintext.size()) {
    return Status::InvalidArgument("AES-GCM: bad buffer sizes");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1) {
    return Status::Internal("AES-GCM init failed");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Status::Internal("AES-GCM aad failed");
  }
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ciphertext.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return Status::Internal("AES-GCM encrypt failed");
  }
  uint8_t final_block[16];
  if (EVP_EncryptFinal_ex(ctx.get(), final_block, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag.data()) != 1) {
    return Status::Internal("AES-GCM finalise failed");
  }
  return Status::Ok();
}

Status AesGcmOpen(const SecretBytes& key, std::span<const uint8_t> nonce,
                  std::span<const uint8_t> ciphertext, std::span<const uint8_t> aad,
                  std::span<const uint8_t> tag, std::span<uint8_t> plaintext) {
  if (key.size() != kAes256KeySize || nonce.size() != kGcmNonceSize || tag.size() != kGcmTagSize ||
      ciphertext.size() != plaintext.size()) {
    return Status::InvalidArgument("AES-GCM: bad buffer sizes");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce.data()) != 1) {
    return Status::Internal("AES-GCM init failed");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Status::Internal("AES-GCM aad failed");
  }
  if (!ciphertext.empty() && EVP_DecryptUpdate(ctx.get(), plaintext.data(), &len, ciphertext.data(),
                                               static_cast<int>(ciphertext.size())) != 1) {
    return Status::Internal("AES-GCM decrypt failed");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize,
                          const_cast<uint8_t*>(tag.data())) != 1) {
    return Status::Internal("AES-GCM tag failed");
  }
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    ERR_clear_error();
    if (!plaintext.empty()) OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Status::DataLoss("AES-GCM authentication failed");
  }
  return Status::Ok();
}

}  // namespace kmsfs::crypto
