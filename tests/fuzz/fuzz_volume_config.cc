// libFuzzer target: format::VolumeConfig::FromJson on arbitrary text.
//
// Invariants: FromJson never crashes and fails only with kDataLoss; a config
// it accepts passes Validate(), and ToJson -> FromJson gives an equal config
// whose ToJson is byte-identical (the written form is a fixed point).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fs/format/volume_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kmsfs::format::VolumeConfig;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = VolumeConfig::FromJson(text);
  if (!config.ok()) {
    KMSFS_FUZZ_CHECK(config.status().code() == kmsfs::StatusCode::kDataLoss);
    return 0;
  }
  KMSFS_FUZZ_CHECK(config->Validate().ok());
  const std::string json = config->ToJson();
  auto again = VolumeConfig::FromJson(json);
  KMSFS_FUZZ_CHECK(again.ok());
  KMSFS_FUZZ_CHECK(*again == *config);
  KMSFS_FUZZ_CHECK(again->ToJson() == json);
  return 0;
}
