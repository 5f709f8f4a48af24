// RewrapFile over the in-process FakeKeyWrapper, on real files with inline
// headers: the header moves to the target key with the same DEK and file id,
// a file already moved is skipped, and a foreign or unreadable header or a
// KMS refusal leaves the file as it was.
#include "fs/core/file_rewrap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "fs/core/header_io.h"
#include "tests/core/fake_key_wrapper.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

using kmsfs::testing::FakeKeyWrapper;
using kmsfs::testing::kKeyId;
using kmsfs::testing::kOtherKeyId;
using kmsfs::testing::kThirdKeyId;
using kmsfs::testing::TempDir;

class FileRewrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.key_id = kKeyId;
    config_.header = format::HeaderMode::kInline;
    dir_fd_ = std::make_shared<UniqueFd>(open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_fd_->valid());
  }

  // A file whose inline header names `key_id`, with its DEK wrapped under it.
  FileToCheck File(const std::string& name, const std::string& key_id) {
    format::FileHeader h;
    h.file_id[0] = static_cast<uint8_t>(name.size());
    h.file_id[1] = static_cast<uint8_t>(name[0]);
    h.key_id = key_id;
    auto wrapped = envelope_.WrapDek(key_id, dek_, h.file_id);
    EXPECT_TRUE(wrapped.ok());
    h.wrapped_dek = wrapped.ok() ? *wrapped : "";
    UniqueFd fd(openat(dir_fd_->get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid());
    EXPECT_TRUE(WriteFileHeader(fd.get(), h, format::HeaderMode::kInline).ok());
    return FileToCheck{dir_fd_, name, "/" + name};
  }

  format::FileHeader HeaderOf(const FileToCheck& f) {
    UniqueFd fd(openat(dir_fd_->get(), f.backing_name.c_str(), O_RDONLY | O_CLOEXEC));
    auto h = ReadFileHeader(fd.get(), format::HeaderMode::kInline);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : format::FileHeader{};
  }

  TempDir dir_;
  std::shared_ptr<UniqueFd> dir_fd_;
  format::VolumeConfig config_;
  std::shared_ptr<FakeKeyWrapper> kms_ = std::make_shared<FakeKeyWrapper>();
  Envelope envelope_{kms_};
  SecretBytes dek_ = Envelope::NewDek();
};

TEST_F(FileRewrapTest, HeaderMovesToTheTargetWithTheSameDekAndFileId) {
  const FileToCheck f = File("a", kKeyId);
  const format::FileHeader before = HeaderOf(f);
  auto outcome = RewrapFile(f, config_, kOtherKeyId, envelope_);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, RewrapOutcome::kRewrapped);
  const format::FileHeader after = HeaderOf(f);
  EXPECT_EQ(after.key_id, kOtherKeyId);
  EXPECT_EQ(after.file_id, before.file_id);
  EXPECT_NE(after.wrapped_dek, before.wrapped_dek);
  auto dek = envelope_.UnwrapDek(after);
  ASSERT_TRUE(dek.ok()) << dek.status().ToString();
  EXPECT_EQ(sodium_memcmp(dek->data(), dek_.data(), dek_.size()), 0);
}

TEST_F(FileRewrapTest, FileAlreadyOnTheTargetIsSkippedWithoutAKmsCall) {
  const FileToCheck f = File("b", kOtherKeyId);
  const int calls = kms_->wraps.load() + kms_->unwraps.load();
  auto outcome = RewrapFile(f, config_, kOtherKeyId, envelope_);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, RewrapOutcome::kAlreadyOnTarget);
  EXPECT_EQ(kms_->wraps.load() + kms_->unwraps.load(), calls);
}

TEST_F(FileRewrapTest, ForeignHeaderIsRefusedBeforeAnyKmsCallAndLeftAlone) {
  const FileToCheck f = File("c", kThirdKeyId);
  const int calls = kms_->wraps.load() + kms_->unwraps.load();
  auto outcome = RewrapFile(f, config_, kOtherKeyId, envelope_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message(), std::string("foreign header: names key ") + kThirdKeyId +
                                            ", not the volume's key " + kKeyId);
  EXPECT_EQ(kms_->wraps.load() + kms_->unwraps.load(), calls);
  EXPECT_EQ(HeaderOf(f).key_id, kThirdKeyId);
}

TEST_F(FileRewrapTest, RefusedWrapUnderTheTargetLeavesTheHeaderAndKeepsTheKmsCode) {
  const FileToCheck f = File("d", kKeyId);
  const format::FileHeader before = HeaderOf(f);
  kms_->FailWraps(FakeKeyWrapper::Refusal());
  auto outcome = RewrapFile(f, config_, kOtherKeyId, envelope_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(kms::KmsErrorCode(outcome.status()), "KMS.0306");
  EXPECT_EQ(outcome.status().message().rfind(std::string("wrap with ") + kOtherKeyId + ": ", 0), 0u)
      << outcome.status().message();
  EXPECT_EQ(HeaderOf(f), before);
}

TEST_F(FileRewrapTest, RefusedUnwrapIsReportedWithTheOldKey) {
  const FileToCheck f = File("e", kKeyId);
  kms_->FailUnwraps(FakeKeyWrapper::Refusal());
  auto outcome = RewrapFile(f, config_, kOtherKeyId, envelope_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message().rfind(std::string("unwrap with ") + kKeyId + ": ", 0), 0u);
  EXPECT_EQ(kms::KmsErrorCode(outcome.status()), "KMS.0306");
}

TEST_F(FileRewrapTest, FileWithoutAHeaderIsAnError) {
  UniqueFd fd(openat(dir_fd_->get(), "empty", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  auto outcome = RewrapFile(FileToCheck{dir_fd_, "empty", "/empty"}, config_, kOtherKeyId, envelope_);
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(kms_->unwraps.load(), 0);
}

TEST_F(FileRewrapTest, MissingFileSaysItCannotBeOpened) {
  auto outcome = RewrapFile(FileToCheck{dir_fd_, "gone", "/gone"}, config_, kOtherKeyId, envelope_);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message(), "cannot open: No such file or directory");
}

}  // namespace
}  // namespace kmsfs::core
