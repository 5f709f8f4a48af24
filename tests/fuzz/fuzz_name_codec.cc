// libFuzzer target: what a listing reads from the backing directory under
// encrypted names — NameCodec::Decrypt of an entry's name or a sidecar's
// content, DecodeDirValue of a directory's xattr, DecryptTarget of a symlink —
// with the worked example's keys (docs/FORMAT.md §10).
//
// Invariants: nothing crashes; failures are kDataLoss; a name that decrypts
// encrypts back to exactly the input (one stored form per name); a directory
// value that decodes encodes back to the input.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fs/format/name_codec.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const kmsfs::format::NameCodec& Codec() {
  static const std::unique_ptr<kmsfs::format::NameCodec> codec = [] {
    kmsfs::SecretBytes key(kmsfs::format::kVolumeKeySize);
    for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i);
    kmsfs::format::VolumeId id;
    for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(0x10 + i);
    return std::move(kmsfs::format::NameCodec::New(key, id, kmsfs::crypto::CipherSuite::kAes256Gcm)).value();
  }();
  return *codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kmsfs::format;  // NOLINT: a fuzz entry point
  const std::string text(reinterpret_cast<const char*>(data), size);
  DirValue dir;
  for (size_t i = 0; i < dir.size(); ++i) dir[i] = static_cast<uint8_t>(0x20 + i);

  auto name = Codec().Decrypt(dir, text);
  if (name.ok()) {
    auto again = Codec().Encrypt(dir, *name);
    KMSFS_FUZZ_CHECK(again.ok());
    KMSFS_FUZZ_CHECK(*again == text);
  } else {
    KMSFS_FUZZ_CHECK(name.status().code() == kmsfs::StatusCode::kDataLoss);
  }
  auto value = DecodeDirValue({data, size});
  if (value.ok()) {
    const std::vector<uint8_t> encoded = EncodeDirValue(*value);
    KMSFS_FUZZ_CHECK(encoded.size() == size && std::memcmp(encoded.data(), data, size) == 0);
  } else {
    KMSFS_FUZZ_CHECK(value.status().code() == kmsfs::StatusCode::kDataLoss);
  }
  auto target = Codec().DecryptTarget(text);
  KMSFS_FUZZ_CHECK(target.ok() || target.status().code() == kmsfs::StatusCode::kDataLoss);
  (void)NameCodec::IsLongName(text);
  (void)NameCodec::StoredName(text);
  return 0;
}
