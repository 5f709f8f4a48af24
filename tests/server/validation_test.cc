#include "kms/server/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace kmsfs::kms::server {
namespace {

TEST(KmsdValidationTest, KeyIdAcceptsDocumentedForm) {
  EXPECT_TRUE(IsKeyId("0d0466b0-e727-4d9c-b35d-f84bb474a37f"));
  EXPECT_TRUE(IsKeyId("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"));  // [0-9a-z], not only hex
}

TEST(KmsdValidationTest, KeyIdRejectsUpperCaseWrongLengthAndMisplacedDashes) {
  EXPECT_FALSE(IsKeyId("0D0466B0-E727-4D9C-B35D-F84BB474A37F"));
  EXPECT_FALSE(IsKeyId("0d0466b0-e727-4d9c-b35d-f84bb474a37"));
  EXPECT_FALSE(IsKeyId("0d0466b0-e727-4d9c-b35d-f84bb474a37ff"));
  EXPECT_FALSE(IsKeyId("0d0466b0e-727-4d9c-b35d-f84bb474a37f"));
  EXPECT_FALSE(IsKeyId("alias/foo"));
  EXPECT_FALSE(IsKeyId(""));
}

TEST(KmsdValidationTest, AliasSyntax) {
  EXPECT_TRUE(IsAliasSyntax("a"));
  EXPECT_TRUE(IsAliasSyntax("my_grant:x/y-z"));
  EXPECT_TRUE(IsAliasSyntax(std::string(255, 'a')));
  EXPECT_FALSE(IsAliasSyntax(std::string(256, 'a')));
  EXPECT_FALSE(IsAliasSyntax(""));
  EXPECT_FALSE(IsAliasSyntax("with space"));
  EXPECT_FALSE(IsAliasSyntax("dot.not.allowed"));
  EXPECT_FALSE(IsAliasSyntax("\xc3\xa9"));
}

TEST(KmsdValidationTest, GrantIdIs64HexEitherCase) {
  EXPECT_TRUE(IsGrantId(std::string(64, 'a')));
  EXPECT_TRUE(IsGrantId(std::string(64, 'F')));
  EXPECT_FALSE(IsGrantId(std::string(63, 'a')));
  EXPECT_FALSE(IsGrantId(std::string(64, 'g')));
}

TEST(KmsdValidationTest, PrincipalIsOneTo64Alnum) {
  EXPECT_TRUE(IsPrincipal("13gg44z4g2sglzk0egw0u726zoyzvrs8"));
  EXPECT_TRUE(IsPrincipal(std::string(64, 'Z')));
  EXPECT_FALSE(IsPrincipal(std::string(65, 'Z')));
  EXPECT_FALSE(IsPrincipal(""));
  EXPECT_FALSE(IsPrincipal("user-1"));
}

TEST(KmsdValidationTest, SequenceIs36Characters) {
  EXPECT_TRUE(IsSequence("919c82d4-8046-4722-9094-35c3c6524cff"));
  EXPECT_FALSE(IsSequence("919c82d4-8046-4722-9094-35c3c6524cf"));
  EXPECT_FALSE(IsSequence("919c82d4 8046-4722-9094-35c3c6524cff"));
}

TEST(KmsdValidationTest, Base64TextChecksCharsetAndBounds) {
  EXPECT_TRUE(IsBase64Text("ab+/==", 1, 10));
  EXPECT_FALSE(IsBase64Text("ab-_", 1, 10));
  EXPECT_FALSE(IsBase64Text("abc", 4, 10));
  EXPECT_FALSE(IsBase64Text("abcdefghijk", 1, 10));
}

TEST(KmsdValidationTest, ParseDecimalAcceptsOnlyPlainDigits) {
  EXPECT_EQ(ParseDecimal("512"), 512);
  EXPECT_EQ(ParseDecimal("0"), 0);
  EXPECT_EQ(ParseDecimal("007"), 7);
  EXPECT_FALSE(ParseDecimal(""));
  EXPECT_FALSE(ParseDecimal("-1"));
  EXPECT_FALSE(ParseDecimal("+1"));
  EXPECT_FALSE(ParseDecimal(" 1"));
  EXPECT_FALSE(ParseDecimal("1.5"));
  EXPECT_FALSE(ParseDecimal("1e3"));
  EXPECT_FALSE(ParseDecimal("9999999999999999"));  // 16 digits: refused, never overflows
}

TEST(KmsdValidationTest, Utf8LengthCountsCodePoints) {
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91"), 3u);  // é € 🔑
}

}  // namespace
}  // namespace kmsfs::kms::server
