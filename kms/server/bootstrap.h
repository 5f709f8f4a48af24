// Start-up state of kmsd: who may log in, and each domain's default key.
//
// With --users, the file's users replace every user from an earlier file and
// the built-in admin is disabled. Without it, the built-in user "admin" (own
// domain and project, random ids and password) is created once and reused;
// DATA/admin.password is written when it is created and DATA/admin.token at
// every start (both mode 0600).
//
// Thread-safety: start-up only, single-threaded.
#ifndef KMSFS_KMS_SERVER_BOOTSTRAP_H_
#define KMSFS_KMS_SERVER_BOOTSTRAP_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "kms/server/access_keys.h"
#include "kms/server/data_dir.h"
#include "kms/server/identity.h"
#include "kms/server/service.h"
#include "kms/server/store.h"
#include "kms/server/users_file.h"

namespace kmsfs::kms::server {

// Also replaces the access keys the users file gave before by those it gives now.
Status InstallFileUsers(Store* store, Identity* identity, const AccessKeys& access_keys,
                        const std::vector<UserSpec>& users);

struct AdminUser {
  UserRecord user;
  std::string token_path;
  std::string password_path;
  bool created = false;
  int64_t token_expires_ms = 0;
};
StatusOr<AdminUser> EnsureAdminUser(Store* store, Identity* identity, const DataDir& data_dir);

// Creates the default master key of every active user's domain (in the first
// such user's project) unless it exists.
Status EnsureDefaultKeys(Store* store, Service* service);

}  // namespace kmsfs::kms::server

#endif  // KMSFS_KMS_SERVER_BOOTSTRAP_H_
