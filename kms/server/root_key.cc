#include "kms/server/root_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/bytes.h"
#include "base/unique_fd.h"
#include "crypto/aes_gcm_oneshot.h"
#include "crypto/kdf.h"
#include "crypto/random.h"

namespace kmsfs::kms::server {
namespace {

constexpr uint8_t kBlobVersion = 0x01;

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

StatusOr<SecretBytes> CreateRootKeyFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot create root key " + path);
  // The umask may have narrowed 0600 further; make it exactly 0600.
  if (::fchmod(fd.get(), 0600) != 0) return Status::FromErrno(errno, "chmod 0600 " + path);
  SecretBytes key = SecretBytes(kRootKeySize);
  crypto::RandomBytes(key.mutable_span());
  KMSFS_RETURN_IF_ERROR(PwriteFull(fd.get(), key.data(), key.size(), 0));
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return key;
}

StatusOr<SecretBytes> ReadRootKeyFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot open root key " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition("root key " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::FailedPrecondition("root key " + path + " has mode " + OctalMode(st.st_mode) +
                                      ", readable by others; it must be 0600 (chmod 600 " + path +
                                      ") and should be replaced if others may have read it");
  }
  if (st.st_size != static_cast<off_t>(kRootKeySize)) {
    return Status::FailedPrecondition("root key " + path + " has " + std::to_string(st.st_size) +
                                      " bytes; it must be exactly 32 (the file is damaged or not a "
                                      "kmsd root key)");
  }
  SecretBytes key(kRootKeySize);
  KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), key.data(), key.size(), 0));
  if (n != kRootKeySize) return Status::FailedPrecondition("root key " + path + " is truncated");
  return key;
}

}  // namespace

StatusOr<std::unique_ptr<RootKeyring>> RootKeyring::LoadOrCreate(const std::string& path) {
  struct stat st {};
  SecretBytes root;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno(errno, "stat " + path);
    KMSFS_ASSIGN_OR_RETURN(root, CreateRootKeyFile(path));
  } else {
    KMSFS_ASSIGN_OR_RETURN(root, ReadRootKeyFile(path));
  }
  return FromBytes(root);
}

StatusOr<std::unique_ptr<RootKeyring>> RootKeyring::FromBytes(const SecretBytes& root) {
  if (root.size() != kRootKeySize) return Status::InvalidArgument("root key must be 32 bytes");
  std::unique_ptr<RootKeyring> ring(new RootKeyring());
  KMSFS_ASSIGN_OR_RETURN(ring->seal_key_,
                         crypto::HkdfSha256(root.span(), {}, AsBytes("kmsd root v1 seal"), crypto::kAes256KeySize));
  KMSFS_ASSIGN_OR_RETURN(ring->token_mac_key_,
                         crypto::HkdfSha256(root.span(), {}, AsBytes("kmsd root v1 import-token"), 32));
  KMSFS_ASSIGN_OR_RETURN(ring->fingerprint_key_,
                         crypto::HkdfSha256(root.span(), {}, AsBytes("kmsd root v1 material-fingerprint"), 32));
  return ring;
}

std::vector<uint8_t> RootKeyring::Seal(std::string_view label, std::span<const uint8_t> plaintext) const {
  std::vector<uint8_t> blob(1 + crypto::kGcmNonceSize + plaintext.size() + crypto::kGcmTagSize);
  blob[0] = kBlobVersion;
  std::span<uint8_t> nonce(blob.data() + 1, crypto::kGcmNonceSize);
  crypto::RandomBytes(nonce);
  std::span<uint8_t> ct(blob.data() + 1 + crypto::kGcmNonceSize, plaintext.size());
  std::span<uint8_t> tag(ct.data() + ct.size(), crypto::kGcmTagSize);
  // Sizes are correct by construction, so sealing cannot fail for bad input.
  Status st = crypto::AesGcmSeal(seal_key_, nonce, plaintext, AsBytes(label), ct, tag);
  if (!st.ok()) {
    std::fputs("kmsd: fatal: sealing failed\n", stderr);
    std::abort();
  }
  return blob;
}

StatusOr<SecretBytes> RootKeyring::Open(std::string_view label, std::span<const uint8_t> blob) const {
  if (blob.size() < 1 + crypto::kGcmNonceSize + crypto::kGcmTagSize || blob[0] != kBlobVersion) {
    return Status::DataLoss("sealed blob is malformed");
  }
  const size_t n = blob.size() - 1 - crypto::kGcmNonceSize - crypto::kGcmTagSize;
  SecretBytes plain(n);
  Status st = crypto::AesGcmOpen(seal_key_, blob.subspan(1, crypto::kGcmNonceSize),
                                 blob.subspan(1 + crypto::kGcmNonceSize, n), AsBytes(label),
                                 blob.last(crypto::kGcmTagSize), plain.mutable_span());
  if (!st.ok()) return Status::DataLoss("sealed blob failed authentication (wrong root key?)");
  return plain;
}

crypto::Sha256Digest RootKeyring::MaterialFingerprint(std::string_view key_id, const SecretBytes& material) const {
  std::vector<uint8_t> msg(key_id.begin(), key_id.end());
  msg.push_back(0);
  msg.insert(msg.end(), material.span().begin(), material.span().end());
  crypto::Sha256Digest d = crypto::HmacSha256(fingerprint_key_, msg);
  OPENSSL_cleanse(msg.data(), msg.size());
  return d;
}

}  // namespace kmsfs::kms::server
