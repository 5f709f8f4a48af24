// kmsfs headers export BACKING_DIR FILE: every file's header and every
// directory's name value of an xattr-header volume into one file (wrapped
// keys and random values only: safe to keep beside the backup).
// kmsfs headers import BACKING_DIR FILE: puts them back on a copy that lost
// its xattrs, restoring only what is missing and only what it can prove
// belongs there (core/header_backup.h).
// Exit 0 done, 1 problems found (each listed; the rest is done), 2 could not run.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/hex.h"
#include "base/unique_fd.h"
#include "fs/cli/args.h"
#include "fs/cli/backing.h"
#include "fs/cli/commands.h"
#include "fs/cli/connection.h"
#include "fs/cli/exit_codes.h"
#include "fs/cli/output.h"
#include "fs/core/header_backup.h"
#include "fs/core/pins.h"
#include "fs/core/volume_access.h"
#include "crypto/random.h"
#include "fs/format/headers_file.h"

namespace kmsfs::cli {
namespace {

constexpr char kUsage[] = "usage: kmsfs headers export BACKING_DIR FILE | kmsfs headers import BACKING_DIR FILE";
// Files whose headers are checked through the KMS in parallel, at most.
constexpr size_t kImportBatch = 4096;

std::string RealPathOf(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

// Whether `file` (which may not exist yet) would land inside `dir`.
bool IsInside(const std::string& file, const std::string& dir) {
  const std::string real_dir = RealPathOf(dir);
  const size_t slash = file.rfind('/');
  const std::string parent = RealPathOf(slash == std::string::npos ? "." : (slash == 0 ? "/" : file.substr(0, slash)));
  if (real_dir.empty() || parent.empty()) return false;
  return parent == real_dir || parent.compare(0, real_dir.size() + 1, real_dir + "/") == 0;
}

// Writes the export to `path` atomically (a temporary file renamed over it),
// or to stdout for "-".
class ExportSink {
 public:
  static StatusOr<ExportSink> Open(const std::string& path) {
    ExportSink sink;
    sink.path_ = path;
    if (path == "-") {
      sink.fd_ = UniqueFd(dup(STDOUT_FILENO));
      return sink;
    }
    uint8_t random[8];
    crypto::RandomBytes(random);
    sink.temp_ = path + ".tmp." + HexEncode(random);
    sink.fd_ = UniqueFd(open(sink.temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!sink.fd_.valid()) return Status::FromErrno(errno, "create " + sink.temp_);
    return sink;
  }
  ExportSink() = default;
  ExportSink(ExportSink&& o) noexcept
      : path_(std::move(o.path_)),
        temp_(std::exchange(o.temp_, std::string())),
        fd_(std::move(o.fd_)),
        offset_(o.offset_),
        done_(o.done_) {}
  ExportSink& operator=(ExportSink&&) = delete;
  ~ExportSink() {
    if (!temp_.empty() && !done_) unlink(temp_.c_str());
  }
  Status Write(std::string_view line) {
    if (temp_.empty()) {  // stdout may be a pipe, where pwrite fails
      while (!line.empty()) {
        const ssize_t n = write(fd_.get(), line.data(), line.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "write stdout");
        line.remove_prefix(static_cast<size_t>(n));
      }
      return Status::Ok();
    }
    offset_ += line.size();
    return PwriteFull(fd_.get(), line.data(), line.size(), static_cast<off_t>(offset_ - line.size()))
        .Annotate("write " + temp_);
  }
  Status Finish() {
    if (temp_.empty()) return Status::Ok();
    if (fsync(fd_.get()) != 0) return Status::FromErrno(errno, "fsync " + temp_);
    if (rename(temp_.c_str(), path_.c_str()) != 0) return Status::FromErrno(errno, "rename to " + path_);
    done_ = true;
    return Status::Ok();
  }

 private:
  std::string path_, temp_;
  UniqueFd fd_;
  uint64_t offset_ = 0;
  bool done_ = false;
};

int Export(const Words& words) {
  auto args = Args::Parse(words, {}, {});
  if (!args.ok()) return Fail(kExitUsage, args.status().message() + " (see kmsfs --help)");
  if (args->positional().size() != 2) return Fail(kExitUsage, kUsage);
  const std::string dir = args->positional()[0], file = args->positional()[1];
  auto config = LoadBackingConfig(dir);
  if (!config.ok()) return Fail(kExitUsage, "headers export cannot run: " + config.status().message());
  if (config->header == format::HeaderMode::kInline) {
    return Fail(kExitUsage, dir + " keeps its headers inline, inside its files: any copy of it keeps them, so there "
                                  "is nothing to export");
  }
  if (file != "-" && IsInside(file, dir)) {
    return Fail(kExitUsage, "the export must not be written inside the backing directory: keep it beside the backup");
  }
  auto sink = ExportSink::Open(file);
  if (!sink.ok()) return Fail(kExitUsage, "headers export cannot run: " + sink.status().message());
  core::ExportSummary summary;
  Status s = core::ExportHeaders(dir, *config, [&](std::string_view line) { return sink->Write(line); }, &summary);
  if (s.ok()) s = sink->Finish();
  if (!s.ok()) return Fail(kExitUsage, "headers export failed: " + s.message());
  for (const std::string& line : summary.missing) {
    std::fprintf(stderr, "kmsfs: not exported: %s\n", Printable(line).c_str());
  }
  std::fprintf(stderr, "kmsfs: exported %llu file headers and %llu directory values of %s to %s%s\n",
               static_cast<unsigned long long>(summary.files), static_cast<unsigned long long>(summary.directories),
               dir.c_str(), file == "-" ? "stdout" : file.c_str(),
               summary.missing.empty() ? "" : (", " + std::to_string(summary.missing.size()) +
                                               " entries had nothing to export (run kmsfs fsck)").c_str());
  return summary.missing.empty() ? kExitOk : kExitFailure;
}

// Checks and restores one batch of files on `threads` threads.
void ImportFiles(core::HeaderImporter& importer, const std::vector<format::ExportedEntry>& files, int threads) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(files.size())));
  for (int t = 0; t < n; ++t) {
    workers.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < files.size(); i = next.fetch_add(1)) importer.ImportFile(files[i]);
    });
  }
  for (std::thread& w : workers) w.join();
}

int Import(const Words& words) {
  auto args = ParseKmsCommandArgs(words, {"--threads"});
  if (!args.ok()) return Fail(kExitUsage, args.status().message());
  if (args->positional().size() != 2) return Fail(kExitUsage, kUsage);
  const std::string dir = args->positional()[0], file = args->positional()[1];
  auto threads = args->GetInt("--threads", 8);
  if (!threads.ok()) return Fail(kExitUsage, threads.status().message());
  auto config = LoadBackingConfig(dir);
  if (!config.ok()) return Fail(kExitUsage, "headers import cannot run: " + config.status().message());
  if (config->header == format::HeaderMode::kInline) {
    return Fail(kExitUsage, dir + " keeps its headers inline, inside its files: there is nothing to import");
  }
  if (IsMountedBacking(dir)) return Fail(kExitUsage, dir + " is mounted: unmount it before importing headers");
  auto reader = format::HeadersFileReader::Open(file);
  if (!reader.ok()) return Fail(kExitUsage, "headers import cannot read " + file + ": " + reader.status().message());

  auto kms = ConnectKms(*args, config->project_id);
  if (!kms.ok()) return Fail(kExitUsage, "headers import cannot run: " + kms.status().message());
  auto pins = core::Pins::ForCurrentUser();
  if (!pins.ok()) return Fail(kExitUsage, "headers import cannot run: " + pins.status().message());
  const core::Envelope envelope = core::Envelope::OverKms(*kms);
  auto unlocked = core::UnlockVolume(dir, envelope, *pins, {});
  if (!unlocked.ok()) return Fail(unlocked.status(), "headers import refused");
  auto importer = core::HeaderImporter::New(*unlocked, envelope);
  if (!importer.ok()) return Fail(kExitUsage, "headers import cannot run: " + importer.status().message());
  if (Status s = (*importer)->CheckExportIsOfThisVolume((*reader)->info()); !s.ok()) {
    return Fail(kExitFailure, "headers import refused: " + s.message());
  }

  std::vector<format::ExportedEntry> batch;
  Status read_error;
  while (true) {
    auto entry = (*reader)->Next();
    if (!entry.ok()) {
      read_error = entry.status();
      break;
    }
    if (!entry->has_value()) break;
    if ((*entry)->kind == format::ExportedEntry::Kind::kDirectory) {
      (*importer)->ImportDirectory(**entry);
      continue;
    }
    batch.push_back(std::move(**entry));
    if (batch.size() >= kImportBatch) {
      ImportFiles(**importer, batch, static_cast<int>(*threads));
      batch.clear();
      if ((*importer)->summary().kms_unreachable) break;
    }
  }
  ImportFiles(**importer, batch, static_cast<int>(*threads));

  const core::ImportSummary summary = (*importer)->summary();
  if (summary.kms_unreachable) return Fail(kExitUsage, "headers import could not finish: the KMS became unreachable");
  for (const std::string& line : summary.problems) std::printf("%s\n", Printable(line).c_str());
  if (!read_error.ok()) {
    std::printf("%s: %s (nothing after it was read)\n", file.c_str(), Printable(read_error.message()).c_str());
  }
  std::printf("restored %llu file headers and %llu directory values (%llu already in place, %llu not in %s): %zu "
              "problem%s\n",
              static_cast<unsigned long long>(summary.files_restored),
              static_cast<unsigned long long>(summary.directories_restored),
              static_cast<unsigned long long>(summary.already_there), static_cast<unsigned long long>(summary.not_in_copy),
              dir.c_str(), summary.problems.size() + (read_error.ok() ? 0 : 1),
              summary.problems.size() + (read_error.ok() ? 0 : 1) == 1 ? "" : "s");
  return summary.problems.empty() && read_error.ok() ? kExitOk : kExitFailure;
}

}  // namespace

int HeadersCommand(const Words& words) {
  if (words.empty()) return Fail(kExitUsage, kUsage);
  const Words rest(words.begin() + 1, words.end());
  if (words[0] == "export") return Export(rest);
  if (words[0] == "import") return Import(rest);
  return Fail(kExitUsage, "unknown headers command '" + words[0] + "': " + kUsage);
}

}  // namespace kmsfs::cli
