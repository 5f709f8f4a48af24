#include "base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace kmsfs {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(ToErrno(s), 0);
}

struct TestDetail final : StatusDetail {
  explicit TestDetail(int v) : value(v) {}
  int value;
  std::string ToString() const override { return "value " + std::to_string(value); }
};

struct OtherDetail final : StatusDetail {
  std::string ToString() const override { return "other"; }
};

TEST(StatusTest, CarriesATypedDetailThatOnlyItsTypeReadsBack) {
  Status s = Status::PermissionDenied("no access").WithDetail(std::make_shared<TestDetail>(7));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  ASSERT_NE(s.detail<TestDetail>(), nullptr);
  EXPECT_EQ(s.detail<TestDetail>()->value, 7);
  EXPECT_EQ(s.detail<OtherDetail>(), nullptr);
  EXPECT_EQ(s.ToString(), "PERMISSION_DENIED: no access [value 7]");
  EXPECT_EQ(ToErrno(s), EACCES);
}

TEST(StatusTest, DetailSurvivesAnnotateAndCopiesToANewMessage) {
  Status s = Status::Unavailable("down").WithDetail(std::make_shared<TestDetail>(3));
  EXPECT_EQ(s.Annotate("wrap").detail<TestDetail>()->value, 3);
  Status reworded = Status::PermissionDenied("refused").WithDetailOf(s);
  ASSERT_NE(reworded.detail<TestDetail>(), nullptr);
  EXPECT_EQ(reworded.detail<TestDetail>()->value, 3);
  EXPECT_EQ(Status::Internal("plain").detail<TestDetail>(), nullptr);
  EXPECT_EQ(Status::Ok().detail<TestDetail>(), nullptr);
  EXPECT_TRUE(Status::Ok().WithDetail(std::make_shared<TestDetail>(1)).ok());
}

TEST(StatusTest, FromErrnoKeepsErrno) {
  Status s = Status::FromErrno(ENOSPC, "pwrite");
  EXPECT_EQ(s.sys_errno(), ENOSPC);
  EXPECT_EQ(ToErrno(s), ENOSPC);
  EXPECT_NE(s.message().find("pwrite"), std::string::npos);
}

TEST(StatusTest, DataLossMapsToEio) { EXPECT_EQ(ToErrno(Status::DataLoss("bad tag")), EIO); }

TEST(StatusTest, AnnotatePrefixesContext) {
  EXPECT_EQ(Status::NotFound("x").Annotate("open a").message(), "open a: x");
}

StatusOr<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  KMSFS_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(StatusOrTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kmsfs
