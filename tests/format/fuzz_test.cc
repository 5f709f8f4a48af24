// Fuzz-style robustness: 100k random and mutated byte strings into each
// decoder. Every input must yield a value or a clean kDataLoss, never a crash
// (the unit tests also run under ASan+UBSan), and every accepted input must be
// canonical: re-encoding it gives it back.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fs/format/file_header.h"
#include "fs/format/volume_config.h"
#include "tests/format/format_example.h"

namespace kmsfs::format {
namespace {

constexpr int kIterations = 100000;

// One random edit: flip, overwrite, insert, erase, truncate, duplicate a run.
template <typename Bytes>
void Mutate(Bytes& b, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 7) {
      case 0:
        if (!b.empty()) b[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        if (!b.empty()) b[pos] = static_cast<uint8_t>(rng());
        break;
      case 2:
        b.insert(b.begin() + pos, static_cast<uint8_t>(rng()));
        break;
      case 3:
        if (!b.empty()) b.erase(b.begin() + pos);
        break;
      case 4:
        b.resize(pos);
        break;
      case 5: {
        const size_t len = std::min<size_t>(rng() % 16, b.size() - pos);
        Bytes run(b.begin() + pos, b.begin() + pos + len);
        b.insert(b.begin() + (b.empty() ? 0 : rng() % b.size()), run.begin(), run.end());
        break;
      }
      default:
        // Interesting values at a random spot (lengths, boundaries).
        if (!b.empty()) {
          static const uint8_t kSpecial[] = {0, 1, 0x7f, 0x80, 0xff, '"', '{', '}', '\\', '0', '9'};
          b[pos] = kSpecial[rng() % sizeof(kSpecial)];
        }
        break;
    }
  }
}

TEST(FuzzTest, FileHeaderDecodeNeverCrashesAndAcceptsOnlyCanonicalInput) {
  std::mt19937_64 rng(20240501);
  const std::vector<uint8_t> seed = example::Header().Encode();
  FileHeader small = example::Header();
  small.key_id = "k";
  small.wrapped_dek = "00";
  const std::vector<uint8_t> small_seed = small.Encode();
  int accepted = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::vector<uint8_t> input;
    switch (i % 4) {
      case 0:
        input.resize(rng() % 600);
        for (auto& x : input) x = static_cast<uint8_t>(rng());
        break;
      case 1:
        input = small_seed;
        break;
      default:
        input = seed;
        break;
    }
    Mutate(input, rng);
    auto h = FileHeader::Decode(input);
    if (h.ok()) {
      ++accepted;
      ASSERT_TRUE(h->Validate().ok());
      ASSERT_EQ(h->Encode(), input);
    } else {
      ASSERT_EQ(h.status().code(), StatusCode::kDataLoss) << h.status().ToString();
      ASSERT_FALSE(h.status().message().empty());
    }
  }
  // Some mutations (e.g. of the file id or a hex digit) stay valid.
  EXPECT_GT(accepted, 0);
}

TEST(FuzzTest, VolumeConfigFromJsonNeverCrashes) {
  std::mt19937_64 rng(777);
  VolumeConfig c;
  c.version = 1;
  c.names = NameMode::kPlaintext;
  c.key_id = example::kKeyId;
  c.project_id = "05a41e0bd580d4a82f8bc00a2e5b33ad";
  c.canary_file_id = example::Id();
  c.canary_wrapped_dek = "0200980042";
  c.created = "2024-05-01T12:00:00Z";
  const std::string seed = c.ToJson();
  std::string compact = seed;
  std::erase_if(compact, [](char ch) { return ch == '\n' || ch == ' '; });
  int accepted = 0;
  for (int i = 0; i < kIterations; ++i) {
    std::string input;
    switch (i % 5) {
      case 0:
        input.resize(rng() % 300);
        for (auto& x : input) x = static_cast<char>(rng());
        break;
      case 1:
        input = seed;  // the pretty form, whitespace included
        break;
      default:
        input = compact;
        break;
    }
    Mutate(input, rng);
    auto parsed = VolumeConfig::FromJson(input);
    if (parsed.ok()) {
      ++accepted;
      ASSERT_TRUE(parsed->Validate().ok()) << input;
      auto again = VolumeConfig::FromJson(parsed->ToJson());
      ASSERT_TRUE(again.ok()) << input;
      ASSERT_EQ(*again, *parsed);
    } else {
      ASSERT_EQ(parsed.status().code(), StatusCode::kDataLoss) << parsed.status().ToString();
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace kmsfs::format
