// libFuzzer target: kms::ParseErrorBody, which reads every non-2xx answer of
// the KMS and of IAM ({"error":{"error_code","error_msg"}}, the Keystone
// {"error":{"code","message","title"}} and the flat gateway form).
//
// Invariants: nothing crashes or throws; the code and message are whatever
// strings the body held (or empty), and reading the same body twice gives the
// same result.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kms/api_json.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const kmsfs::kms::ErrorBody first = kmsfs::kms::ParseErrorBody(body);
  const kmsfs::kms::ErrorBody second = kmsfs::kms::ParseErrorBody(body);
  KMSFS_FUZZ_CHECK(first.code == second.code);
  KMSFS_FUZZ_CHECK(first.message == second.message);
  if (!kmsfs::kms::ParseObject(body)) {
    KMSFS_FUZZ_CHECK(first.code.empty() && first.message.empty());
  }
  return 0;
}
