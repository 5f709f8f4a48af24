// What an attacker (or an auditor) with a KMS account does by hand in the
// security tests: call the KMS API with a user's own token, and read or plant
// the header xattr of a backing file.
#ifndef KMSFS_TESTS_INTEGRATION_KMS_AS_USER_H_
#define KMSFS_TESTS_INTEGRATION_KMS_AS_USER_H_

#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "crypto/hash.h"
#include "fs/format/file_header.h"
#include "tests/testutil/kmsd_process.h"

namespace kmsfs::testing {

// The decoded user.kmsfs header of a backing file, or nullopt.
inline std::optional<format::FileHeader> ReadBackingHeader(const std::string& path) {
  std::vector<uint8_t> buf(format::FileHeader::kMaxEncodedSize);
  const ssize_t n = getxattr(path.c_str(), "user.kmsfs", buf.data(), buf.size());
  if (n <= 0) return std::nullopt;
  auto h = format::FileHeader::Decode({buf.data(), static_cast<size_t>(n)});
  if (!h.ok()) return std::nullopt;
  return *h;
}

inline bool WriteBackingHeader(const std::string& path, const format::FileHeader& h) {
  const std::vector<uint8_t> bytes = h.Encode();
  return !bytes.empty() && setxattr(path.c_str(), "user.kmsfs", bytes.data(), bytes.size(), 0) == 0;
}

// A user's own session with the KMS API.
class KmsAsUser {
 public:
  KmsAsUser(KmsdProcess& kmsd, const KmsdUser& user)
      : endpoint_(kmsd.endpoint()), project_(user.project_id), token_(kmsd.Login(user)) {}

  const std::string& token() const { return token_; }

  // POSTs `body` to the action; the reply's HTTP status and JSON body.
  std::pair<int, nlohmann::json> Call(const std::string& action, const nlohmann::json& body) const {
    HttpReply r = PostJson(endpoint_, "/v1.0/" + project_ + "/kms/" + action, body.dump(), token_);
    return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
  }

  // encrypt-datakey of `key` under `key_id` with `context`, as kmsfs wraps
  // its keys; the cipher_text, or "" (with a test failure).
  std::string WrapKey(const std::string& key_id, const std::vector<uint8_t>& key, const nlohmann::json& context) {
    std::vector<uint8_t> plain = key;
    const auto digest = crypto::Sha256(key);
    plain.insert(plain.end(), digest.begin(), digest.end());
    auto [status, reply] = Call("encrypt-datakey", {{"key_id", key_id},
                                                    {"plain_text", HexEncode(plain)},
                                                    {"datakey_plain_length", std::to_string(key.size())},
                                                    {"encryption_context", context}});
    EXPECT_EQ(status, 200) << reply.dump();
    return status == 200 ? reply.value("cipher_text", "") : "";
  }
  // A file's DEK, bound to `file_id` as kmsfs binds it.
  std::string WrapDek(const std::string& key_id, const std::vector<uint8_t>& dek, const format::FileId& file_id) {
    return WrapKey(key_id, dek, FileContext(file_id));
  }

  // decrypt-datakey of a header's DEK: its hex, or "" (and the HTTP status in *status).
  std::string UnwrapDekHex(const format::FileHeader& h, int* status = nullptr) {
    auto [code, reply] = Call("decrypt-datakey", {{"key_id", h.key_id},
                                                  {"cipher_text", h.wrapped_dek},
                                                  {"datakey_cipher_length", "64"},
                                                  {"encryption_context", FileContext(h.file_id)}});
    if (status != nullptr) *status = code;
    return code == 200 ? reply.value("data_key", "") : "";
  }

  static nlohmann::json FileContext(const format::FileId& id) { return {{"kmsfs_file_id", format::FileIdHex(id)}}; }

 private:
  std::string endpoint_, project_, token_;
};

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_INTEGRATION_KMS_AS_USER_H_
