// kmsfs grant create|list|revoke|retire BACKING_DIR ...: grants on the
// volume's CMK (spec/kms-api.md §6).
#include <cstdio>
#include <string>
#include <vector>

#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/output.h"
#include "fs/core/volume_access.h"

namespace kmsfs::cli {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// A KMS that keeps answering "truncated" cannot keep the listing going forever.
constexpr size_t kMaxListedGrants = 100000;

}  // namespace

int GrantCommand(const Words& words) {
  auto args =
      ParseKmsCommandArgs(words, {"--grantee", "--access", "--name", "--retiring", "--grantee-type"}, {"--json"});
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
    auto pin = core::TrustedPin(pos[1], core::Envelope::OverKms(*kms), *pins);
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
      if (kms::KmsErrorCode(id.status()) == "KMS.0211") hint = " (default master keys cannot be granted)";
      return Fail(id.status(), "create-grant on key " + key_id + " failed" + hint);
    }
    std::printf("%s\n", id->c_str());
    return kExitOk;
  }
  if (sub == "list") {
    // Every page first: nothing is printed before an error.
    std::vector<kms::Grant> grants;
    kms::ListGrantsRequest req;
    req.key_id = key_id;
    for (int marker = 0;;) {
      req.marker = marker;
      auto page = (*kms)->ListGrants(req);
      if (!page.ok()) return Fail(page.status(), "list-grants on key " + key_id + " failed");
      grants.insert(grants.end(), page->grants.begin(), page->grants.end());
      if (!page->truncated || page->grants.empty()) break;
      if (grants.size() > kMaxListedGrants) {
        return Fail(kExitFailure, "list-grants on key " + key_id + " failed: the KMS still answers 'truncated' after " +
                                      std::to_string(grants.size()) + " grants");
      }
      marker += static_cast<int>(page->grants.size());
    }
    if (args->Has("--json")) {
      nlohmann::json list = nlohmann::json::array();
      for (const kms::Grant& g : grants) list.push_back(GrantJson(g));
      std::fputs(JsonText({{"key_id", key_id}, {"grants", list}}).c_str(), stdout);
      return kExitOk;
    }
    Table table({"GRANT_ID", "GRANTEE", "OPERATIONS", "NAME", "CREATED"});
    for (const kms::Grant& g : grants) {
      table.AddRow({g.grant_id, g.grantee_principal, Join(g.operations), g.name.empty() ? "-" : g.name,
                    FormatEpochMillis(g.creation_date)});
    }
    std::fputs(table.Render().c_str(), stdout);
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
