#include "fs/cli/key_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <optional>

#include "base/base64.h"
#include "base/secret_bytes.h"
#include "base/unique_fd.h"
#include "crypto/rsa.h"

namespace kmsfs::cli {
namespace {

constexpr size_t kMaterialSize = 32;

Status UnknownWrapping(const std::string& wrapping) {
  return Status::InvalidArgument("unknown --wrapping '" + wrapping +
                                 "': use RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5");
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
  auto der = Base64Decode(public_key_b64);
  if (!der.ok()) return Status::InvalidArgument("KMS returned a public key that is not Base64");
  const std::optional<crypto::WrappingAlgorithm> alg = crypto::ParseWrappingAlgorithm(wrapping);
  if (!alg) return UnknownWrapping(wrapping);
  auto wrapped = crypto::RsaEncrypt(*der, *alg, material);
  if (wrapped.status().code() == StatusCode::kInvalidArgument) {
    return Status::InvalidArgument("KMS returned a public key that is not DER SubjectPublicKeyInfo");
  }
  return wrapped;
}

Status ImportKeyMaterialFromFile(kms::Client& kms, const std::string& key_id, const std::string& material_path,
                                 const std::string& wrapping) {
  if (!crypto::ParseWrappingAlgorithm(wrapping)) return UnknownWrapping(wrapping);
  KMSFS_ASSIGN_OR_RETURN(SecretBytes material, ReadMaterial(material_path));
  auto params = kms.GetParametersForImport(key_id, wrapping);
  if (!params.ok()) {
    const std::string_view code = kms::KmsErrorCode(params.status());
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
