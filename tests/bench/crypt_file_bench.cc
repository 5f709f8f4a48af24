// CryptFile throughput over a real backing file: what one request costs
// below the FUSE layer (seal or open, plus the backing I/O and the bookkeeping
// that keeps a failed request from losing data).
//   KMSFS_BENCH_DIR=/dev/shm build-bench/tests/bench/crypt_file_bench
// The backing file lives in $KMSFS_BENCH_DIR (default /dev/shm, a tmpfs, so
// the numbers show CPU cost rather than a disk's).
//   BM_Append      whole-block writes at the end of file (kernel writeback of a new file)
//   BM_Overwrite   whole-block writes over existing blocks (rewriting a file in place)
//   BM_Unaligned   writes starting 100 bytes into a block (read-modify-write)
//   BM_Read        whole-block reads
// Compare a change by running the binaries built before and after it in turn.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cache/dek_cache.h"
#include "fs/core/crypt_file.h"
#include "fs/format/block_codec.h"

namespace kmsfs::core {
namespace {

constexpr uint64_t kFileSpan = 64ull << 20;  // bytes a benchmark cycles over

std::string BenchDir() {
  const char* dir = std::getenv("KMSFS_BENCH_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/dev/shm";
}

// One CryptFile over a fresh backing file, unlinked at once.
struct BenchFile {
  cache::DekCache cache{cache::DekCacheOptions{}};
  std::unique_ptr<CryptFile> file;

  explicit BenchFile(benchmark::State& state) {
    std::string path = BenchDir() + "/crypt_file_bench.XXXXXX";
    const int fd = mkstemp(path.data());
    if (fd < 0) {
      state.SkipWithError("cannot create a file in KMSFS_BENCH_DIR");
      return;
    }
    unlink(path.c_str());
    format::FileHeader header;
    header.suite = crypto::CipherSuite::kAes256Gcm;
    header.block_size = format::kDefaultBlockSize;
    for (size_t i = 0; i < header.file_id.size(); ++i) header.file_id[i] = static_cast<uint8_t>(i);
    header.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
    header.wrapped_dek = "00";
    SecretBytes dek = SecretBytes::Random(format::kDekSize);
    auto codec = format::BlockCodec::New(header.suite, header.block_size, dek, header.file_id);
    if (!codec.ok()) {
      state.SkipWithError("codec");
      return;
    }
    cache::DekCache::Handle key = cache.Insert("bench", std::move(dek));
    file = std::make_unique<CryptFile>(UniqueFd(fd), header, std::move(codec).value(), std::move(key));
  }
};

void Fill(CryptFile& f, benchmark::State& state) {
  std::vector<uint8_t> chunk(1 << 20, 0x5a);
  for (uint64_t off = 0; off < kFileSpan; off += chunk.size()) {
    if (!f.Write(off, chunk).ok()) state.SkipWithError("fill failed");
  }
}

void BM_Append(benchmark::State& state) {
  BenchFile b(state);
  if (!b.file) return;
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(n, 0x5a);
  uint64_t off = 0;
  for (auto _ : state) {
    if (off + n > kFileSpan) {
      state.PauseTiming();
      if (!b.file->Truncate(0).ok()) state.SkipWithError("truncate failed");
      off = 0;
      state.ResumeTiming();
    }
    if (!b.file->Write(off, data).ok()) state.SkipWithError("write failed");
    off += n;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_Overwrite(benchmark::State& state) {
  BenchFile b(state);
  if (!b.file) return;
  Fill(*b.file, state);
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(n, 0xa5);
  uint64_t off = 0;
  for (auto _ : state) {
    if (off + n > kFileSpan) off = 0;
    if (!b.file->Write(off, data).ok()) state.SkipWithError("write failed");
    off += n;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_Unaligned(benchmark::State& state) {
  BenchFile b(state);
  if (!b.file) return;
  Fill(*b.file, state);
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> data(n, 0xa5);
  uint64_t off = 100;
  for (auto _ : state) {
    if (off + n > kFileSpan) off = 100;
    if (!b.file->Write(off, data).ok()) state.SkipWithError("write failed");
    off += n;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

void BM_Read(benchmark::State& state) {
  BenchFile b(state);
  if (!b.file) return;
  Fill(*b.file, state);
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> out(n);
  uint64_t off = 0;
  for (auto _ : state) {
    if (off + n > kFileSpan) off = 0;
    auto got = b.file->Read(off, out);
    if (!got.ok() || *got != n) state.SkipWithError("read failed");
    off += n;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}

BENCHMARK(BM_Append)->Arg(4096)->Arg(128 << 10);
BENCHMARK(BM_Overwrite)->Arg(4096)->Arg(128 << 10);
BENCHMARK(BM_Unaligned)->Arg(4096)->Arg(128 << 10);
BENCHMARK(BM_Read)->Arg(4096)->Arg(128 << 10);

}  // namespace
}  // namespace kmsfs::core

BENCHMARK_MAIN();
