#include "kms/server/password_hasher.h"

#include <sodium.h>

#include <array>
#include <cstdlib>
#include <vector>

#include "base/secret_bytes.h"
#include "crypto/random.h"


namespace kmsfs::kms::server {
namespace {

constexpr std::string_view kPrefix = "$argon2id$v=19$";

struct Argon2Params {
  uint64_t memory_kib = 0;
  uint64_t passes = 0;
  uint64_t lanes = 0;
  size_t params_end = 0;  // index of the '$' after "m=…,t=…,p=…"
};

// "m=<n>,t=<n>,p=<n>" right after kPrefix.
bool ParseParams(std::string_view hash, Argon2Params* out) {
  if (hash.substr(0, kPrefix.size()) != kPrefix) return false;
  size_t pos = kPrefix.size();
  auto number = [&](char name, uint64_t* value) {
    if (pos + 2 > hash.size() || hash[pos] != name || hash[pos + 1] != '=') return false;
    pos += 2;
    const size_t start = pos;
    uint64_t v = 0;
    while (pos < hash.size() && hash[pos] >= '0' && hash[pos] <= '9' && pos - start < 10) {
      v = v * 10 + static_cast<uint64_t>(hash[pos] - '0');
      ++pos;
    }
    *value = v;
    return pos > start && v > 0;
  };
  if (!number('m', &out->memory_kib) || pos >= hash.size() || hash[pos++] != ',') return false;
  if (!number('t', &out->passes) || pos >= hash.size() || hash[pos++] != ',') return false;
  if (!number('p', &out->lanes) || pos >= hash.size() || hash[pos] != '$') return false;
  out->params_end = pos;
  return true;
}

bool IsBase64NoPadding(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::string Base64NoPadding(std::span<const uint8_t> bytes) {
  std::vector<char> out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING));
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  return std::string(out.data());
}

// A hash with `params` that no password matches: random salt and digest.
std::string UnmatchableHash(std::string_view template_hash, const Argon2Params& params) {
  std::array<uint8_t, crypto_pwhash_SALTBYTES> salt{};
  std::array<uint8_t, 32> digest{};
  crypto::RandomBytes(salt);
  crypto::RandomBytes(digest);
  return std::string(template_hash.substr(0, params.params_end)) + "$" + Base64NoPadding(salt) + "$" +
         Base64NoPadding(digest);
}

}  // namespace

PasswordHasher::PasswordHasher(Options options) : options_(options) {
  EnsureSodiumInitialized();
  if (options_.opslimit == 0) options_.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  if (options_.memlimit == 0) options_.memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (options_.max_concurrent < 1) options_.max_concurrent = 1;
  // Until a stored hash says otherwise, unknown names cost what a new hash costs.
  Argon2Params params;
  params.memory_kib = options_.memlimit / 1024;
  params.passes = options_.opslimit;
  const std::string shape = std::string(kPrefix) + "m=" + std::to_string(params.memory_kib) +
                            ",t=" + std::to_string(params.passes) + ",p=1";
  params.params_end = shape.size();
  unknown_hash_ = UnmatchableHash(shape, params);
  unknown_cost_ = params.memory_kib * params.passes;
}

bool PasswordHasher::IsArgon2idString(std::string_view hash) {
  Argon2Params params;
  if (hash.size() >= crypto_pwhash_STRBYTES || !ParseParams(hash, &params) || params.lanes != 1) return false;
  const std::string_view rest = hash.substr(params.params_end + 1);
  const size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return false;
  return IsBase64NoPadding(rest.substr(0, dollar)) && IsBase64NoPadding(rest.substr(dollar + 1));
}

void PasswordHasher::MatchCostOf(std::string_view hash) {
  Argon2Params params;
  if (!IsArgon2idString(hash) || !ParseParams(hash, &params)) return;
  const uint64_t cost = params.memory_kib * params.passes;
  MutexLock lock(&mu_);
  if (cost <= unknown_cost_) return;
  unknown_hash_ = UnmatchableHash(hash, params);
  unknown_cost_ = cost;
}

std::string PasswordHasher::ParametersOf(std::string_view hash) {
  // "$argon2id$v=19$m=65536,t=2,p=1$salt$digest": up to the fourth '$'.
  size_t end = 0;
  for (int field = 0; field < 3; ++field) {
    end = hash.find('$', end + 1);
    if (end == std::string_view::npos) return "";
  }
  return std::string(hash.substr(0, end));
}

std::string PasswordHasher::UnknownHashParameters() {
  MutexLock lock(&mu_);
  return ParametersOf(unknown_hash_);
}

bool PasswordHasher::Acquire() {
  MutexLock lock(&mu_);
  const auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
  while (busy_ >= options_.max_concurrent) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    lock.WaitUntil(cv_, deadline);
  }
  ++busy_;
  return true;
}

void PasswordHasher::Release() {
  {
    MutexLock lock(&mu_);
    --busy_;
  }
  cv_.notify_one();
}

StatusOr<std::string> PasswordHasher::Hash(std::span<const uint8_t> password) {
  if (!Acquire()) return Status::ResourceExhausted("too many password hashes at once");
  std::array<char, crypto_pwhash_STRBYTES> out{};
  const int rc = crypto_pwhash_str(out.data(), reinterpret_cast<const char*>(password.data()), password.size(),
                                   options_.opslimit, options_.memlimit);
  Release();
  if (rc != 0) return Status::ResourceExhausted("Argon2id hashing failed (out of memory?)");
  return std::string(out.data());
}

StatusOr<bool> PasswordHasher::Verify(std::string_view hash, std::span<const uint8_t> password) {
  if (!IsArgon2idString(hash)) return false;
  const std::string text(hash);  // crypto_pwhash_str_verify wants a C string
  if (!Acquire()) return Status::ResourceExhausted("too many password checks at once");
  const int rc =
      crypto_pwhash_str_verify(text.c_str(), reinterpret_cast<const char*>(password.data()), password.size());
  Release();
  return rc == 0;
}

StatusOr<bool> PasswordHasher::VerifyUnknown(std::span<const uint8_t> password) {
  std::string hash;
  {
    MutexLock lock(&mu_);
    hash = unknown_hash_;
  }
  KMSFS_ASSIGN_OR_RETURN(bool ignored, Verify(hash, password));
  (void)ignored;
  return false;
}

}  // namespace kmsfs::kms::server
