// Block cipher throughput: BlockCodec::Seal and ::Open of whole requests
// (4 KiB and 128 KiB, the FUSE layer's common read/write sizes) for each
// suite, next to memcpy of the same bytes as the ceiling for a copy.
//   build-rel/tests/bench/block_codec_bench
// Results and the machine they came from: docs/BENCHMARKS.md "Block codec".
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "fs/format/block_codec.h"

namespace kmsfs::format {
namespace {

crypto::CipherSuite SuiteArg(const benchmark::State& state) {
  return static_cast<crypto::CipherSuite>(state.range(0));
}

std::unique_ptr<BlockCodec> MakeCodec(crypto::CipherSuite suite) {
  FileId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i);
  return std::move(BlockCodec::New(suite, kDefaultBlockSize, SecretBytes::Random(kDekSize), id)).value();
}

void BM_Seal(benchmark::State& state) {
  auto codec = MakeCodec(SuiteArg(state));
  const size_t n = static_cast<size_t>(state.range(1));
  std::vector<uint8_t> plain(n, 0x5a);
  std::vector<uint8_t> sealed(BackingSize(n, codec->geometry()));
  uint64_t block = 0;
  for (auto _ : state) {
    if (!codec->Seal(block, plain, sealed).ok()) state.SkipWithError("seal failed");
    benchmark::DoNotOptimize(sealed.data());
    benchmark::ClobberMemory();
    block += BlockCount(n, codec->geometry());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetLabel(std::string(crypto::CipherSuiteName(SuiteArg(state))));
}

void BM_Open(benchmark::State& state) {
  auto codec = MakeCodec(SuiteArg(state));
  const size_t n = static_cast<size_t>(state.range(1));
  std::vector<uint8_t> plain(n, 0x5a);
  std::vector<uint8_t> sealed(BackingSize(n, codec->geometry()));
  if (!codec->Seal(0, plain, sealed).ok()) state.SkipWithError("seal failed");
  for (auto _ : state) {
    if (!codec->Open(0, sealed, plain).ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(plain.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetLabel(std::string(crypto::CipherSuiteName(SuiteArg(state))));
}

// What a new or first-opened file pays before its first block: the content
// key derivation (HKDF-SHA256) and the cipher's key setup.
void BM_NewCodec(benchmark::State& state) {
  FileId id{};
  const SecretBytes dek = SecretBytes::Random(kDekSize);
  for (auto _ : state) {
    auto codec = BlockCodec::New(SuiteArg(state), kDefaultBlockSize, dek, id);
    if (!codec.ok()) state.SkipWithError("new codec failed");
    benchmark::DoNotOptimize(codec);
  }
  state.SetLabel(std::string(crypto::CipherSuiteName(SuiteArg(state))));
}

void BM_Memcpy(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(n, 0x5a);
  std::vector<uint8_t> dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

constexpr int64_t kAes = static_cast<int64_t>(crypto::CipherSuite::kAes256Gcm);
constexpr int64_t kXChaCha = static_cast<int64_t>(crypto::CipherSuite::kXChaCha20Poly1305);

BENCHMARK(BM_Seal)->ArgNames({"suite", "bytes"})->ArgsProduct({{kAes, kXChaCha}, {4096, 131072}});
BENCHMARK(BM_Open)->ArgNames({"suite", "bytes"})->ArgsProduct({{kAes, kXChaCha}, {4096, 131072}});
BENCHMARK(BM_NewCodec)->ArgName("suite")->Arg(kAes)->Arg(kXChaCha);
BENCHMARK(BM_Memcpy)->ArgName("bytes")->Arg(4096)->Arg(131072);

}  // namespace
}  // namespace kmsfs::format

BENCHMARK_MAIN();
