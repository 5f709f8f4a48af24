// The --users file: who may log in to kmsd's IAM endpoint.
//
//   [{"name":"alice","password":"…","id":"<1-64 alnum>","project_id":"…",
//     "domain":"alice-domain", "domain_id":"<optional, 1-64 alnum>"}, …]
//
// name and domain: 1-64 of [A-Za-z0-9._@-]; id: ^[a-zA-Z0-9]{1,64}$ (it is
// what grants name as grantee_principal); project_id: ^[a-zA-Z0-9_-]{1,64}$.
// Without "domain_id" a user's domain id is DomainIdFor(domain). Ids are
// unique, (name, domain) pairs are unique, a domain name maps to one domain id
// and a project belongs to one domain. Unknown fields are rejected (typos).
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_USERS_FILE_H_
#define KMSFS_KMS_SERVER_USERS_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "fs/base/secret_bytes.h"
#include "fs/base/status.h"

namespace kmsfs::kms::server {

struct UserSpec {
  std::string name;
  std::string id;
  std::string project_id;
  std::string domain;
  std::string domain_id;
  SecretBytes password;
};

// Lower-case hex of the first 16 bytes of SHA-256("kmsd-domain:" + name).
std::string DomainIdFor(std::string_view domain_name);

// Parses and validates the file's text; the error says which entry and field
// is wrong. `source` names the file in messages.
StatusOr<std::vector<UserSpec>> ParseUsers(std::string_view json_text, std::string_view source);
StatusOr<std::vector<UserSpec>> LoadUsersFile(const std::string& path);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_USERS_FILE_H_
