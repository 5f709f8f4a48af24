// The audit trail's file (audit_log.h): what Append writes, and that
// ReadAuditLog finds every edit, removal, insertion and reordering of lines
// and tells a torn last line from a broken chain.
#include "kms/server/audit_log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/hex.h"
#include "crypto/hash.h"

#include "tests/testutil/temp_dir.h"

namespace kmsfs::kms::server {
namespace {

using kmsfs::testing::TempDir;

constexpr size_t kMaxLineBytesForTest = 64 * 1024;

class AuditLogTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.Join("audit.log"); }

  std::unique_ptr<AuditLog> OpenLog() {
    UniqueFd fd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto log = AuditLog::Open(fd.get(), Path());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return nullptr;
    return std::move(*log);
  }

  void Write(int n) {
    auto log = OpenLog();
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < n; ++i) {
      AuditEntry e;
      e.time_ms = 1'700'000'000'000 + i;
      e.user_id = "user" + std::to_string(i);
      e.action = "encrypt-datakey";
      e.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
      e.encryption_context = {{"kmsfs_file_id", std::to_string(i)}};
      e.result = "ok";
      e.http_status = 200;
      ASSERT_TRUE(log->Append(e).ok());
    }
  }

  std::vector<std::string> Lines() const {
    std::ifstream in(Path());
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void SetLines(const std::vector<std::string>& lines, bool final_newline = true) const {
    std::ofstream out(Path(), std::ios::trunc);
    for (size_t i = 0; i < lines.size(); ++i) out << lines[i] << (i + 1 < lines.size() || final_newline ? "\n" : "");
  }
  // ReadAuditLog's verdict: "ok N" or the error message.
  std::string Verify() const {
    auto r = ReadAuditLog(Path(), [](size_t, const Json&) {});
    if (!r.ok()) return r.status().message();
    return "ok " + std::to_string(r->entries) + (r->torn_tail ? " torn" : "");
  }

  TempDir dir_;
};

TEST_F(AuditLogTest, AppendedLinesFormAnIntactChainInAPrivateFile) {
  Write(3);
  EXPECT_EQ(Verify(), "ok 3");
  struct stat st {};
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::vector<size_t> numbers;
  std::vector<std::string> users;
  auto r = ReadAuditLog(Path(), [&](size_t line, const Json& e) {
    numbers.push_back(line);
    users.push_back(e["user_id"].get<std::string>());
    EXPECT_EQ(e["encryption_context"]["kmsfs_file_id"], std::to_string(line - 1));
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(numbers, (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ(users, (std::vector<std::string>{"user0", "user1", "user2"}));
  EXPECT_EQ(r->head.size(), 64u);
}

TEST_F(AuditLogTest, ReopeningContinuesTheChain) {
  Write(2);
  Write(2);
  EXPECT_EQ(Verify(), "ok 4");
}

TEST_F(AuditLogTest, MissingFileIsAnEmptyLog) { EXPECT_EQ(Verify(), "ok 0"); }

TEST_F(AuditLogTest, EditingALineIsFoundAtThatLine) {
  Write(4);
  std::vector<std::string> lines = Lines();
  const size_t at = lines[1].find("user1");
  ASSERT_NE(at, std::string::npos);
  lines[1].replace(at, 5, "userX");
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 2: its hash does not match its content (the line was changed)");
}

TEST_F(AuditLogTest, RewritingALineWithAFreshHashIsFoundAtTheNextLine) {
  Write(4);
  std::vector<std::string> lines = Lines();
  Json e = Json::parse(lines[1]);
  e["result"] = "KMS.0306";
  e.erase("hash");
  e["hash"] = HexEncode(crypto::Sha256(AsBytes(std::string_view(DumpJson(e)))));
  lines[1] = std::string(DumpJson(e));
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 3: prev does not match line 2 (that line was changed, removed or moved)");
}

TEST_F(AuditLogTest, RemovingALineIsFound) {
  Write(4);
  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin() + 1);
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 2: seq 3 where 2 was due (a line was removed, repeated or moved)");
}

TEST_F(AuditLogTest, RemovingTheFirstLineIsFound) {
  Write(3);
  std::vector<std::string> lines = Lines();
  lines.erase(lines.begin());
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 1: seq 2 where 1 was due (a line was removed, repeated or moved)");
}

TEST_F(AuditLogTest, ReorderingOrRepeatingLinesIsFound) {
  Write(4);
  std::vector<std::string> lines = Lines();
  std::swap(lines[1], lines[2]);
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 2: seq 3 where 2 was due (a line was removed, repeated or moved)");
  lines = Lines();
  std::swap(lines[1], lines[2]);
  lines.insert(lines.begin() + 2, lines[1]);
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 3: seq 2 where 3 was due (a line was removed, repeated or moved)");
}

TEST_F(AuditLogTest, LinesThatAreNoEntryAreFound) {
  Write(2);
  std::vector<std::string> lines = Lines();
  lines.insert(lines.begin() + 1, "not json");
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 2: not a JSON object");
  lines[1] = R"({"seq":2})";
  SetLines(lines);
  EXPECT_EQ(Verify(), "line 2: no prev");
}

TEST_F(AuditLogTest, ATornLastLineIsReportedAndCutOffAtTheNextOpen) {
  Write(3);
  std::vector<std::string> lines = Lines();
  lines.push_back(lines[2].substr(0, lines[2].size() / 2));  // a write cut short by SIGKILL
  SetLines(lines, /*final_newline=*/false);
  EXPECT_EQ(Verify(), "ok 3 torn");
  Write(1);  // Open() cuts the torn line, then the chain goes on from line 3
  EXPECT_EQ(Verify(), "ok 4");
  EXPECT_EQ(Lines().size(), 4u);
}

TEST_F(AuditLogTest, OpenRefusesALogWhoseLastLineIsNoEntry) {
  Write(1);
  std::ofstream(Path(), std::ios::app) << "garbage\n";
  UniqueFd fd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto log = AuditLog::Open(fd.get(), Path());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("its last line is not an entry"), std::string::npos)
      << log.status().message();
}

// Lowers this process's file size limit (with SIGXFSZ ignored, a write
// past it fails with EFBIG after writing what fits) for its lifetime.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    struct rlimit lowered = old_;
    lowered.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  struct rlimit old_ {};
  sighandler_t old_handler_ = SIG_DFL;
  bool ok_ = false;
};

AuditEntry SampleEntry(const std::string& user) {
  AuditEntry e;
  e.time_ms = 1'700'000'000'000;
  e.user_id = user;
  e.action = "decrypt-datakey";
  e.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
  e.result = "ok";
  e.http_status = 200;
  return e;
}

TEST_F(AuditLogTest, AFailedOrShortWriteLeavesNoPartialLine) {
  auto log = OpenLog();
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append(SampleEntry("first")).ok());
  struct stat before {};
  ASSERT_EQ(::stat(Path().c_str(), &before), 0);
  {
    // Room for part of the next line only: the write stops inside it.
    FileSizeLimit limit(static_cast<rlim_t>(before.st_size) + 40);
    ASSERT_TRUE(limit.ok());
    Status st = log->Append(SampleEntry("second"));
    EXPECT_FALSE(st.ok());
  }
  struct stat after {};
  ASSERT_EQ(::stat(Path().c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size) << "the fragment was cut off";
  ASSERT_TRUE(log->Append(SampleEntry("third")).ok()) << "the chain goes on from the last whole line";
  EXPECT_EQ(Verify(), "ok 2");
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("\"third\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"seq\":2"), std::string::npos) << "the failed line took no number";
}

TEST_F(AuditLogTest, HostileLinesAreReportedNotFollowed) {
  Write(2);
  const std::vector<std::string> good = Lines();
  // Nested far deeper than any parser or serializer could recurse.
  std::string deep = "{\"seq\":3,\"a\":" + std::string(500000, '[') + std::string(500000, ']') + "}";
  SetLines({good[0], good[1], deep});
  EXPECT_EQ(Verify(), "line 3: longer than 65536 bytes (no line of kmsd's is)");
  std::string shallower = "{\"seq\":3,\"a\":" + std::string(30000, '[') + std::string(30000, ']') + "}";
  SetLines({good[0], good[1], shallower});
  EXPECT_EQ(Verify(), "line 3: not a JSON object") << "nested past the JSON depth bound";
  // A line of 300 MB would be held whole; one over 64 KiB is refused as read.
  SetLines({good[0], std::string(200000, 'x'), good[1]});
  EXPECT_EQ(Verify(), "line 2: longer than 65536 bytes (no line of kmsd's is)");
  SetLines({good[0], std::string(200000, 'x')}, /*final_newline=*/false);
  EXPECT_EQ(Verify(), "line 2: longer than 65536 bytes (no line of kmsd's is)");
  SetLines({good[0], good[1], std::string(kMaxLineBytesForTest, 'y')});
  EXPECT_EQ(Verify(), "line 3: not a JSON object") << "a line of exactly the limit is read and judged";
}

TEST_F(AuditLogTest, OpenRefusesADeeplyNestedLastLine) {
  Write(1);
  SetLines({Lines()[0], "{\"seq\":2,\"a\":" + std::string(30000, '[') + std::string(30000, ']') + "}"});
  UniqueFd fd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto log = AuditLog::Open(fd.get(), Path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kFailedPrecondition) << log.status().ToString();
}

TEST_F(AuditLogTest, OpenDoesNotFollowASymbolicLink) {
  ASSERT_EQ(::symlink(dir_.Join("elsewhere").c_str(), Path().c_str()), 0);
  UniqueFd fd(::open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_FALSE(AuditLog::Open(fd.get(), Path()).ok());
  EXPECT_NE(::access(dir_.Join("elsewhere").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace kmsfs::kms::server
