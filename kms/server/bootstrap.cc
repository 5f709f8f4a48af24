#include "kms/server/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "fs/base/hex.h"
#include "fs/base/unique_fd.h"
#include "kms/server/crypto_util.h"

namespace kmsfs::kms::server {

Status WritePrivateFile(const std::string& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot write " + path);
  if (::fchmod(fd.get(), 0600) != 0) return Status::FromErrno(errno, "chmod 0600 " + path);
  KMSFS_RETURN_IF_ERROR(PwriteFull(fd.get(), content.data(), content.size(), 0));
  if (::fsync(fd.get()) != 0) return Status::FromErrno(errno, "fsync " + path);
  return Status::Ok();
}

Status InstallFileUsers(Store* store, const std::vector<UserSpec>& users) {
  std::vector<UserRecord> records;
  for (const UserSpec& spec : users) {
    KMSFS_ASSIGN_OR_RETURN(UserRecord rec, Identity::MakeUserRecord(spec, /*builtin=*/false));
    records.push_back(std::move(rec));
  }
  return store->RunInTransaction([&]() -> Status {
    KMSFS_RETURN_IF_ERROR(store->ReplaceFileUsers(records));
    return store->SetBuiltinUsersActive(false);
  });
}

StatusOr<AdminUser> EnsureAdminUser(Store* store, Identity* identity, const std::string& data_dir) {
  AdminUser admin;
  admin.token_path = data_dir + "/admin.token";
  admin.password_path = data_dir + "/admin.password";
  KMSFS_ASSIGN_OR_RETURN(std::optional<UserRecord> existing, store->FindBuiltinUser("admin"));
  if (existing) {
    KMSFS_RETURN_IF_ERROR(store->SetBuiltinUsersActive(true));
    admin.user = *existing;
    admin.user.active = true;
  } else {
    UserSpec spec;
    spec.name = "admin";
    spec.domain = "admin";
    spec.id = HexEncode(RandomVector(16));
    spec.project_id = HexEncode(RandomVector(16));
    spec.domain_id = HexEncode(RandomVector(16));
    std::string password = Base64Encode(RandomVector(24));
    for (char& c : password) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
    spec.password = SecretBytes::CopyFrom(AsBytes(password));
    Status written = WritePrivateFile(admin.password_path, password);
    WipeString(password);
    KMSFS_RETURN_IF_ERROR(written);
    KMSFS_ASSIGN_OR_RETURN(admin.user, Identity::MakeUserRecord(spec, /*builtin=*/true));
    KMSFS_RETURN_IF_ERROR(store->PutUser(admin.user));
    admin.created = true;
  }
  KMSFS_ASSIGN_OR_RETURN(IssuedToken token, identity->IssueToken(admin.user));
  KMSFS_RETURN_IF_ERROR(WritePrivateFile(admin.token_path, token.token));
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
