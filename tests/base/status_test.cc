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

TEST(StatusTest, CarriesKmsErrorCodeAndHttpStatus) {
  Status s = Status::PermissionDenied("no access").WithKmsError("KMS.0306", 403);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.kms_error_code(), "KMS.0306");
  EXPECT_EQ(s.http_status(), 403);
  EXPECT_EQ(s.ToString(), "PERMISSION_DENIED: no access [KMS.0306, HTTP 403]");
  EXPECT_EQ(ToErrno(s), EACCES);
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
