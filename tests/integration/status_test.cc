// kmsfs status MOUNTPOINT [--json]: what the volume is (key in use, pinned
// key, format version, names, headers) and the mount's counters, as an
// aligned table for people and as JSON for scripts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

using StatusTest = KmsdMountTest;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The value of the "label:" line of a status table, or "" (with a failure).
std::string Value(const std::string& table, const std::string& label) {
  for (const std::string& line : Lines(table)) {
    if (line.rfind(label + ":", 0) != 0) continue;
    const size_t at = line.find_first_not_of(' ', label.size() + 1);
    return at == std::string::npos ? "" : line.substr(at);
  }
  ADD_FAILURE() << "no '" << label << ":' line in\n" << table;
  return "";
}

TEST_F(StatusTest, TableShowsTheVolumeAndItsCountersAligned) {
  auto v = StartVolume();
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "x");
  ASSERT_TRUE(v->WaitForReleases());
  EXPECT_EQ(ReadFile(v->Path("f")), "x");
  CommandResult r = RunKmsfs({"status", v->mountpoint()}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Value(r.out, "mount"), v->mountpoint());
  EXPECT_EQ(Value(r.out, "key in use"), v->key_id());
  EXPECT_EQ(Value(r.out, "pinned key"), v->key_id());
  EXPECT_EQ(Value(r.out, "format version"), "2");
  EXPECT_EQ(Value(r.out, "names"), "encrypted");
  EXPECT_EQ(Value(r.out, "headers"), "xattr");
  EXPECT_EQ(Value(r.out, "mode"), "read-write");
  EXPECT_TRUE(std::regex_match(Value(r.out, "volume id"), std::regex("[0-9a-f]{32}"))) << r.out;
  EXPECT_TRUE(std::regex_search(Value(r.out, "kms"), std::regex("^calls [1-9][0-9]*, errors 0$"))) << r.out;
  EXPECT_TRUE(std::regex_search(Value(r.out, "pool"), std::regex("^ready [0-9]+, taken "))) << r.out;
  EXPECT_TRUE(std::regex_search(Value(r.out, "cache"), std::regex("^entries [0-9]+, hits "))) << r.out;
  // Every value starts in the same column.
  size_t column = std::string::npos;
  for (const std::string& line : Lines(r.out)) {
    const size_t colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << line;
    const size_t at = line.find_first_not_of(' ', colon + 1);
    if (column == std::string::npos) column = at;
    EXPECT_EQ(at, column) << line;
  }
}

TEST_F(StatusTest, JsonHasPinnedKeyFormatVersionNamesAndCounters) {
  auto v = StartVolume({}, {"--plaintext-names", "--header", "inline"});
  ASSERT_NE(v, nullptr);
  WriteFileOrDie(v->Path("f"), "x");
  CommandResult r = RunKmsfs({"status", v->mountpoint(), "--json"}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("mountpoint", ""), v->mountpoint());
  EXPECT_EQ(j.value("key_id", ""), v->key_id());
  EXPECT_EQ(j.value("pinned_key_id", ""), v->key_id());
  EXPECT_EQ(j.value("format_version", 0), 2);
  EXPECT_EQ(j.value("names", ""), "plaintext");
  EXPECT_EQ(j.value("header", ""), "inline");
  EXPECT_FALSE(j.value("read_only", true));
  ASSERT_TRUE(j["kms"].is_object());
  EXPECT_GE(j["kms"].value("calls", 0ULL), 1ULL);
  for (const char* group : {"cache", "pool", "prefetch", "readahead", "inodes"}) {
    EXPECT_TRUE(j[group].is_object()) << group;
  }
  // The table says the same for people.
  r = RunKmsfs({"status", v->mountpoint()}, {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Value(r.out, "names"), "not encrypted (plaintext)");
  EXPECT_EQ(Value(r.out, "headers"), "inline");
}

TEST_F(StatusTest, WhatIsNotAMountIsAUsageErrorWithItsReason) {
  TempDir plain;
  CommandResult r = RunKmsfs({"status", plain.path()}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a kmsfs mount"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  r = RunKmsfs({"status", plain.Join("missing"), "--json"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  r = RunKmsfs({"status"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: kmsfs status MOUNTPOINT [--json]"), std::string::npos) << r.err;
  r = RunKmsfs({"status", plain.path(), "--yaml"}, {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--yaml"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kmsfs::testing
