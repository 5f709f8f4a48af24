// Replays a fuzz target's committed inputs through its LLVMFuzzerTestOneInput,
// built by any compiler (gcc here) into an ordinary test, so ctest and
// scripts/test.sh (plain and under ASan+UBSan) run every fuzz target's corpus
// on every change, while only scripts/fuzz.sh needs clang and libFuzzer.
//
// Built once per target (tests/fuzz/CMakeLists.txt) with KMSFS_FUZZ_TARGET
// naming it and KMSFS_FUZZ_DIR pointing at tests/fuzz; it feeds every file of
// corpus/<target>/ and regressions/<target>/ (inputs that once crashed), in
// name order. A broken invariant traps as it does under libFuzzer; the line
// printed before each input names the file that did it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace kmsfs::fuzz {
namespace {

std::vector<std::filesystem::path> InputsIn(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Replay(const std::filesystem::path& dir) {
  size_t n = 0;
  for (const auto& path : InputsIn(dir)) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(in.good() || in.eof()) << "cannot read " << path;
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), bytes.size());
    std::fflush(stderr);
    // A copy of exactly the file's size, so ASan sees any read past its end.
    std::vector<uint8_t> input(bytes.begin(), bytes.end());
    EXPECT_EQ(LLVMFuzzerTestOneInput(input.empty() ? nullptr : input.data(), input.size()), 0) << path;
    ++n;
  }
  return n;
}

const std::filesystem::path kFuzzDir = KMSFS_FUZZ_DIR;

// TEST pastes its suite argument unexpanded; this expands KMSFS_FUZZ_SUITE
// (FuzzFileHeaderReplayTest, ...) first, so every target's tests have names
// of their own in ctest.
#define KMSFS_REPLAY_TEST(suite, name) TEST(suite, name)

KMSFS_REPLAY_TEST(KMSFS_FUZZ_SUITE, EveryCorpusInputKeepsTheInvariants) {
  const size_t n = Replay(kFuzzDir / "corpus" / KMSFS_FUZZ_TARGET);
  EXPECT_GT(n, 0u) << "no committed corpus for " << KMSFS_FUZZ_TARGET << " in " << (kFuzzDir / "corpus");
}

KMSFS_REPLAY_TEST(KMSFS_FUZZ_SUITE, EveryInputThatOnceCrashedKeepsTheInvariants) {
  // Most targets have none; the folder appears with the first crash found.
  Replay(kFuzzDir / "regressions" / KMSFS_FUZZ_TARGET);
}

KMSFS_REPLAY_TEST(KMSFS_FUZZ_SUITE, EmptyAndTinyInputsKeepTheInvariants) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  for (int b = 0; b < 256; ++b) {
    const uint8_t one[1] = {static_cast<uint8_t>(b)};
    EXPECT_EQ(LLVMFuzzerTestOneInput(one, 1), 0);
  }
}

}  // namespace
}  // namespace kmsfs::fuzz
