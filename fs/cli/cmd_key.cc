// kmsfs key create|list|describe|import|rotate
#include <cstdio>
#include <string>

#include "fs/cli/args.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/crypto/kdf.h"
#include "fs/base/hex.h"
#include "fs/cli/key_import.h"

namespace kmsfs::cli {
namespace {

const char* StateName(const std::string& state) {
  if (state == "1") return "pending-activation";
  if (state == "2") return "enabled";
  if (state == "3") return "disabled";
  if (state == "4") return "scheduled-deletion";
  if (state == "5") return "pending-import";
  return "unknown";
}

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
  kms::ListKeysRequest req;
  req.limit = 1000;
  std::printf("%-36s  %-20s  %-18s  %-8s  %s\n", "KEY_ID", "ALIAS", "STATE", "ORIGIN", "CREATED_MS");
  for (int marker = 0;;) {
    req.marker = marker;
    auto page = (*kms)->ListKeys(req);
    if (!page.ok()) return Fail(page.status(), "list-keys failed");
    for (const kms::KeyInfo& k : page->key_details) {
      std::printf("%-36s  %-20s  %-18s  %-8s  %s\n", k.key_id.c_str(), k.key_alias.c_str(), StateName(k.key_state),
                  k.origin.c_str(), k.creation_date.c_str());
    }
    if (!page->truncated || page->key_details.empty()) break;
    marker += static_cast<int>(page->key_details.size());
  }
  return kExitOk;
}

int Describe(const Args& args) {
  if (args.positional().size() != 2) return Fail(kExitUsage, "usage: kmsfs key describe KEY_ID");
  auto kms = ConnectKms(args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  auto k = (*kms)->DescribeKey(args.positional()[1]);
  if (!k.ok()) return Fail(k.status(), "describe-key failed");
  std::printf("key_id:           %s\n", k->key_id.c_str());
  std::printf("alias:            %s\n", k->key_alias.c_str());
  std::printf("state:            %s (%s)\n", StateName(k->key_state), k->key_state.c_str());
  std::printf("origin:           %s\n", k->origin.c_str());
  std::printf("spec:             %s\n", k->key_spec.c_str());
  std::printf("usage:            %s\n", k->key_usage.c_str());
  std::printf("domain_id:        %s\n", k->domain_id.c_str());
  std::printf("description:      %s\n", k->key_description.c_str());
  std::printf("creation_date:    %s\n", k->creation_date.c_str());
  std::printf("default_key:      %s\n", k->default_key_flag == "1" ? "yes" : "no");
  if (!k->scheduled_deletion_date.empty()) std::printf("deletion_date:    %s\n", k->scheduled_deletion_date.c_str());
  if (!k->expiration_time.empty()) std::printf("expiration_time:  %s\n", k->expiration_time.c_str());
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
  auto args = ParseKmsCommandArgs(words, {"--alias", "--origin", "--material", "--wrapping"});
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
