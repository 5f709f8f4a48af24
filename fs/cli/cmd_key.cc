// kmsfs key create|list|describe|import|rotate
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "base/hex.h"
#include "fs/cli/args.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/key_import.h"
#include "fs/cli/output.h"
#include "crypto/random.h"

namespace kmsfs::cli {
namespace {

// A KMS that keeps answering "truncated" cannot keep the listing going forever.
constexpr size_t kMaxListedKeys = 100000;

int Create(const Args& args) {
  kms::CreateKeyRequest req;
  req.origin = args.Get("--origin").value_or("kms");
  if (req.origin != "kms" && req.origin != "external") {
    return Fail(kExitUsage, "--origin must be kms or external, got '" + req.origin + "'");
  }
  if (auto alias = args.Get("--alias")) {
    req.key_alias = *alias;
  } else {
    // The API requires an alias; make a unique one.
    uint8_t rnd[4];
    crypto::RandomBytes(rnd);
    req.key_alias = "kmsfs-" + HexEncode(rnd);
  }
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  auto key = (*kms)->CreateKey(req);
  if (!key.ok()) return Fail(key.status(), "create-key failed");
  std::printf("%s\n", key->key_id.c_str());
  return kExitOk;
}

int List(const Args& args) {
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  // Every page first: nothing is printed before an error.
  std::vector<kms::KeyInfo> keys;
  kms::ListKeysRequest req;
  req.limit = 1000;
  for (int marker = 0;;) {
    req.marker = marker;
    auto page = (*kms)->ListKeys(req);
    if (!page.ok()) return Fail(page.status(), "list-keys failed");
    keys.insert(keys.end(), page->key_details.begin(), page->key_details.end());
    if (!page->truncated || page->key_details.empty()) break;
    if (keys.size() > kMaxListedKeys) {
      return Fail(kExitFailure, "list-keys failed: the KMS still answers 'truncated' after " +
                                    std::to_string(keys.size()) + " keys; is it the KMS you meant?");
    }
    marker += static_cast<int>(page->key_details.size());
  }
  if (args.Has("--json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const kms::KeyInfo& k : keys) list.push_back(KeyJson(k));
    std::fputs(JsonText({{"keys", list}}).c_str(), stdout);
    return kExitOk;
  }
  Table table({"KEY_ID", "ALIAS", "STATE", "ORIGIN", "CREATED"});
  for (const kms::KeyInfo& k : keys) {
    table.AddRow({k.key_id, k.key_alias, KeyStateName(k.key_state), k.origin, FormatEpochMillis(k.creation_date)});
  }
  std::fputs(table.Render().c_str(), stdout);
  return kExitOk;
}

int Describe(const Args& args) {
  if (args.positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs key describe KEY_ID [--json]");
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  auto k = (*kms)->DescribeKey(args.positional()[1]);
  if (!k.ok()) return Fail(k.status(), "describe-key failed");
  if (args.Has("--json")) {
    std::fputs(JsonText(KeyJson(*k)).c_str(), stdout);
    return kExitOk;
  }
  std::vector<std::pair<std::string, std::string>> rows = {
      {"key id", k->key_id},
      {"alias", k->key_alias},
      {"state", std::string(KeyStateName(k->key_state)) + " (" + k->key_state + ")"},
      {"origin", k->origin},
      {"spec", k->key_spec},
      {"usage", k->key_usage},
      {"domain id", k->domain_id},
      {"description", k->key_description},
      {"created", FormatEpochMillis(k->creation_date)},
      {"default key", k->default_key_flag == "1" ? "yes" : "no"},
  };
  if (!k->scheduled_deletion_date.empty()) rows.emplace_back("deletion date", FormatEpochMillis(k->scheduled_deletion_date));
  if (!k->expiration_time.empty()) rows.emplace_back("material expires", FormatEpochMillis(k->expiration_time));
  size_t width = 0;
  for (const auto& [name, value] : rows) width = std::max(width, name.size());
  for (const auto& [name, value] : rows) {
    std::printf("%s:%*s%s\n", name.c_str(), static_cast<int>(width - name.size() + 2), "", Printable(value).c_str());
  }
  return kExitOk;
}

int Import(const Args& args) {
  if (args.positional().size() != 2 || !args.Has("--material")) {
    return Fail(kExitUsage, "usage: kmsfs key import KEY_ID --material FILE [--wrapping ALGORITHM]");
  }
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  Status s = ImportKeyMaterialFromFile(**kms, args.positional()[1], *args.Get("--material"),
                                       args.Get("--wrapping").value_or("RSAES_OAEP_SHA_256"));
  if (!s.ok()) return Fail(s, "key import failed");
  std::printf("imported key material into %s\n", args.positional()[1].c_str());
  return kExitOk;
}

int DeleteMaterial(const Args& args) {
  if (args.positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs key delete-material KEY_ID");
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  Status s = (*kms)->DeleteImportedKeyMaterial(args.positional()[1]);
  if (!s.ok()) return Fail(s, "delete-imported-key-material failed");
  std::printf("deleted the imported material of %s: files under it are unreadable until the same material is "
              "imported again\n",
              args.positional()[1].c_str());
  return kExitOk;
}

int Rotate(const Args& args) {
  if (args.positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs key rotate KEY_ID");
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  Status s = (*kms)->EnableKeyRotation(args.positional()[1]);
  if (!s.ok()) return Fail(s, "enable-key-rotation failed");
  std::printf("rotation enabled for %s: new files use the newest key material\n", args.positional()[1].c_str());
  return kExitOk;
}

}  // namespace

int KeyCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--alias", "--origin", "--material", "--wrapping"}, {"--json"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  const std::string sub = args->positional().empty() ? "" : args->positional()[0];
  if (sub == "create") return Create(*args);
  if (sub == "list") return List(*args);
  if (sub == "describe") return Describe(*args);
  if (sub == "import") return Import(*args);
  if (sub == "rotate") return Rotate(*args);
  if (sub == "delete-material") return DeleteMaterial(*args);
  return Fail(kExitUsage, "usage: kmsfs key create|list|describe|import|rotate|delete-material (see kmsfs --help)");
}

}  // namespace kmsfs::cli
