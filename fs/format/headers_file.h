// The headers export file: what `kmsfs headers export` writes and `kmsfs
// headers import` reads back (docs/FORMAT.md §14). It lets a copy of an
// xattr-header volume made by a tool that drops extended attributes (rsync -a
// without -X, tar without --xattrs, cp without -a, object stores) get its
// headers and directory values back. It holds wrapped DEKs and random
// directory values only, nothing secret: it may be stored beside the backup.
//
// JSON Lines, UTF-8 (in fact ASCII), one object per line:
//   {"format":"kmsfs-headers","version":1,"volume_id":"<32 hex or empty>",
//    "key_id":"…","created":"<RFC 3339>"}                        first line
//   {"dir":"<path>","value":"<hex of the 22-byte xattr value>"}     a directory
//   {"file":"<path>","file_id":"<32 hex>","header":"<hex of the user.kmsfs value>"}
// A path is the entry's backing path relative to the backing directory ("" is
// the root), '/'-separated, with every byte outside 0x21..0x7e and '%' itself
// written as %XX (upper-case hex), so any name round-trips exactly.
//
// Reading is strict and names the line: a first line that is not the above,
// an unknown field, a bad path (empty component, ".", "..", NUL, a component
// over 255 bytes, bad escaping), a header or value that does not decode, a
// file_id that is not the header's, a line over 64 KiB.
//
// Thread-safety: HeadersFileReader is not thread-safe; the rest are pure.
#ifndef KMSFS_FS_FORMAT_HEADERS_FILE_H_
#define KMSFS_FS_FORMAT_HEADERS_FILE_H_

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "fs/format/file_header.h"
#include "fs/format/name_codec.h"

namespace kmsfs::format {

inline constexpr char kHeadersFileFormat[] = "kmsfs-headers";
inline constexpr int kHeadersFileVersion = 1;
inline constexpr size_t kMaxHeadersFileLine = 64 * 1024;

struct HeadersFileInfo {
  std::string volume_id;  // 32 hex characters; empty for a version 1 volume
  std::string key_id;     // the volume's key when exported
  std::string created;    // RFC 3339 UTC, informational
};

struct ExportedEntry {
  enum class Kind { kDirectory, kFile };
  Kind kind = Kind::kFile;
  std::string path;    // backing path relative to the backing directory, decoded
  DirValue value{};    // kDirectory
  FileHeader header;   // kFile
};

// `path` escaped for the file, and back (kDataLoss naming the fault).
std::string EscapePath(std::string_view path);
StatusOr<std::string> UnescapePath(std::string_view escaped);

// Each line, with its final newline.
std::string EncodeInfoLine(const HeadersFileInfo& info);
std::string EncodeEntryLine(const ExportedEntry& entry);
// One line (without its newline).
StatusOr<HeadersFileInfo> DecodeInfoLine(std::string_view line);
StatusOr<ExportedEntry> DecodeEntryLine(std::string_view line);

// Reads an export file line by line, so a volume of millions of files is
// never held in memory.
class HeadersFileReader {
 public:
  // Opens `path` ("-" is stdin) and reads its first line.
  static StatusOr<std::unique_ptr<HeadersFileReader>> Open(const std::string& path);
  ~HeadersFileReader();
  HeadersFileReader(const HeadersFileReader&) = delete;
  HeadersFileReader& operator=(const HeadersFileReader&) = delete;

  const HeadersFileInfo& info() const { return info_; }
  // The next entry; nullopt at the end; kDataLoss naming the line number.
  StatusOr<std::optional<ExportedEntry>> Next();

 private:
  HeadersFileReader(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  // The next line without its newline; nullopt at the end.
  StatusOr<std::optional<std::string>> ReadLine();

  std::FILE* const file_;
  const bool owned_;
  HeadersFileInfo info_;
  size_t line_number_ = 0;
};

}  // namespace kmsfs::format

#endif  // KMSFS_FS_FORMAT_HEADERS_FILE_H_
