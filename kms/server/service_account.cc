// The caller's account: user-quotas and user-instances (GET, no body), as the
// SDK's show_user_quotas and show_user_instances read them.
#include <algorithm>

#include "kms/server/service.h"

namespace kmsfs::kms::server {

StatusOr<Json> Service::ShowUserQuotas(const Caller& c, const Request&) {
  KMSFS_RETURN_IF_ERROR(RequireUserRole(c));
  KMSFS_ASSIGN_OR_RETURN(int64_t keys, store_->CountCustomKeys(c.project_id));
  // The grant quota is per key; "used" is the fullest key of the project.
  KMSFS_ASSIGN_OR_RETURN(std::vector<KeyRecord> all, store_->ListKeys(c.project_id));
  int64_t fullest = 0;
  for (const KeyRecord& k : all) {
    KMSFS_ASSIGN_OR_RETURN(int64_t grants, store_->CountGrantsForKey(k.key_id));
    fullest = std::max(fullest, grants);
  }
  Json resources = Json::array();
  resources.push_back({{"type", "CMK"}, {"used", keys}, {"quota", options_.max_keys_per_project}});
  resources.push_back({{"type", "grant_per_CMK"}, {"used", fullest}, {"quota", options_.max_grants_per_key}});
  return Json{{"quotas", {{"resources", resources}}}};
}

StatusOr<Json> Service::ShowUserInstances(const Caller& c, const Request&) {
  KMSFS_RETURN_IF_ERROR(RequireUserRole(c));
  KMSFS_ASSIGN_OR_RETURN(int64_t keys, store_->CountCustomKeys(c.project_id));
  return Json{{"instance_num", keys}};
}

}  // namespace kmsfs::kms::server
