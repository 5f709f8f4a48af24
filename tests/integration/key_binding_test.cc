// Issue 18, a claim no test asserted: "a file's encryption context is its own
// file id". A header whose file id or wrapped DEK was edited, or that carries
// another file's wrapped DEK, is refused by the KMS itself, end to end through
// a mount: the open fails (not only a later read) and the mount counts a KMS
// error. With a constant encryption context the KMS would unwrap the DEK,
// the open would succeed and only reads would fail (the file id is also in
// each block's associated data), so these tests tell the two apart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "tests/integration/kms_as_user.h"
#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"

namespace kmsfs::testing {
namespace {

class KeyBindingTest : public KmsdMountTest {};

TEST_F(KeyBindingTest, AHeaderWhoseFileIdOrWrappedDekWasEditedIsRefusedByTheKms) {
  auto v = StartPlainNamesVolume();
  ASSERT_NE(v, nullptr);
  for (const std::string name : {"id-edited", "dek-moved", "dek-edited", "empty-id-edited", "intact"}) {
    WriteFileOrDie(v->Path(name), name == "empty-id-edited" ? "" : Pattern(9000, 3));
  }
  WriteFileOrDie(v->Path("donor"), "another file's key");
  ASSERT_TRUE(v->Unmount());

  KmsAsUser as_alice(*kmsd_, DefaultTestUsers()[0]);
  auto edit = [&](const std::string& name, auto change) {
    auto h = ReadBackingHeader(v->BackingPath(name));
    ASSERT_TRUE(h.has_value()) << name;
    int status = 0;
    ASSERT_FALSE(as_alice.UnwrapDekHex(*h, &status).empty()) << name << ": the intact header unwraps";
    change(*h);
    ASSERT_TRUE(WriteBackingHeader(v->BackingPath(name), *h)) << name;
    // The KMS itself refuses the edited header, to its owner.
    EXPECT_EQ(as_alice.UnwrapDekHex(*h, &status), "") << name;
    EXPECT_EQ(status / 100, 4) << name;
  };
  edit("id-edited", [](format::FileHeader& h) { h.file_id[7] ^= 0x01; });
  edit("empty-id-edited", [](format::FileHeader& h) { h.file_id[0] ^= 0x80; });
  const std::string donor_dek = ReadBackingHeader(v->BackingPath("donor"))->wrapped_dek;
  edit("dek-moved", [&](format::FileHeader& h) { h.wrapped_dek = donor_dek; });
  edit("dek-edited", [](format::FileHeader& h) {
    char& c = h.wrapped_dek[h.wrapped_dek.size() / 2];
    c = c == '0' ? '1' : '0';
  });

  ASSERT_EQ(v->Mount().exit_code, 0);
  for (const std::string name : {"id-edited", "empty-id-edited", "dek-moved", "dek-edited"}) {
    SCOPED_TRACE(name);
    const uint64_t errors = v->Status()["kms"]["errors"].get<uint64_t>();
    const int fd = open(v->Path(name).c_str(), O_RDONLY);
    const int err = errno;
    EXPECT_LT(fd, 0) << "the open succeeded: the KMS unwrapped a DEK under a context that is not the file's id";
    if (fd >= 0) {
      close(fd);
      continue;
    }
    EXPECT_TRUE(err == EIO || err == EACCES) << std::strerror(err);
    EXPECT_EQ(v->Status()["kms"]["errors"].get<uint64_t>(), errors + 1) << "the refusal did not come from the KMS";
  }
  EXPECT_EQ(ReadFile(v->Path("intact")), Pattern(9000, 3));
  EXPECT_EQ(ReadFile(v->Path("donor")), "another file's key");
  const std::string log = v->ReadLog();
  EXPECT_NE(log.find("id-edited"), std::string::npos) << log;
}

}  // namespace
}  // namespace kmsfs::testing
