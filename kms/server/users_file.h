// The --users file: who may log in to kmsd's IAM endpoint, and how.
//
//   [{"name":"alice","password":"…","id":"<1-64 alnum>","project_id":"…",
//     "domain":"alice-domain",
//     "domain_id":"<optional, 1-64 alnum>",
//     "project_name":"<optional, e.g. eu-de; default: the project id>",
//     "role":"<optional: kms_admin (default), kms_user or none>",
//     "access_keys":[{"access":"<AK>","secret":"<SK>"}]}, …]
//
// Instead of "password", "password_hash" may hold an Argon2id string
// ("$argon2id$v=19$m=…,t=…,p=1$…$…", e.g. from `argon2 SALT -id -e`); plain
// passwords are hashed when the file is loaded.
//
// name and domain: 1-64 of [A-Za-z0-9._@-]; id: ^[a-zA-Z0-9]{1,64}$ (it is
// what grants name as grantee_principal); project_id and project_name:
// ^[a-zA-Z0-9_-]{1,64}$; access: ^[A-Za-z0-9]{8,64}$ (unique over the file);
// secret: 8-128 printable ASCII characters. Without "domain_id" a user's
// domain id is DomainIdFor(domain). Ids are unique, (name, domain) pairs are
// unique, a domain name maps to one domain id, a project belongs to one
// domain and a project name names one project in a domain. Unknown fields are
// rejected (typos).
//
// LoadUsersFile refuses a file that is not a regular file owned by kmsd's
// user (or root), that group or others may write (they could add users), or
// that holds a plain password or secret key and is readable by them.
//
// Thread-safety: pure functions.
#ifndef KMSFS_KMS_SERVER_USERS_FILE_H_
#define KMSFS_KMS_SERVER_USERS_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/secret_bytes.h"
#include "base/status.h"

namespace kmsfs::kms::server {

// What a user may do with its own domain's keys (IAM policy of the cloud).
inline constexpr std::string_view kRoleAdmin = "kms_admin";  // everything (default)
inline constexpr std::string_view kRoleUser = "kms_user";    // use keys, not manage them
inline constexpr std::string_view kRoleNone = "none";        // only what grants allow

struct AccessKeySpec {
  std::string access;
  SecretBytes secret;
};

struct UserSpec {
  std::string name;
  std::string id;
  std::string project_id;
  std::string project_name;  // the project id when the file names none
  std::string domain;
  std::string domain_id;
  std::string role = std::string(kRoleAdmin);
  SecretBytes password;       // empty when password_hash is given
  std::string password_hash;  // Argon2id string, or empty
  std::vector<AccessKeySpec> access_keys;
};

// Lower-case hex of the first 16 bytes of SHA-256("kmsd-domain:" + name).
std::string DomainIdFor(std::string_view domain_name);

// Parses and validates the file's text; the error says which entry and field
// is wrong. `source` names the file in messages.
StatusOr<std::vector<UserSpec>> ParseUsers(std::string_view json_text, std::string_view source);
StatusOr<std::vector<UserSpec>> LoadUsersFile(const std::string& path);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_USERS_FILE_H_
