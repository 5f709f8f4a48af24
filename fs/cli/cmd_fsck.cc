// kmsfs fsck BACKING_DIR [--quick]: checks the config, every header (decodes,
// unwraps through the KMS) and, without --quick, every block's tag.
// Exit 0 clean, 1 problems found (each listed), 2 could not run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fs/base/unique_fd.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/file_walk.h"
#include "fs/core/key_service.h"
#include "fs/core/volume_access.h"
#include "fs/core/open_file_table.h"
#include "fs/format/block_codec.h"
#include "fs/format/offsets.h"

namespace kmsfs::cli {
namespace {

constexpr uint64_t kBlocksPerRead = 256;

class Problems {
 public:
  void Add(const std::string& path, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(path + ": " + what);
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Verifies every block of an open file; returns the first bad block's message.
Status CheckBlocks(int fd, const format::BlockCodec& codec, uint64_t backing_size) {
  const format::Geometry& g = codec.geometry();
  KMSFS_ASSIGN_OR_RETURN(uint64_t plain_size, format::PlainSize(backing_size, g));
  const uint64_t blocks = format::BlockCount(plain_size, g);
  std::vector<uint8_t> sealed;
  std::vector<uint8_t> plain;
  for (uint64_t first = 0; first < blocks; first += kBlocksPerRead) {
    const uint64_t plain_begin = first * g.block_size;
    const uint64_t plain_len = std::min<uint64_t>(kBlocksPerRead * g.block_size, plain_size - plain_begin);
    const uint64_t sealed_len = format::BackingSize(plain_len, g);
    sealed.resize(sealed_len);
    plain.resize(plain_len);
    KMSFS_ASSIGN_OR_RETURN(size_t n, PreadFull(fd, sealed.data(), sealed_len,
                                               static_cast<off_t>(format::BackingOffset(first, g))));
    if (n != sealed_len) return Status::DataLoss("file shrank while being checked");
    KMSFS_RETURN_IF_ERROR(codec.Open(first, sealed, plain));
  }
  return Status::Ok();
}

}  // namespace

int FsckCommand(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--threads"}, {"--quick"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 1) return Fail(kExitUsage, "usage: kmsfs fsck BACKING_DIR [--quick]");
  const std::string dir = args->positional()[0];
  const bool quick = args->Has("--quick");
  auto threads = args->GetInt("--threads", 4);
  if (!threads.ok()) return Fail(kExitUsage, threads.status().message());

  auto config = LoadBackingConfig(dir);
  if (!config.ok()) return Fail(kExitUsage, "fsck cannot run: " + config.status().message());
  auto kms_or = ConnectKms(*args, config->project_id);
  if (!kms_or.ok()) return Fail(kExitUsage, "fsck cannot run: " + kms_or.status().message());
  std::shared_ptr<kms::Client> kms = *kms_or;

  Problems problems;
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, "fsck cannot run: " + pins.status().message());
  auto unlocked = core::UnlockVolume(dir, *kms, *pins, {});
  if (!unlocked.ok()) {
    const Status& s = unlocked.status();
    if (s.code() == StatusCode::kUnavailable) return Fail(kExitUsage, "fsck cannot run: " + s.message());
    // A config that fails its pin or MAC is the problem to report; the files
    // are then checked against what the config claims, for the record.
    problems.Add(format::kConfigFileName, s.message());
  }
  const std::vector<std::string> accepted = config->AcceptedKeyIds();

  auto files = ListBackingFiles(dir);
  if (!files.ok()) return Fail(kExitUsage, "fsck cannot run: " + files.status().message());
  UniqueFd root(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Fail(kExitUsage, "fsck cannot run: cannot open " + dir);
  std::atomic<bool> kms_down{false};

  RunParallel(*files, static_cast<int>(*threads), "checked", [&](const std::string& rel) {
    UniqueFd fd(openat(root.get(), rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return problems.Add(rel, std::string("cannot open: ") + std::strerror(errno));
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return problems.Add(rel, "cannot stat");
    auto header = core::ReadFileHeader(fd.get());
    if (!header.ok()) return problems.Add(rel, header.status().message());
    auto codec_geometry_ok = header->suite == config->suite && header->block_size == config->block_size;
    if (!codec_geometry_ok) problems.Add(rel, "header's cipher suite or block size differs from the volume's");
    if (std::find(accepted.begin(), accepted.end(), header->key_id) == accepted.end()) {
      // Never unwrapped: a planted header must not make this user's
      // credentials act on a key of someone else's choosing.
      return problems.Add(rel, "foreign header: names key " + header->key_id + ", not the volume's key " +
                                   config->key_id + " (the mount refuses it)");
    }
    auto dek = kms->DecryptDataKey(header->key_id, header->wrapped_dek, core::kDekSize,
                                   core::FileContext(header->file_id));
    if (!dek.ok()) {
      if (dek.status().code() == StatusCode::kUnavailable) kms_down.store(true);
      return problems.Add(rel, "DEK does not unwrap with key " + header->key_id + ": " + dek.status().ToString());
    }
    auto codec = format::BlockCodec::New(header->suite, header->block_size, *dek, header->file_id);
    if (!codec.ok()) return problems.Add(rel, codec.status().message());
    if (auto size = format::PlainSize(static_cast<uint64_t>(st.st_size), (*codec)->geometry()); !size.ok()) {
      return problems.Add(rel, size.status().message());
    }
    if (quick) return;
    if (Status s = CheckBlocks(fd.get(), **codec, static_cast<uint64_t>(st.st_size)); !s.ok()) {
      problems.Add(rel, s.message());
    }
  });

  if (kms_down.load()) return Fail(kExitUsage, "fsck could not finish: the KMS became unreachable");
  for (const std::string& line : problems.lines()) std::printf("%s\n", line.c_str());
  std::printf("checked %zu files%s: %zu problem%s\n", files->size(), quick ? " (headers only)" : "",
              problems.lines().size(), problems.lines().size() == 1 ? "" : "s");
  return problems.lines().empty() ? kExitOk : kExitFailure;
}

}  // namespace kmsfs::cli
