#include "kms/server/users_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <set>

#include "base/bytes.h"
#include "base/hex.h"
#include "base/unique_fd.h"
#include "crypto/hash.h"
#include "kms/server/json.h"
#include "kms/server/password_hasher.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

constexpr size_t kMaxFileBytes = 16u << 20;

bool IsLoginName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
              c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsAccessKeyId(std::string_view s) {
  if (s.size() < 8 || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return true;
}

bool IsSecretKeyText(std::string_view s) {
  if (s.size() < 8 || s.size() > 128) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status ParseAccessKeys(Json& list, const std::string& at, std::set<std::string>* seen, UserSpec* u) {
  if (!list.is_array()) return Status::InvalidArgument(at + ": \"access_keys\" must be a list of objects");
  size_t n = 0;
  for (Json& key : list) {
    const std::string where = at + ": access key " + std::to_string(++n);
    if (!key.is_object()) return Status::InvalidArgument(where + " is not an object");
    for (auto it = key.begin(); it != key.end(); ++it) {
      if (it.key() != "access" && it.key() != "secret") {
        return Status::InvalidArgument(where + ": unknown field \"" + std::string(it.key()) +
                                       "\" (known: access, secret)");
      }
      if (!it.value().is_string()) {
        return Status::InvalidArgument(where + ": field \"" + std::string(it.key()) + "\" must be a string");
      }
    }
    if (!key.contains("access") || !key.contains("secret")) {
      return Status::InvalidArgument(where + ": needs \"access\" and \"secret\"");
    }
    AccessKeySpec spec;
    spec.access = std::string(key["access"].get_ref<const Json::string_t&>());
    if (!IsAccessKeyId(spec.access)) {
      return Status::InvalidArgument(where + ": \"access\" must match ^[A-Za-z0-9]{8,64}$");
    }
    Json::string_t& secret = key["secret"].get_ref<Json::string_t&>();
    if (!IsSecretKeyText(secret)) {
      WipeSecure(secret);
      return Status::InvalidArgument(where + ": \"secret\" must be 8-128 printable ASCII characters");
    }
    spec.secret = SecretBytes::CopyFrom(AsBytes(secret));
    WipeSecure(secret);
    if (!seen->insert(spec.access).second) {
      return Status::InvalidArgument(where + ": access key " + spec.access + " is listed twice");
    }
    u->access_keys.push_back(std::move(spec));
  }
  return Status::Ok();
}

}  // namespace

std::string DomainIdFor(std::string_view domain_name) {
  std::string input = "kmsd-domain:";
  input.append(domain_name);
  crypto::Sha256Digest d = crypto::Sha256(AsBytes(input));
  return HexEncode(std::span<const uint8_t>(d.data(), 16));
}

StatusOr<std::vector<UserSpec>> ParseUsers(std::string_view json_text, std::string_view source) {
  const std::string where = "users file " + std::string(source);
  Json doc = ParseJson(json_text);
  if (doc.is_discarded()) return Status::InvalidArgument(where + ": not valid JSON");
  if (!doc.is_array()) return Status::InvalidArgument(where + ": must be a JSON list of user objects");
  if (doc.empty()) return Status::InvalidArgument(where + ": lists no users");

  static const std::set<std::string_view> kKnown = {"name",   "password",     "password_hash", "id",
                                                    "domain", "domain_id",    "project_id",    "project_name",
                                                    "role",   "access_keys"};
  std::vector<UserSpec> users;
  std::set<std::string> ids;
  std::set<std::pair<std::string, std::string>> logins;
  std::map<std::string, std::string> domain_ids;      // domain name -> id
  std::map<std::string, std::string> project_domain;  // project -> domain id
  std::map<std::pair<std::string, std::string>, std::string> project_names;  // (domain id, name) -> project
  std::map<std::string, std::string> name_of_project;                       // project -> name
  std::set<std::string> access_keys;
  size_t index = 0;
  for (Json& entry : doc) {
    ++index;
    std::string at = where + ": entry " + std::to_string(index);
    if (!entry.is_object()) return Status::InvalidArgument(at + " is not an object");
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      const std::string key(it.key());
      if (!kKnown.count(key)) {
        return Status::InvalidArgument(at + ": unknown field \"" + key +
                                       "\" (known: name, password, password_hash, id, project_id, project_name, "
                                       "domain, domain_id, role, access_keys)");
      }
      if (key != "access_keys" && !it.value().is_string()) {
        return Status::InvalidArgument(at + ": field \"" + key + "\" must be a string");
      }
    }
    auto field = [&](const char* name) -> std::string {
      auto it = entry.find(name);
      return it == entry.end() ? std::string() : std::string(it->get_ref<const Json::string_t&>());
    };
    for (const char* required : {"name", "id", "project_id", "domain"}) {
      if (!entry.contains(required)) {
        return Status::InvalidArgument(at + ": missing field \"" + required + "\"");
      }
    }
    UserSpec u;
    u.name = field("name");
    at += " (\"" + u.name.substr(0, 64) + "\")";
    if (!IsLoginName(u.name)) {
      return Status::InvalidArgument(at + ": \"name\" must be 1-64 characters of A-Z a-z 0-9 . _ @ -");
    }
    const bool has_password = entry.contains("password");
    const bool has_hash = entry.contains("password_hash");
    if (has_password == has_hash) {
      return Status::InvalidArgument(at + ": give exactly one of \"password\" and \"password_hash\"");
    }
    if (has_password) {
      Json::string_t& password = entry["password"].get_ref<Json::string_t&>();
      if (password.empty() || password.size() > 1024) {
        WipeSecure(password);
        return Status::InvalidArgument(at + ": \"password\" must be 1-1024 bytes");
      }
      u.password = SecretBytes::CopyFrom(AsBytes(password));
      WipeSecure(password);
    } else {
      u.password_hash = field("password_hash");
      if (!PasswordHasher::IsArgon2idString(u.password_hash)) {
        return Status::InvalidArgument(at + ": \"password_hash\" must be an Argon2id string "
                                            "($argon2id$v=19$m=…,t=…,p=1$salt$hash)");
      }
    }
    u.id = field("id");
    if (!IsPrincipal(u.id)) return Status::InvalidArgument(at + ": \"id\" must match ^[a-zA-Z0-9]{1,64}$");
    u.project_id = field("project_id");
    if (!IsSimpleName(u.project_id)) {
      return Status::InvalidArgument(at + ": \"project_id\" must match ^[a-zA-Z0-9_-]{1,64}$");
    }
    u.project_name = entry.contains("project_name") ? field("project_name") : u.project_id;
    if (!IsSimpleName(u.project_name)) {
      return Status::InvalidArgument(at + ": \"project_name\" must match ^[a-zA-Z0-9_-]{1,64}$");
    }
    u.domain = field("domain");
    if (!IsLoginName(u.domain)) {
      return Status::InvalidArgument(at + ": \"domain\" must be 1-64 characters of A-Z a-z 0-9 . _ @ -");
    }
    u.domain_id = entry.contains("domain_id") ? field("domain_id") : DomainIdFor(u.domain);
    if (!IsPrincipal(u.domain_id)) {
      return Status::InvalidArgument(at + ": \"domain_id\" must match ^[a-zA-Z0-9]{1,64}$");
    }
    if (entry.contains("role")) {
      u.role = field("role");
      if (u.role != kRoleAdmin && u.role != kRoleUser && u.role != kRoleNone) {
        return Status::InvalidArgument(at + ": \"role\" must be kms_admin, kms_user or none");
      }
    }
    if (entry.contains("access_keys")) {
      KMSFS_RETURN_IF_ERROR(ParseAccessKeys(entry["access_keys"], at, &access_keys, &u));
    }
    if (!ids.insert(u.id).second) return Status::InvalidArgument(at + ": duplicate user id " + u.id);
    if (!logins.insert({u.name, u.domain}).second) {
      return Status::InvalidArgument(at + ": duplicate user name in domain " + u.domain);
    }
    auto [d, fresh_domain] = domain_ids.emplace(u.domain, u.domain_id);
    if (!fresh_domain && d->second != u.domain_id) {
      return Status::InvalidArgument(at + ": domain " + u.domain + " has two different domain_id values");
    }
    auto [p, fresh_project] = project_domain.emplace(u.project_id, u.domain_id);
    if (!fresh_project && p->second != u.domain_id) {
      return Status::InvalidArgument(at + ": project " + u.project_id + " is used by two domains");
    }
    auto [pn, fresh_name] = name_of_project.emplace(u.project_id, u.project_name);
    if (!fresh_name && pn->second != u.project_name) {
      return Status::InvalidArgument(at + ": project " + u.project_id + " has two different project_name values");
    }
    auto [np, fresh_named] = project_names.emplace(std::make_pair(u.domain_id, u.project_name), u.project_id);
    if (!fresh_named && np->second != u.project_id) {
      return Status::InvalidArgument(at + ": project name " + u.project_name + " names two projects of domain " +
                                     u.domain);
    }
    users.push_back(std::move(u));
  }
  return users;
}

StatusOr<std::vector<UserSpec>> LoadUsersFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ELOOP) return Status::InvalidArgument("users file " + path + " is a symbolic link; name the file itself");
    return Status::FromErrno(errno, "cannot read users file " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat users file " + path);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("users file " + path + " is not a regular file");
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return Status::InvalidArgument("users file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                                   ", not by kmsd's user (uid " + std::to_string(::geteuid()) +
                                   ") or root; whoever owns it decides who may log in (chown it)");
  }
  if ((st.st_mode & 022) != 0) {
    return Status::InvalidArgument("users file " + path + " has mode " + OctalMode(st.st_mode) +
                                   ": group or others may write it and so add users; chmod 600 " + path);
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    return Status::InvalidArgument("users file " + path + " is larger than 16 MiB");
  }
  SecureString text(static_cast<size_t>(st.st_size), '\0');
  KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd.get(), text.data(), text.size(), 0));
  text.resize(n);
  auto users = ParseUsers(std::string_view(text.data(), text.size()), path);
  WipeSecure(text);
  if (!users.ok()) return users.status();
  bool holds_secrets = false;
  for (const UserSpec& u : *users) holds_secrets = holds_secrets || !u.password.empty() || !u.access_keys.empty();
  if (holds_secrets && (st.st_mode & 077) != 0) {
    return Status::InvalidArgument("users file " + path + " has mode " + OctalMode(st.st_mode) +
                                   " but holds plain passwords or secret keys others may read; chmod 600 " + path +
                                   " (or list password_hash instead of password)");
  }
  return users;
}

}  // namespace kmsfs::kms::server
