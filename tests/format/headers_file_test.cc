#include "fs/format/headers_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/hex.h"
#include "tests/format/format_example.h"

namespace kmsfs::format {
namespace {

ExportedEntry FileEntry(const std::string& path) {
  ExportedEntry e;
  e.kind = ExportedEntry::Kind::kFile;
  e.path = path;
  e.header = example::Header();
  return e;
}

ExportedEntry DirEntry(const std::string& path) {
  ExportedEntry e;
  e.kind = ExportedEntry::Kind::kDirectory;
  e.path = path;
  for (size_t i = 0; i < e.value.size(); ++i) e.value[i] = static_cast<uint8_t>(0x20 + i);
  return e;
}

std::string WithoutNewline(std::string line) {
  EXPECT_EQ(line.back(), '\n');
  line.pop_back();
  return line;
}

// The file line of example::Header() with one field's JSON text replaced.
std::string FileLineWith(const std::string& field, const std::string& json_value) {
  std::string line = WithoutNewline(EncodeEntryLine(FileEntry("a")));
  const std::string key = "\"" + field + "\":";
  const size_t at = line.find(key);
  EXPECT_NE(at, std::string::npos);
  const size_t start = at + key.size();
  const size_t end = line.find_first_of(",}", start);
  return line.substr(0, start) + json_value + line.substr(end);
}

TEST(HeadersFileTest, EveryByteOfAPathRoundTrips) {
  std::string all;
  for (int c = 1; c < 256; ++c) {
    if (c != '/') all += static_cast<char>(c);
  }
  const std::string escaped = EscapePath(all);
  for (char c : escaped) {
    EXPECT_TRUE(c >= 0x21 && c <= 0x7e) << static_cast<int>(c);
  }
  auto back = UnescapePath(escaped);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, all);
  EXPECT_EQ(EscapePath("a b%/c"), "a%20b%25/c");
}

TEST(HeadersFileTest, UnescapeRefusesEveryNonCanonicalForm) {
  EXPECT_FALSE(UnescapePath("a b").ok());    // a raw space
  EXPECT_FALSE(UnescapePath("a%2").ok());    // cut escape
  EXPECT_FALSE(UnescapePath("a%").ok());
  EXPECT_FALSE(UnescapePath("a%2g").ok());   // not hex
  EXPECT_FALSE(UnescapePath("a%2f").ok());   // lower case
  EXPECT_FALSE(UnescapePath("%41").ok());    // 'A' needs no escape
  EXPECT_TRUE(UnescapePath("%25").ok());     // '%' does
}

TEST(HeadersFileTest, FileAndDirectoryLinesRoundTrip) {
  const ExportedEntry file = FileEntry("docs/report 1.txt");
  auto f = DecodeEntryLine(WithoutNewline(EncodeEntryLine(file)));
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->kind, ExportedEntry::Kind::kFile);
  EXPECT_EQ(f->path, file.path);
  EXPECT_EQ(f->header, file.header);

  for (const std::string& path : {std::string(), std::string("docs/deep")}) {
    const ExportedEntry dir = DirEntry(path);
    auto d = DecodeEntryLine(WithoutNewline(EncodeEntryLine(dir)));
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(d->kind, ExportedEntry::Kind::kDirectory);
    EXPECT_EQ(d->path, path);
    EXPECT_EQ(d->value, dir.value);
  }
}

TEST(HeadersFileTest, FileLineHasTheDocumentedFieldsInOrder) {
  const std::string line = EncodeEntryLine(FileEntry("a"));
  EXPECT_EQ(line, "{\"file\":\"a\",\"file_id\":\"" + FileIdHex(example::Id()) + "\",\"header\":\"" +
                      HexEncode(example::Header().Encode()) + "\"}\n");
  EXPECT_EQ(EncodeEntryLine(DirEntry("")),
            "{\"dir\":\"\",\"value\":\"4b4d53440001202122232425262728292a2b2c2d2e2f\"}\n");
}

TEST(HeadersFileTest, FileIdThatIsNotTheHeadersIsRefused) {
  auto r = DecodeEntryLine(FileLineWith("file_id", "\"" + std::string(32, '0') + "\""));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not the header's file id"), std::string::npos) << r.status().message();
}

TEST(HeadersFileTest, HostilePathsAreRefused) {
  for (const char* path : {"..", "../x", "a/../b", "./a", "a//b", "/a", "a/", "%00", "a/%00b"}) {
    auto r = DecodeEntryLine(FileLineWith("file", std::string("\"") + path + "\""));
    EXPECT_FALSE(r.ok()) << path;
  }
  auto r = DecodeEntryLine(FileLineWith("file", "\"\""));
  EXPECT_FALSE(r.ok()) << "a file line needs a path";
  r = DecodeEntryLine(FileLineWith("file", "\"" + std::string(256, 'x') + "\""));
  EXPECT_FALSE(r.ok()) << "a component over 255 bytes";
}

TEST(HeadersFileTest, MalformedLinesAreRefusedWithAReason) {
  const std::string good = WithoutNewline(EncodeEntryLine(FileEntry("a")));
  struct Case {
    std::string line, why;
  } cases[] = {
      {"not json", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"{}", "neither a \"dir\" nor a \"file\" line"},
      {good.substr(0, good.size() - 1) + ",\"dek\":\"00\"}", "unknown field \"dek\""},
      {FileLineWith("header", "\"zz\""), "field \"header\" is not hex"},
      {FileLineWith("header", "\"00\""), "field \"header\""},
      {FileLineWith("header", "7"), "field \"header\" must be a string"},
      {"{\"dir\":\"a\",\"value\":\"4b4d5344000120\"}", "field \"value\""},
      {"{\"dir\":\"a\"}", "field \"value\" is missing"},
      {std::string(kMaxHeadersFileLine + 1, ' '), "longer than 64 KiB"},
  };
  for (const Case& c : cases) {
    auto r = DecodeEntryLine(c.line);
    ASSERT_FALSE(r.ok()) << c.line.substr(0, 80);
    EXPECT_NE(r.status().message().find(c.why), std::string::npos)
        << c.line.substr(0, 80) << " -> " << r.status().message();
  }
}

TEST(HeadersFileTest, InfoLineRoundTripsAndRefusesOtherFormatsAndVersions) {
  HeadersFileInfo info{std::string(32, 'a'), "key-1", "2026-12-06T09:00:00Z"};
  auto back = DecodeInfoLine(WithoutNewline(EncodeInfoLine(info)));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->volume_id, info.volume_id);
  EXPECT_EQ(back->key_id, info.key_id);
  EXPECT_FALSE(DecodeInfoLine("{\"format\":\"other\",\"version\":1,\"volume_id\":\"\",\"key_id\":\"k\","
                              "\"created\":\"\"}")
                   .ok());
  auto v2 = DecodeInfoLine("{\"format\":\"kmsfs-headers\",\"version\":2,\"volume_id\":\"\",\"key_id\":\"k\","
                           "\"created\":\"\"}");
  ASSERT_FALSE(v2.ok());
  EXPECT_NE(v2.status().message().find("version 2 is not supported"), std::string::npos);
  EXPECT_FALSE(DecodeInfoLine("{\"format\":\"kmsfs-headers\",\"version\":1,\"volume_id\":\"abc\",\"key_id\":\"k\","
                              "\"created\":\"\"}")
                   .ok());
}

TEST(HeadersFileTest, ReaderNamesTheLineOfAFault) {
  char path[] = "/tmp/headers_file_test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = EncodeInfoLine({"", "k", "now"}) + EncodeEntryLine(DirEntry("")) + "\n" +
                           EncodeEntryLine(FileEntry("a")) + "garbage\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto reader = HeadersFileReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  EXPECT_EQ((*reader)->info().key_id, "k");
  auto e = (*reader)->Next();
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->kind, ExportedEntry::Kind::kDirectory);
  e = (*reader)->Next();  // the empty line is skipped
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->path, "a");
  e = (*reader)->Next();
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("line 5"), std::string::npos) << e.status().message();
  unlink(path);

  auto missing = HeadersFileReader::Open("/nonexistent/headers");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace kmsfs::format
