#include "kms/server/bootstrap.h"

#include <set>

#include "base/base64.h"
#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/random.h"

namespace kmsfs::kms::server {

Status InstallFileUsers(Store* store, Identity* identity, const AccessKeys& access_keys,
                        const std::vector<UserSpec>& users) {
  std::vector<UserRecord> records;
  std::vector<AccessKeyRecord> keys;
  for (const UserSpec& spec : users) {
    KMSFS_ASSIGN_OR_RETURN(UserRecord rec, identity->MakeUserRecord(spec, /*builtin=*/false));
    records.push_back(std::move(rec));
    for (const AccessKeySpec& key : spec.access_keys) keys.push_back(access_keys.FileKey(spec.id, key));
  }
  return store->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store->ReplaceFileUsers(records));
    KMSFS_RETURN_IF_ERROR(store->ReplaceFileAccessKeys(keys));
    return store->SetBuiltinUsersActive(false);
  });
}

StatusOr<AdminUser> EnsureAdminUser(Store* store, Identity* identity, const DataDir& data_dir) {
  AdminUser admin;
  admin.token_path = data_dir.File("admin.token");
  admin.password_path = data_dir.File("admin.password");
  KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> existing, store->FindBuiltinUser("admin"));
  if (existing) {
    KMSFS_RETURN_IF_ERROR(store->SetBuiltinUsersActive(true));
    admin.user = *existing;
    admin.user.active = true;
  } else {
    UserSpec spec;
    spec.name = "admin";
    spec.domain = "admin";
    spec.id = HexEncode(crypto::RandomVector(16));
    spec.project_id = HexEncode(crypto::RandomVector(16));
    spec.domain_id = HexEncode(crypto::RandomVector(16));
    std::string password = Base64Encode(crypto::RandomVector(24));
    for (char& c : password) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
    spec.password = SecretBytes::CopyFrom(AsBytes(password));
    Status written = data_dir.WritePrivateFile("admin.password", password);
    WipeString(password);
    KMSFS_RETURN_IF_ERROR(written);
    KMSFS_ASSIGN_OR_RETURN(admin.user, identity->MakeUserRecord(spec, /*builtin=*/true));
    KMSFS_RETURN_IF_ERROR(store->PutUser(admin.user));
    admin.created = true;
  }
  KMSFS_ASSIGN_OR_RETURN(IssuedToken token, identity->IssueToken(admin.user));
  KMSFS_RETURN_IF_ERROR(data_dir.WritePrivateFile("admin.token", token.token));
  WipeString(token.token);
  admin.token_expires_ms = token.expires_ms;
  return admin;
}

Status EnsureDefaultKeys(Store* store, Service* service) {
  KMSFS_ASSIGN_OR_RETURN(std::vector<UserRecord> users, store->ListActiveUsers());
  std::set<std::string> done;
  for (const UserRecord& u : users) {
    if (!done.insert(u.domain_id).second) continue;
    KMSFS_RETURN_IF_ERROR(service->EnsureDefaultKey(u.domain_id, u.project_id));
  }
  return Status::Ok();
}

}  // namespace kmsfs::kms::server
