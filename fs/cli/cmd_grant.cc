// kmsfs grant create|list|revoke|retire BACKING_DIR ...: grants on the
// volume's CMK (spec/kms-api.md §6).
#include <cstdio>
#include <ctime>
#include <string>

#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/core/volume_access.h"

namespace kmsfs::cli {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string FormatMillis(const std::string& ms) {
  char* end = nullptr;
  long long v = std::strtoll(ms.c_str(), &end, 10);
  if (ms.empty() || *end != '\0') return ms;
  std::time_t t = static_cast<std::time_t>(v / 1000);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm_utc);
  return buf;
}

}  // namespace

int GrantCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--grantee", "--access", "--name", "--retiring", "--grantee-type"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  const auto& pos = args->positional();
  if (pos.size() < 2) return Fail(kExitUsage, "usage: kmsfs grant create|list|revoke|retire BACKING_DIR ...");
  const std::string& sub = pos[0];
  auto config = LoadBackingConfig(pos[1]);
  if (!config.ok()) return Fail(kExitUsage, config.status().message());
  auto kms = ConnectKms(*args, config->project_id);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  // Grants go on the key this user pinned for the directory, never on
  // whatever its .kmsfs.json says now.
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, pins.status().message());
  StatusOr<std::string> key_id_or = Status::Internal("no key");
  if (sub == "retire") {
    // Retiring only takes access away, and the retiring principal need not
    // be able to read the volume: the pinned key if there is one, else the
    // config's.
    key_id_or = core::PinnedKeyOr(pos[1], *pins, config->key_id);
  } else {
    auto pin = core::TrustedPin(pos[1], **kms, *pins);
    key_id_or = pin.ok() ? StatusOr<std::string>(pin->key_id) : StatusOr<std::string>(pin.status());
  }
  if (!key_id_or.ok()) return Fail(key_id_or.status(), "cannot trust " + pos[1]);
  const std::string key_id = *key_id_or;

  if (sub == "create") {
    if (pos.size() != 2 || !args->Has("--grantee")) {
      return Fail(kExitUsage, "usage: kmsfs grant create BACKING_DIR --grantee USER_ID [--access read|write]");
    }
    const std::string access = args->Get("--access").value_or("read");
    kms::CreateGrantRequest req;
    req.key_id = key_id;
    req.grantee_principal = *args->Get("--grantee");
    if (access == "read") {
      req.operations = {"decrypt-datakey", "describe-key"};
    } else if (access == "write") {
      req.operations = {"decrypt-datakey", "describe-key", "encrypt-datakey", "create-datakey"};
    } else {
      return Fail(kExitUsage, "--access must be read or write, got '" + access + "'");
    }
    req.name = args->Get("--name").value_or("");
    req.retiring_principal = args->Get("--retiring").value_or("");
    req.grantee_principal_type = args->Get("--grantee-type").value_or("");
    auto id = (*kms)->CreateGrant(req);
    if (!id.ok()) {
      std::string hint;
      if (id.status().kms_error_code() == "KMS.0211") hint = " (default master keys cannot be granted)";
      return Fail(id.status(), "create-grant on key " + key_id + " failed" + hint);
    }
    std::printf("%s\n", id->c_str());
    return kExitOk;
  }
  if (sub == "list") {
    kms::ListGrantsRequest req;
    req.key_id = key_id;
    std::printf("%-64s  %-20s  %-60s  %-16s  %s\n", "GRANT_ID", "GRANTEE", "OPERATIONS", "NAME", "CREATED");
    for (int marker = 0;;) {
      req.marker = marker;
      auto page = (*kms)->ListGrants(req);
      if (!page.ok()) return Fail(page.status(), "list-grants on key " + key_id + " failed");
      for (const kms::Grant& g : page->grants) {
        std::printf("%-64s  %-20s  %-60s  %-16s  %s\n", g.grant_id.c_str(), g.grantee_principal.c_str(),
                    Join(g.operations).c_str(), g.name.empty() ? "-" : g.name.c_str(),
                    FormatMillis(g.creation_date).c_str());
      }
      if (!page->truncated || page->grants.empty()) break;
      marker += static_cast<int>(page->grants.size());
    }
    return kExitOk;
  }
  if (sub == "revoke" || sub == "retire") {
    if (pos.size() != 3) return Fail(kExitUsage, "usage: kmsfs grant " + sub + " BACKING_DIR GRANT_ID");
    Status s = sub == "revoke" ? (*kms)->RevokeGrant(key_id, pos[2]) : (*kms)->RetireGrant(key_id, pos[2]);
    if (!s.ok()) return Fail(s, sub + "-grant " + pos[2] + " failed");
    std::printf("%sd grant %s\n", sub.c_str(), pos[2].c_str());
    return kExitOk;
  }
  return Fail(kExitUsage, "unknown grant command '" + sub + "': use create, list, revoke or retire");
}

}  // namespace kmsfs::cli
