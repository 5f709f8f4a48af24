// kmsfs init BACKING_DIR --key KEY_ID: prepares an empty directory as a
// volume (core/volume_init.h does it; this parses and reports).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "fs/cli/args.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/core/envelope.h"
#include "fs/core/pins.h"
#include "fs/core/volume_init.h"
#include "fs/format/offsets.h"

namespace kmsfs::cli {
namespace {

std::string NowRfc3339() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  struct tm tm_utc;
  gmtime_r(&now, &tm_utc);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

}  // namespace

int InitCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--key", "--block-size", "--cipher", "--header"}, {"--plaintext-names"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 1 || !args->Has("--key")) {
    return Fail(kExitUsage, "usage: kmsfs init BACKING_DIR --key KEY_ID [--plaintext-names] [--header xattr|inline]");
  }
  const std::string dir = args->positional()[0];

  core::VolumeSettings settings;
  settings.key_id = *args->Get("--key");
  settings.names = args->Has("--plaintext-names") ? format::NameMode::kPlaintext : format::NameMode::kEncrypted;
  if (const std::optional<std::string> header = args->Get("--header")) {
    if (*header == "inline") {
      settings.header = format::HeaderMode::kInline;
    } else if (*header == "xattr") {
      settings.header = format::HeaderMode::kXattr;
    } else {
      return Fail(kExitUsage, "--header wants xattr or inline, got '" + *header + "'");
    }
  }
  settings.suite = crypto::PreferredCipherSuite();
  if (auto name = args->Get("--cipher")) {
    auto suite = crypto::CipherSuiteFromName(*name);
    if (!suite.ok()) return Fail(kExitUsage, "--cipher: " + suite.status().message());
    settings.suite = *suite;
  }
  auto block_size = args->GetInt("--block-size", 4096);
  if (!block_size.ok()) return Fail(kExitUsage, block_size.status().message());
  if (*block_size < 0 || *block_size > UINT32_MAX || !format::IsValidBlockSize(static_cast<uint32_t>(*block_size))) {
    return Fail(kExitUsage, "--block-size must be a power of two in 512..1048576, got " + std::to_string(*block_size));
  }
  settings.block_size = static_cast<uint32_t>(*block_size);
  settings.created = NowRfc3339();
  // The project the key lives in; mounts without --project-id/OS_PROJECT_ID use it.
  if (const char* env = std::getenv("OS_PROJECT_ID")) settings.project_id = env;
  if (auto p = args->Get("--project-id")) settings.project_id = *p;

  auto prepared = core::PrepareVolumeDir(dir, settings);
  if (!prepared.ok()) return Fail(prepared.status(), "init");
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, pins.status().message());
  auto kms = ConnectKms(*args);
  if (!kms.ok()) return Fail(kms.status(), "KMS connection");
  auto config = core::CreateVolume(*prepared, settings, core::Envelope::OverKms(*kms), *pins);
  if (!config.ok()) {
    const bool refused = config.status().code() == StatusCode::kPermissionDenied;
    return Fail(config.status(), refused ? "init refused" : "init");
  }
  const std::string header_note =
      prepared->header_inline_for_lack_of_xattrs
          ? "; the filesystem holding it has no user extended attributes, so file headers are kept inline, at the "
            "start of each file (--header inline)"
          : "";
  std::printf("initialised %s with key %s (%s, %u-byte blocks, %s names, %s headers)%s\n", dir.c_str(),
              config->key_id.c_str(), std::string(crypto::CipherSuiteName(config->suite)).c_str(), config->block_size,
              std::string(format::NameModeName(config->names)).c_str(),
              std::string(format::HeaderModeName(config->header)).c_str(), header_note.c_str());
  return kExitOk;
}

}  // namespace kmsfs::cli
