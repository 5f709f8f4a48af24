// libFuzzer target: the client's reading of an IAM login answer
// (kms/iam_auth.h ParseTokenAnswer: token.user, expires_at, issued_at, next
// to whatever catalog and other members the answer carries) and of IAM
// timestamps (ParseIamTime).
//
// Input: byte 0 bit 0 picks ParseTokenAnswer (0) or ParseIamTime (1); bits
// 1-7 shift "now" by up to ±63 days around 2024-01-01 for answers without
// issued_at; the rest is the body or the time text.
//
// Invariants: nothing crashes, throws or overflows (UBSan); a token lifetime
// is always in [1 ms, kMaxTokenLifetime], so a hostile IAM can neither keep a
// token in use forever nor make the client log in on every call; a refused
// answer is kUnauthenticated. A time that parses lies between 1970 and the
// end of year 9999.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kms/iam_auth.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::kms;  // NOLINT
  if (size < 1) return 0;
  constexpr int64_t kJan2024Ms = 1704067200000;
  const int64_t now_ms = kJan2024Ms + (static_cast<int64_t>(data[0] >> 1) - 64) * 86400000;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    auto answer = ParseTokenAnswer(rest, now_ms);
    if (!answer.ok()) {
      KMSFS_FUZZ_CHECK(answer.status().code() == kmsfs::StatusCode::kUnauthenticated);
      return 0;
    }
    if (answer->lifetime) {
      KMSFS_FUZZ_CHECK(answer->lifetime->count() >= 1);
      KMSFS_FUZZ_CHECK(*answer->lifetime <= kMaxTokenLifetime);
    }
  } else {
    auto t = ParseIamTime(rest);
    if (!t.ok()) {
      KMSFS_FUZZ_CHECK(t.status().code() == kmsfs::StatusCode::kInvalidArgument);
      return 0;
    }
    KMSFS_FUZZ_CHECK(*t >= 0);
    KMSFS_FUZZ_CHECK(*t < 253402300801000);  // 10000-01-01T00:00:01Z
  }
  return 0;
}
