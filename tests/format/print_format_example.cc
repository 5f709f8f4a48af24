// Prints the worked example of docs/FORMAT.md from the real code: the header
// of tests/format/format_example.h as a hex dump with its fields, and the one
// sealed block of a one-block file with every intermediate value.
//   build/tests/format/print_format_example
#include <cstdio>
#include <string>
#include <vector>

#include "base/hex.h"
#include "crypto/aead_testing.h"
#include "fs/format/block_codec.h"
#include "tests/format/format_example.h"

namespace kmsfs::format {
namespace {

void Dump(const std::vector<uint8_t>& b) {
  for (size_t off = 0; off < b.size(); off += 16) {
    std::printf("%08zx:", off);
    for (size_t i = off; i < off + 16; ++i) {
      if (i % 2 == 0) std::printf(" ");
      if (i < b.size()) {
        std::printf("%02x", b[i]);
      } else {
        std::printf("  ");
      }
    }
    std::printf("  ");
    for (size_t i = off; i < off + 16 && i < b.size(); ++i) {
      std::printf("%c", b[i] >= 0x20 && b[i] < 0x7f ? b[i] : '.');
    }
    std::printf("\n");
  }
}

std::string Hex(std::span<const uint8_t> b) { return HexEncode(b); }

int Main() {
  const FileHeader header = example::Header();
  const std::vector<uint8_t> encoded = header.Encode();
  std::printf("== header (%zu bytes)\n", encoded.size());
  Dump(encoded);
  std::printf("header hex: %s\n\n", Hex(encoded).c_str());

  const SecretBytes dek = example::Dek();
  const FileId id = example::Id();
  auto key = DeriveContentKey(dek, id);
  if (!key.ok()) return 1;
  const std::string plain_text = example::kPlaintext;
  const std::vector<uint8_t> plain(plain_text.begin(), plain_text.end());
  const auto ad = BlockAd(id, 0);
  const auto nonce = example::Nonce();
  std::vector<uint8_t> sealed(plain.size() + nonce.size() + 16);
  if (!crypto::SealWithNonceForTesting(header.suite, *key, nonce, plain, ad, sealed).ok()) return 1;
  std::printf("== block 0\n");
  std::printf("dek:         %s\n", Hex(dek.span()).c_str());
  std::printf("file id:     %s\n", Hex(id).c_str());
  std::printf("content key: %s\n", Hex(key->span()).c_str());
  std::printf("plaintext:   %zu bytes %s\n", plain.size(), Hex(plain).c_str());
  std::printf("ad:          %s\n", Hex(ad).c_str());
  std::printf("nonce:       %s\n", Hex(nonce).c_str());
  std::printf("ciphertext:  %s\n",
              Hex(std::span<const uint8_t>(sealed).subspan(nonce.size(), plain.size())).c_str());
  std::printf("tag:         %s\n",
              Hex(std::span<const uint8_t>(sealed).subspan(nonce.size() + plain.size())).c_str());
  std::printf("backing:     %zu bytes\n", sealed.size());
  Dump(sealed);
  std::printf("sealed hex:  %s\n", Hex(sealed).c_str());
  return 0;
}

}  // namespace
}  // namespace kmsfs::format

int main() { return kmsfs::format::Main(); }
