#include "fs/cli/key_import.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <unistd.h>

#include <ctime>
#include <memory>

#include "base/secret_bytes.h"
#include "base/unique_fd.h"

namespace kmsfs::cli {
namespace {

constexpr size_t kMaterialSize = 32;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};

StatusOr<std::vector<uint8_t>> Base64Decode(const std::string& b64) {
  std::vector<uint8_t> out(b64.size());
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), "\r\n", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Status::InvalidArgument("KMS returned a public key that is not Base64");
  }
  out.resize(len);
  return out;
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

StatusOr<SecretBytes> ReadMaterial(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open key material " + path);
  SecretBytes buf(kMaterialSize + 1);
  KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), buf.data(), buf.size(), 0));
  if (n != kMaterialSize) {
    return Status::InvalidArgument("key material in " + path + " must be exactly 32 bytes (AES-256); it has " +
                                   (n > kMaterialSize ? "more" : std::to_string(n)));
  }
  return SecretBytes::CopyFrom(buf.span().first(kMaterialSize));
}

}  // namespace

StatusOr<std::vector<uint8_t>> WrapKeyMaterial(std::span<const uint8_t> material, const std::string& public_key_b64,
                                               const std::string& wrapping) {
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> der, Base64Decode(public_key_b64));
  const unsigned char* p = der.data();
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) return Status::InvalidArgument("KMS returned a public key that is not DER SubjectPublicKeyInfo");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new(pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0) return Status::Internal("RSA encrypt init failed");
  if (wrapping == "RSAES_PKCS1_V1_5") {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) <= 0) return Status::Internal("RSA padding");
  } else if (wrapping == "RSAES_OAEP_SHA_256" || wrapping == "RSAES_OAEP_SHA_1") {
    const EVP_MD* md = wrapping == "RSAES_OAEP_SHA_256" ? EVP_sha256() : EVP_sha1();
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) <= 0) {
      return Status::Internal("RSA OAEP setup failed");
    }
  } else {
    return Status::InvalidArgument("unknown --wrapping '" + wrapping +
                                   "': use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5");
  }
  size_t out_len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, material.data(), material.size()) <= 0) {
    return Status::Internal("RSA encrypt (size) failed");
  }
  std::vector<uint8_t> out(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, material.data(), material.size()) <= 0) {
    return Status::Internal("RSA encrypt failed");
  }
  out.resize(out_len);
  return out;
}

Status ImportKeyMaterialFromFile(kms::Client& kms, const std::string& key_id, const std::string& material_path,
                                 const std::string& wrapping) {
  if (wrapping != "RSAES_OAEP_SHA_256" && wrapping != "RSAES_OAEP_SHA_1" && wrapping != "RSAES_PKCS1_V1_5") {
    return Status::InvalidArgument("unknown --wrapping '" + wrapping +
                                   "': use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5");
  }
  KMSFS_ASSIGN_OR_RETURN(SecretBytes material, ReadMaterial(material_path));
  auto params = kms.GetParametersForImport(key_id, wrapping);
  if (!params.ok()) {
    const std::string& code = params.status().kms_error_code();
    if (code == "KMS.0309") return params.status().Annotate("the key was not created with --origin external");
    if (code == "KMS.0310") return params.status().Annotate("the key already has material (it is not pending import)");
    return params.status();
  }
  if (params->expiration_time <= static_cast<int64_t>(std::time(nullptr))) {
    return Status::FailedPrecondition("the import token from get-parameters-for-import has already expired; try again");
  }
  KMSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> wrapped, WrapKeyMaterial(material.span(), params->public_key, wrapping));
  kms::ImportKeyMaterialRequest req;
  req.key_id = key_id;
  req.import_token = params->import_token;
  req.encrypted_key_material = Base64Encode(wrapped);
  return kms.ImportKeyMaterial(req);
}

}  // namespace kmsfs::cli
