// Args: the flags and positional arguments of one kmsfs subcommand.
//
// Flags are `--name VALUE`, `--name=VALUE`, or switches (`-f`); each command
// declares which it accepts, so an unknown or incomplete flag is a usage error
// naming the flag. `-o` may repeat; its comma lists are split.
#ifndef KMSFS_FS_CLI_ARGS_H_
#define KMSFS_FS_CLI_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace kmsfs::cli {

// Flags every KMS-using command accepts (spec/cli.md "Connection").
const std::set<std::string>& ConnectionFlags();

// `path` made absolute against the current directory (unchanged when it already is, or is empty).
std::string AbsolutePath(const std::string& path);

class Args {
 public:
  static StatusOr<Args> Parse(const std::vector<std::string>& tokens, std::set<std::string> value_flags,
                              const std::set<std::string>& switches);

  const std::vector<std::string>& positional() const { return positional_; }
  std::optional<std::string> Get(const std::string& flag) const;
  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  // Every value of a repeatable flag, in order (comma lists split for -o).
  std::vector<std::string> GetAll(const std::string& flag) const;
  // Parses a non-negative integer flag; `fallback` when absent.
  StatusOr<long long> GetInt(const std::string& flag, long long fallback) const;

 private:
  friend StatusOr<Args> ParseKmsCommandArgs(const std::vector<std::string>&, const std::set<std::string>&,
                                            const std::set<std::string>&);
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> values_;
};

// Parses the words of a KMS-using command: the connection flags plus its own
// value flags and switches. The error names the bad flag and points to --help.
// Relative file names given to --credentials, --password-file and --ca-file
// are made absolute against the current directory.
StatusOr<Args> ParseKmsCommandArgs(const std::vector<std::string>& words, const std::set<std::string>& flags,
                                   const std::set<std::string>& switches = {});

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_ARGS_H_
