// PasswordHasher: the password verifiers of kmsd's IAM users, as libsodium
// Argon2id strings (crypto_pwhash_str: "$argon2id$v=19$m=…,t=…,p=1$salt$hash").
//
// Each hash costs memlimit bytes of memory for about 0.1 s (at the default,
// libsodium's interactive limits), so at most max_concurrent are computed at
// once: more parallel logins wait for a turn, at most max_wait, and are then
// refused (kResourceExhausted) instead of exhausting memory.
//
// VerifyUnknown() does the work of a verification for a login name that does
// not exist, against a made-up hash with the parameters of the strongest
// stored hash, so that the time of a failed login does not tell whether the
// name exists.
//
// Thread-safety: safe for concurrent use.
#ifndef KMSFS_KMS_SERVER_PASSWORD_HASHER_H_
#define KMSFS_KMS_SERVER_PASSWORD_HASHER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/mutex.h"
#include "base/status.h"

namespace kmsfs::kms::server {

class PasswordHasher {
 public:
  struct Options {
    uint64_t opslimit = 0;  // 0: crypto_pwhash_OPSLIMIT_INTERACTIVE
    size_t memlimit = 0;    // 0: crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB)
    int max_concurrent = 2;
    std::chrono::milliseconds max_wait{5000};
  };

  explicit PasswordHasher(Options options);
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // A fresh Argon2id string for `password`.
  StatusOr<std::string> Hash(std::span<const uint8_t> password);
  // Whether `password` matches `hash` (false for a malformed hash).
  StatusOr<bool> Verify(std::string_view hash, std::span<const uint8_t> password);
  // The cost of Verify for a user that does not exist; always false.
  StatusOr<bool> VerifyUnknown(std::span<const uint8_t> password);
  // Makes VerifyUnknown cost what verifying `hash` costs, if that is more
  // than it costs now.
  void MatchCostOf(std::string_view hash);
  // "$argon2id$v=19$m=…,t=…,p=…" of the hash VerifyUnknown verifies against:
  // the work it does is the work these parameters set.
  std::string UnknownHashParameters();
  // The same part of any Argon2id string ("" when it has none).
  static std::string ParametersOf(std::string_view hash);

  // An Argon2id string libsodium can verify (syntax only).
  static bool IsArgon2idString(std::string_view hash);

 private:
  // Waits for a slot; false after max_wait.
  bool Acquire();
  void Release();

  Options options_;
  Mutex mu_;
  std::condition_variable cv_;
  int busy_ KMSFS_GUARDED_BY(mu_) = 0;
  std::string unknown_hash_ KMSFS_GUARDED_BY(mu_);  // a hash of no password
  uint64_t unknown_cost_ KMSFS_GUARDED_BY(mu_) = 0;  // memlimit * opslimit of unknown_hash_
};

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_PASSWORD_HASHER_H_
