// Tables, dates and JSON of the list and describe commands (fs/cli/output.h).
#include "fs/cli/output.h"

#include <gtest/gtest.h>

#include <string>

namespace kmsfs::cli {
namespace {

TEST(OutputTest, TableAlignsColumnsByCharacters) {
  Table t({"ID", "NAME", "WHEN"});
  t.AddRow({"1", "ärger", "x"});
  t.AddRow({"22222", "b", ""});
  EXPECT_EQ(t.Render(),
            "ID     NAME   WHEN\n"
            "1      ärger  x\n"
            "22222  b\n");
}

TEST(OutputTest, TableWithNoRowsPrintsItsHeader) {
  Table t({"KEY_ID", "ALIAS"});
  EXPECT_EQ(t.Render(), "KEY_ID  ALIAS\n");
  EXPECT_EQ(t.rows(), 0u);
}

TEST(OutputTest, ControlCharactersFromTheKmsCannotReachTheTerminal) {
  Table t({"ALIAS"});
  t.AddRow({"evil\x1b[2J\x1b]0;title\x07\r\nnext"});
  const std::string out = t.Render();
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out, "ALIAS\nevil?[2J?]0;title???next\n");
  EXPECT_EQ(Printable("a\tb\x7f"), "a?b?");
}

TEST(OutputTest, PrintableReplacesC1AndBidiControlsAndBrokenUtf8ButKeepsText) {
  // U+009B (CSI) as UTF-8 and as a raw byte; U+202E (right-to-left override).
  EXPECT_EQ(Printable("a\xc2\x9b" "b\x9b" "c\xe2\x80\xae" "d"), "a?b?c?d");
  EXPECT_EQ(Printable("\xe2\x81\xa6x\xe2\x80\x8f"), "?x?");  // U+2066 isolate, U+200F mark
  // An overlong '/', a surrogate, a sequence cut short.
  EXPECT_EQ(Printable("\xc0\xaf|\xed\xa0\x80|\xe2\x82"), "??|???|??");
  EXPECT_EQ(Printable("na\xc3\xafve \xe5\x90\x8d\xe5\x89\x8d \xf0\x9f\x94\x91"),
            "na\xc3\xafve \xe5\x90\x8d\xe5\x89\x8d \xf0\x9f\x94\x91");
}

TEST(OutputTest, EpochMillisBecomeDates) {
  EXPECT_EQ(FormatEpochMillis("1502799822000"), "2017-08-15 12:23:42 UTC");
  EXPECT_EQ(FormatEpochMillis(""), "");
  EXPECT_EQ(FormatEpochMillis("not-a-date"), "not-a-date");
  EXPECT_EQ(FormatEpochMillis("12"), "12");                    // not a plausible date: as sent
  EXPECT_EQ(FormatEpochMillis("99999999999999999999"), "99999999999999999999");
  EXPECT_EQ(FormatEpochMillis("-1"), "-1");
  EXPECT_EQ(*IsoFromEpochMillis("1502799822000"), "2017-08-15T12:23:42Z");
  EXPECT_FALSE(IsoFromEpochMillis("").has_value());
  EXPECT_FALSE(IsoFromEpochMillis("1502799822000x").has_value());
}

TEST(OutputTest, KeyJsonHasTypedFields) {
  kms::KeyInfo k;
  k.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
  k.key_alias = "a";
  k.key_state = "2";
  k.origin = "kms";
  k.creation_date = "1502799822000";
  k.default_key_flag = "1";
  const nlohmann::json j = KeyJson(k);
  EXPECT_EQ(j["key_id"], k.key_id);
  EXPECT_EQ(j["state"], "enabled");
  EXPECT_EQ(j["state_code"], 2);
  EXPECT_EQ(j["created"], "2017-08-15T12:23:42Z");
  EXPECT_EQ(j["created_ms"], 1502799822000LL);
  EXPECT_EQ(j["default_key"], true);
  EXPECT_TRUE(j["deletion_date"].is_null());
  k.key_state = "x";
  EXPECT_TRUE(KeyJson(k)["state_code"].is_null());
  EXPECT_EQ(KeyJson(k)["state"], "unknown");
}

TEST(OutputTest, GrantJsonKeepsOperationsAsAList) {
  kms::Grant g;
  g.grant_id = "g1";
  g.operations = {"decrypt-datakey", "describe-key"};
  g.creation_date = "1502799822000";
  const nlohmann::json j = GrantJson(g);
  EXPECT_EQ(j["operations"], nlohmann::json({"decrypt-datakey", "describe-key"}));
  EXPECT_EQ(j["created"], "2017-08-15T12:23:42Z");
}

TEST(OutputTest, InvalidUtf8FromTheKmsDoesNotBreakJson) {
  const std::string text = JsonText({{"alias", std::string("a\xff\xfe")}});
  const nlohmann::json back = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(back.is_discarded()) << text;
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace kmsfs::cli
