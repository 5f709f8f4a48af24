#include "kms/server/request.h"

#include <gtest/gtest.h>

#include "kms/server/api_error.h"

namespace kmsfs::kms::server {
namespace {

constexpr FieldSpec kFields[] = {{"key_id", FieldType::kString, true},
                                 {"encryption_context", FieldType::kObject, false},
                                 {"operations", FieldType::kStringArray, false},
                                 {"expiration_time", FieldType::kStringOrNumber, false}};

std::string CodeOf(std::string_view body) {
  auto r = Request::Parse(body, kFields);
  return r.ok() ? "OK" : std::string(ApiErrorCode(r.status()));
}

TEST(KmsdRequestTest, AcceptsObjectWithDeclaredTypes) {
  EXPECT_EQ(CodeOf(R"({"key_id":"k","encryption_context":{"a":"b"},"operations":["x"],"expiration_time":5})"), "OK");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","expiration_time":"5","unknown":[1,{"x":2}]})"), "OK");
}

TEST(KmsdRequestTest, RejectsNonObjectsAsInvalidJson) {
  for (const char* body : {"[]", "1", "\"s\"", "null", "{", "{\"key_id\":\"k\"", "\xff\xfe"}) {
    EXPECT_EQ(CodeOf(body), "KMS.0202") << body;
  }
}

std::string Nested(const std::string& field, size_t depth) {
  return "{\"key_id\":\"k\",\"" + field + "\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

TEST(KmsdRequestTest, NestingDeeperThanTheBoundIsInvalidJson) {
  // The service copies and serializes parts of a body, recursively: a body
  // nested deeper than any the API takes is refused before it is parsed.
  EXPECT_EQ(CodeOf(Nested("unknown", kMaxJsonDepth - 1)), "OK");
  EXPECT_EQ(CodeOf(Nested("unknown", kMaxJsonDepth)), "KMS.0202");
  EXPECT_EQ(CodeOf(Nested("encryption_context", 100000)), "KMS.0202");
  EXPECT_EQ(CodeOf("{\"key_id\":\"k\",\"a\":" + std::string(500000, '{')), "KMS.0202");
}

TEST(KmsdRequestTest, BracketsInsideStringsDoNotCountAsNesting) {
  const std::string brackets(1000, '[');
  EXPECT_EQ(CodeOf("{\"key_id\":\"" + brackets + "\"}"), "OK");
  EXPECT_EQ(CodeOf("{\"key_id\":\"\\\"" + brackets + "\"}"), "OK") << "an escaped quote does not end the string";
  EXPECT_EQ(CodeOf(std::string("{\"key_id\":\"\\\\\",\"x\":") + std::string(100, '[') + std::string(100, ']') + "}"),
            "KMS.0202")
      << "an escaped backslash does";
}

TEST(KmsdRequestTest, EmptyBodyCountsAsEmptyObject) {
  EXPECT_EQ(CodeOf(""), "KMS.0204");
  EXPECT_EQ(CodeOf("  \r\n"), "KMS.0204");
}

TEST(KmsdRequestTest, WrongTypeIsReportedBeforeMissingField) {
  EXPECT_EQ(CodeOf(R"({"operations":"describe-key"})"), "KMS.0202");
  EXPECT_EQ(CodeOf(R"({"key_id":5})"), "KMS.0202");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","operations":["a",1]})"), "KMS.0202");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","encryption_context":"a=b"})"), "KMS.0202");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","expiration_time":true})"), "KMS.0202");
}

TEST(KmsdRequestTest, NullCountsAsAbsent) {
  EXPECT_EQ(CodeOf(R"({"key_id":null})"), "KMS.0204");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","encryption_context":null})"), "OK");
}

TEST(KmsdRequestTest, SequenceMustBe36Characters) {
  EXPECT_EQ(CodeOf(R"({"key_id":"k","sequence":"919c82d4-8046-4722-9094-35c3c6524cff"})"), "OK");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","sequence":"919c82d4"})"), "KMS.0206");
  EXPECT_EQ(CodeOf(R"({"key_id":"k","sequence":12345})"), "KMS.0202");
  EXPECT_EQ(CodeOf(R"({"sequence":"bad"})"), "KMS.0204");  // missing field outranks the sequence
}

TEST(KmsdRequestTest, GettersTreatNullAndEmptyAsTheyShould) {
  auto r = Request::Parse(R"({"key_id":"k","limit":"","marker":null})", kFields);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->String("key_id"), "k");
  EXPECT_EQ(r->String("limit"), "");
  EXPECT_FALSE(r->NonEmptyString("limit"));
  EXPECT_FALSE(r->String("marker"));
  EXPECT_EQ(r->Get("marker"), nullptr);
}

std::string Canonical(std::string_view body) {
  auto r = Request::Parse(body, kFields);
  if (!r.ok()) return std::string(ApiErrorCode(r.status()));
  auto c = CanonicalEncryptionContext(*r);
  return c.ok() ? *c : std::string(ApiErrorCode(c.status()));
}

TEST(KmsdRequestTest, CanonicalContextSortsKeysAndIsCompact) {
  EXPECT_EQ(Canonical(R"({"key_id":"k","encryption_context":{ "b" : "2", "a" : "1", "B":"0" }})"),
            R"({"B":"0","a":"1","b":"2"})");
  EXPECT_EQ(Canonical(R"({"key_id":"k","encryption_context":{"\u00e9":"\u20ac"}})"),
            "{\"\xc3\xa9\":\"\xe2\x82\xac\"}");
}

TEST(KmsdRequestTest, EmptyContextEqualsAbsentContext) {
  EXPECT_EQ(Canonical(R"({"key_id":"k","encryption_context":{}})"), "");
  EXPECT_EQ(Canonical(R"({"key_id":"k"})"), "");
}

TEST(KmsdRequestTest, ContextValuesMustBeStringsAndSmall) {
  EXPECT_EQ(Canonical(R"({"key_id":"k","encryption_context":{"a":1}})"), "KMS.0208");
  EXPECT_EQ(Canonical(R"({"key_id":"k","encryption_context":{"a":{"b":"c"}}})"), "KMS.0208");
  std::string big = R"({"key_id":"k","encryption_context":{"a":")" + std::string(8200, 'x') + "\"}}";
  EXPECT_EQ(Canonical(big), "KMS.0208");
  std::string fits = R"({"key_id":"k","encryption_context":{"a":")" + std::string(8000, 'x') + "\"}}";
  EXPECT_EQ(Canonical(fits).size(), 8008u);
}

TEST(KmsdRequestTest, DecimalFieldsTakeNumericStringsOrJsonIntegers) {
  constexpr FieldSpec kNumbers[] = {{"n", FieldType::kDecimal, false}};
  auto field = [&](std::string_view body, bool empty_is_absent = false) {
    auto r = Request::Parse(body, kNumbers);
    EXPECT_TRUE(r.ok()) << body;
    return r->DecimalField("n", empty_is_absent);
  };
  EXPECT_EQ(field(R"({"n":"512"})").value, 512);
  EXPECT_EQ(field(R"({"n":512})").value, 512);
  EXPECT_EQ(field(R"({"n":0})").value, 0);
  EXPECT_EQ(field(R"({"n":999999999999999})").value, 999999999999999);
  for (const char* out_of_range : {R"({"n":-1})", R"({"n":1000000000000000})", R"({"n":18446744073709551615})",
                                   R"({"n":"-1"})", R"({"n":"1e3"})", R"({"n":" 5"})", R"({"n":""})"}) {
    const Request::Decimal d = field(out_of_range);
    EXPECT_TRUE(d.present) << out_of_range;
    EXPECT_FALSE(d.value.has_value()) << out_of_range;
  }
  EXPECT_FALSE(field(R"({})").present);
  EXPECT_FALSE(field(R"({"n":null})").present);
  EXPECT_FALSE(field(R"({"n":""})", /*empty_is_absent=*/true).present);
  for (const char* wrong_type : {R"({"n":5.0})", R"({"n":5.5})", R"({"n":true})", R"({"n":[5]})", R"({"n":{}})"}) {
    auto r = Request::Parse(wrong_type, kNumbers);
    ASSERT_FALSE(r.ok()) << wrong_type;
    EXPECT_EQ(ApiErrorCode(r.status()), "KMS.0202") << wrong_type;
  }
}

TEST(KmsdRequestTest, BoundDataAddsAadUnambiguouslyAfterTheContext) {
  constexpr FieldSpec kBound[] = {{"encryption_context", FieldType::kObject, false},
                                  {"additional_authenticated_data", FieldType::kString, false}};
  auto bound = [&](std::string_view body) {
    auto r = Request::Parse(body, kBound);
    EXPECT_TRUE(r.ok()) << body;
    auto b = BoundData(*r);
    return b.ok() ? *b : std::string(ApiErrorCode(b.status()));
  };
  EXPECT_EQ(bound(R"({"encryption_context":{"a":"b"}})"), R"({"a":"b"})") << "no AAD: the context alone, as before";
  EXPECT_EQ(bound(R"({"additional_authenticated_data":""})"), "");
  EXPECT_EQ(bound(R"({"additional_authenticated_data":"xy"})"), std::string("\0\0\0\0\x02xy", 7));
  // A context cannot pass for AAD or the other way round.
  EXPECT_NE(bound(R"({"additional_authenticated_data":"{\"a\":\"b\"}"})"), bound(R"({"encryption_context":{"a":"b"}})"));
  EXPECT_EQ(bound(R"({"encryption_context":{"a":"b"},"additional_authenticated_data":"z"})"),
            std::string("{\"a\":\"b\"}\0\0\0\0\x01z", 15));
  EXPECT_EQ(bound(R"({"additional_authenticated_data":")" + std::string(128, 'q') + "\"}").size(), 133u);
  EXPECT_EQ(bound(R"({"additional_authenticated_data":")" + std::string(129, 'q') + "\"}"), "KMS.0308");
}

}  // namespace
}  // namespace kmsfs::kms::server
