#include "tests/server/byok_util.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

namespace kmsfs::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

std::vector<uint8_t> FromBase64(const std::string& b64) {
  std::vector<uint8_t> out(b64.size() / 4 * 3 + 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return {};
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string ToBase64(const std::vector<uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::unique_ptr<EVP_PKEY, PkeyFree> ParseSpki(const std::string& b64) {
  std::vector<uint8_t> der = FromBase64(b64);
  const unsigned char* p = der.data();
  return std::unique_ptr<EVP_PKEY, PkeyFree>(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

}  // namespace

std::string WrapKeyMaterial(const std::string& public_key_b64, const std::string& algorithm,
                            const std::vector<uint8_t>& material) {
  auto key = ParseSpki(public_key_b64);
  if (!key) return "";
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) return "";
  if (algorithm == "RSAES_PKCS1_V1_5") {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
  } else {
    const EVP_MD* md = algorithm == "RSAES_OAEP_SHA_1" ? EVP_sha1() : EVP_sha256();
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md);
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md);
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, material.data(), material.size()) != 1) return "";
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, material.data(), material.size()) != 1) return "";
  out.resize(len);
  return ToBase64(out);
}

int RsaPublicKeyBits(const std::string& public_key_b64) {
  auto key = ParseSpki(public_key_b64);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return 0;
  return EVP_PKEY_get_bits(key.get());
}

}  // namespace kmsfs::testing
