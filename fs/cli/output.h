// Printing for people and for scripts: aligned tables with dates as dates,
// and the JSON that --json prints instead.
//
// Text that came from the KMS (aliases, descriptions, names) is shown with
// control characters replaced by '?', so an answer cannot move the cursor or
// recolour the terminal; JSON output escapes them instead.
//
// Thread-safety: values and pure functions.
#ifndef KMSFS_FS_CLI_OUTPUT_H_
#define KMSFS_FS_CLI_OUTPUT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kms/api_types.h"

namespace kmsfs::cli {

// Rows under a header, each column as wide as its widest cell (counted in
// characters, not bytes), two spaces apart; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  // Missing cells are empty; extra ones are dropped.
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // The header line and one line per row, each ending in "\n".
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// `text` with every control character replaced by '?': C0 and DEL, C1
// (U+0080-U+009F), bidirectional controls, and every byte that is not part
// of well-formed UTF-8. Other UTF-8 (names in any script) stays.
std::string Printable(std::string_view text);

// An epoch-milliseconds string as the KMS sends it ("1502799822000") as a
// date for people: "2017-08-15 12:23:42 UTC". "" stays ""; text that is not
// such a number is shown as it is (made printable).
std::string FormatEpochMillis(std::string_view ms);
// The same as ISO 8601 for scripts ("2017-08-15T12:23:42Z"); nullopt for ""
// or anything that is not a plausible epoch-milliseconds value.
std::optional<std::string> IsoFromEpochMillis(std::string_view ms);

// "enabled", "disabled", ... for a key_state code ("2"); "unknown" otherwise.
const char* KeyStateName(std::string_view state);

// One key as `key describe --json` and each entry of `key list --json` print it.
nlohmann::json KeyJson(const kms::KeyInfo& key);
// One grant as each entry of `grant list --json` prints it.
nlohmann::json GrantJson(const kms::Grant& grant);

// JSON text for stdout: pretty (2 spaces) with a final newline; invalid UTF-8
// from the KMS is replaced, never fatal.
std::string JsonText(const nlohmann::json& value);

}  // namespace kmsfs::cli

#endif  // KMSFS_FS_CLI_OUTPUT_H_
