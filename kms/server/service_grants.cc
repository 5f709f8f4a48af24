// Grant actions: spec/kms-api.md §6.
#include <algorithm>
#include <cctype>
#include <set>

#include "base/hex.h"
#include "crypto/random.h"
#include "kms/server/api_error.h"
#include "kms/server/service.h"
#include "kms/server/validation.h"

namespace kmsfs::kms::server {
namespace {

const std::set<std::string_view> kGrantOperations = {
    "create-datakey", "create-datakey-without-plaintext", "encrypt-datakey", "decrypt-datakey",
    "describe-key",   "create-grant",                     "retire-grant",    "encrypt-data",
    "decrypt-data"};

bool IsGrantee(const GrantRecord& g, const Caller& c) {
  return g.grantee_type == "domain" ? g.grantee_principal == c.domain_id : g.grantee_principal == c.user_id;
}

bool Lists(const GrantRecord& g, std::string_view op) {
  return std::find(g.operations.begin(), g.operations.end(), op) != g.operations.end();
}

bool IsRetiringPrincipal(const GrantRecord& g, const Caller& c) {
  return !g.retiring_principal.empty() &&
         (g.retiring_principal == c.user_id || g.retiring_principal == c.domain_id);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

Json GrantPage(const std::vector<GrantRecord>& grants, const Page& page,
                         Json (*to_json)(const GrantRecord&)) {
  Json list = Json::array();
  for (size_t i = page.begin; i < page.end; ++i) list.push_back(to_json(grants[i]));
  return {{"grants", list},
          {"next_marker", page.next_marker},
          {"truncated", page.truncated ? "true" : "false"},
          {"total", grants.size()}};
}

}  // namespace

StatusOr<Json> Service::CreateGrant(const Caller& c, const Request& r) {
  std::vector<std::string> ops;
  for (const auto& op : *r.Get("operations")) {
    const std::string_view name = op.get_ref<const Json::string_t&>();
    if (!kGrantOperations.count(name)) return KmsError("KMS.0308");
    if (std::find(ops.begin(), ops.end(), name) == ops.end()) ops.emplace_back(name);
  }
  if (ops.empty() || (ops.size() == 1 && ops[0] == "create-grant")) return KmsError("KMS.2401");
  std::string_view grantee = *r.String("grantee_principal");
  if (!IsPrincipal(grantee)) return KmsError("KMS.2402");
  std::string retiring(r.NonEmptyString("retiring_principal").value_or(""));
  if (!retiring.empty() && !IsPrincipal(retiring)) return KmsError("KMS.2402");
  std::string name(r.NonEmptyString("name").value_or(""));
  if (!name.empty() && !IsAliasSyntax(name)) return KmsError("KMS.0308");
  std::string type(r.NonEmptyString("grantee_principal_type").value_or("user"));
  if (type != "user" && type != "domain") return KmsError("KMS.0308");

  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  std::string parent_grant_id;
  if (!ManagesKeysOf(c, k)) {
    // A grantee holding create-grant may pass on only what one grant of its
    // gives it, both create-grant and every operation: the new grant is that
    // grant's child and goes when it is revoked or retired.
    KMSFS_ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, store_->ListGrantsForKey(k.key_id));
    for (const GrantRecord& held : grants) {
      if (!IsGrantee(held, c) || !Lists(held, "create-grant")) continue;
      if (std::all_of(ops.begin(), ops.end(), [&](const std::string& op) { return Lists(held, op); })) {
        parent_grant_id = held.grant_id;
        break;
      }
    }
    if (parent_grant_id.empty()) return KmsError("KMS.0306");
    // Nor may it grant to itself (a grant its own grantor could not revoke
    // apart from this one) or widen access back into the owner's domain.
    const bool to_itself = type == "user" ? grantee == c.user_id : grantee == c.domain_id;
    if (to_itself || (type == "domain" && grantee == k.domain_id)) return KmsError("KMS.0306");
  }
  if (k.default_key) return KmsError("KMS.0211");
  if (k.key_state == kStateScheduledDeletion) return KmsError("KMS.0210");
  if (k.key_state != kStateEnabled && k.key_state != kStateDisabled) return KmsError("KMS.1301");
  KMSFS_ASSIGN_OR_RETURN(int64_t count, store_->CountGrantsForKey(k.key_id));
  if (count >= options_.max_grants_per_key) return KmsError("KMS.2404");

  GrantRecord g;
  g.grant_id = HexEncode(crypto::RandomVector(32));
  g.key_id = k.key_id;
  g.grantee_principal = std::string(grantee);
  g.grantee_type = type;
  g.operations = ops;
  g.issuing_principal = c.user_id;
  g.name = name;
  g.retiring_principal = retiring;
  g.creation_ms = clock_->WallNowMs();
  g.parent_grant_id = parent_grant_id;
  KMSFS_RETURN_IF_ERROR(store_->InsertGrant(g));
  return Json{{"grant_id", g.grant_id}};
}

StatusOr<Json> Service::ListGrants(const Caller& c, const Request& r) {
  KMSFS_RETURN_IF_ERROR(Paginate(r, 0).status());
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, "describe-key"));
  KMSFS_ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, store_->ListGrantsForKey(k.key_id));
  KMSFS_ASSIGN_OR_RETURN(Page page, Paginate(r, grants.size()));
  return GrantPage(grants, page, &Service::GrantJson);
}

StatusOr<Json> Service::RevokeGrant(const Caller& c, const Request& r) {
  std::string_view grant_id = *r.String("grant_id");
  if (!IsGrantId(grant_id)) return KmsError("KMS.2501");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_RETURN_IF_ERROR(Authorize(c, k, ""));
  KMSFS_ASSIGN_OR_RETURN(std::optional<GrantRecord> g, store_->GetGrant(Lower(grant_id)));
  if (!g || g->key_id != k.key_id) return KmsError("KMS.2502");
  KMSFS_RETURN_IF_ERROR(store_->DeleteGrant(g->grant_id));
  return Json::object();
}

StatusOr<Json> Service::RetireGrant(const Caller& c, const Request& r) {
  std::string_view grant_id = *r.String("grant_id");
  if (!IsGrantId(grant_id)) return KmsError("KMS.2501");
  MutexLock lock(&mu_);
  KMSFS_ASSIGN_OR_RETURN(KeyRecord k, LoadKey(c, *r.String("key_id"), false));
  KMSFS_ASSIGN_OR_RETURN(std::optional<GrantRecord> g, store_->GetGrant(Lower(grant_id)));
  if (!g || g->key_id != k.key_id) return KmsError("KMS.2502");
  const bool allowed = g->issuing_principal == c.user_id || IsRetiringPrincipal(*g, c) ||
                       (IsGrantee(*g, c) && Lists(*g, "retire-grant"));
  if (!allowed) return KmsError("KMS.0306");
  KMSFS_RETURN_IF_ERROR(store_->DeleteGrant(g->grant_id));
  return Json::object();
}

StatusOr<Json> Service::ListRetirableGrants(const Caller& c, const Request& r) {
  KMSFS_RETURN_IF_ERROR(Paginate(r, 0).status());
  KMSFS_ASSIGN_OR_RETURN(std::vector<GrantRecord> involving, store_->ListGrantsInvolving(c.user_id, c.domain_id));
  std::vector<GrantRecord> grants;
  for (GrantRecord& g : involving) {
    if (IsRetiringPrincipal(g, c) || (IsGrantee(g, c) && Lists(g, "retire-grant"))) grants.push_back(std::move(g));
  }
  KMSFS_ASSIGN_OR_RETURN(Page page, Paginate(r, grants.size()));
  return GrantPage(grants, page, &Service::GrantJson);
}

}  // namespace kmsfs::kms::server
