#include "kms/server/users_file.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fs/base/hex.h"
#include "kms/server/crypto_util.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

bool IsLoginName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
              c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string DomainIdFor(std::string_view domain_name) {
  std::string input = "kmsd-domain:";
  input.append(domain_name);
  Digest d = Sha256(AsBytes(input));
  return HexEncode(std::span<const uint8_t>(d.data(), 16));
}

StatusOr<std::vector<UserSpec>> ParseUsers(std::string_view json_text, std::string_view source) {
  const std::string where = "users file " + std::string(source);
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument(where + ": not valid JSON");
  if (!doc.is_array()) return Status::InvalidArgument(where + ": must be a JSON list of user objects");
  if (doc.empty()) return Status::InvalidArgument(where + ": lists no users");

  std::vector<UserSpec> users;
  std::set<std::string> ids;
  std::set<std::pair<std::string, std::string>> logins;
  std::map<std::string, std::string> domain_ids;   // domain name -> id
  std::map<std::string, std::string> project_domain;  // project -> domain id
  size_t index = 0;
  for (nlohmann::json& entry : doc) {
    ++index;
    std::string at = where + ": entry " + std::to_string(index);
    if (!entry.is_object()) return Status::InvalidArgument(at + " is not an object");
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      static const std::set<std::string> kKnown = {"name", "password", "id", "project_id", "domain",
                                                   "domain_id"};
      if (!kKnown.count(it.key())) {
        return Status::InvalidArgument(at + ": unknown field \"" + it.key() +
                                       "\" (known: name, password, id, project_id, domain, domain_id)");
      }
      if (!it.value().is_string()) {
        return Status::InvalidArgument(at + ": field \"" + it.key() + "\" must be a string");
      }
    }
    auto field = [&](const char* name) -> std::string {
      auto it = entry.find(name);
      return it == entry.end() ? std::string() : it->get<std::string>();
    };
    for (const char* required : {"name", "password", "id", "project_id", "domain"}) {
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
    std::string& password = entry["password"].get_ref<std::string&>();
    if (password.empty() || password.size() > 1024) {
      return Status::InvalidArgument(at + ": \"password\" must be 1-1024 bytes");
    }
    u.password = SecretBytes::CopyFrom(AsBytes(password));
    WipeString(password);
    u.id = field("id");
    if (!IsPrincipal(u.id)) return Status::InvalidArgument(at + ": \"id\" must match ^[a-zA-Z0-9]{1,64}$");
    u.project_id = field("project_id");
    if (!IsSimpleName(u.project_id)) {
      return Status::InvalidArgument(at + ": \"project_id\" must match ^[a-zA-Z0-9_-]{1,64}$");
    }
    u.domain = field("domain");
    if (!IsLoginName(u.domain)) {
      return Status::InvalidArgument(at + ": \"domain\" must be 1-64 characters of A-Z a-z 0-9 . _ @ -");
    }
    u.domain_id = entry.contains("domain_id") ? field("domain_id") : DomainIdFor(u.domain);
    if (!IsPrincipal(u.domain_id)) {
      return Status::InvalidArgument(at + ": \"domain_id\" must match ^[a-zA-Z0-9]{1,64}$");
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
    users.push_back(std::move(u));
  }
  return users;
}

StatusOr<std::vector<UserSpec>> LoadUsersFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read users file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto users = ParseUsers(text, path);
  WipeString(text);
  return users;
}

}  // namespace kmsfs::kms::server
