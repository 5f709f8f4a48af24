#include "fs/core/crypt_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/dek_cache.h"
#include "fs/format/block_codec.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

class CryptFileTest : public ::testing::TestWithParam<crypto::CipherSuite> {
 protected:
  std::unique_ptr<CryptFile> Make(const std::string& name) {
    path_ = dir_.Join(name);
    int fd = open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    format::FileHeader header;
    header.suite = GetParam();
    header.block_size = 4096;
    for (size_t i = 0; i < header.file_id.size(); ++i) header.file_id[i] = static_cast<uint8_t>(i * 7 + 1);
    header.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
    header.wrapped_dek = "00";
    SecretBytes dek = SecretBytes::Random(64);
    auto codec = format::BlockCodec::New(header.suite, header.block_size, dek, header.file_id);
    EXPECT_TRUE(codec.ok()) << codec.status().ToString();
    cache::DekCache::Handle key = cache_.Insert(name, std::move(dek));
    return std::make_unique<CryptFile>(UniqueFd(fd), header, std::move(codec).value(), std::move(key));
  }

  std::string ReadAll(CryptFile& f) {
    auto size = f.Size();
    EXPECT_TRUE(size.ok());
    std::string out(*size, '\0');
    auto n = f.Read(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    out.resize(n.ok() ? *n : 0);
    return out;
  }

  static std::span<const uint8_t> Bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  testing::TempDir dir_;
  std::string path_;
  cache::DekCache cache_{cache::DekCacheOptions{}};
};

TEST_P(CryptFileTest, EmptyFileHasNoBlocks) {
  auto f = Make("empty");
  EXPECT_EQ(*f->Size(), 0u);
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
}

TEST_P(CryptFileTest, WritePastEndLeavesHoleThatReadsAsZeros) {
  auto f = Make("sparse");
  ASSERT_TRUE(f->Write(10, Bytes("abc")).ok());
  ASSERT_TRUE(f->Write(100000, Bytes("xyz")).ok());
  std::string want(100003, '\0');
  want.replace(10, 3, "abc");
  want.replace(100000, 3, "xyz");
  EXPECT_EQ(ReadAll(*f), want);
}

TEST_P(CryptFileTest, TruncateGrowsWithZerosAndShrinksToPrefix) {
  auto f = Make("trunc");
  std::string data(10000, 'q');
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  ASSERT_TRUE(f->Truncate(5000).ok());
  EXPECT_EQ(ReadAll(*f), data.substr(0, 5000));
  ASSERT_TRUE(f->Truncate(9000).ok());
  EXPECT_EQ(ReadAll(*f), data.substr(0, 5000) + std::string(4000, '\0'));
  ASSERT_TRUE(f->Truncate(0).ok());
  EXPECT_EQ(ReadAll(*f), "");
}

TEST_P(CryptFileTest, AppendWritesAtEnd) {
  auto f = Make("append");
  ASSERT_TRUE(f->Append(Bytes("one")).ok());
  auto off = f->Append(Bytes("two"));
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, 3u);
  EXPECT_EQ(ReadAll(*f), "onetwo");
}

TEST_P(CryptFileTest, RandomOperationsMatchModel) {
  auto f = Make("random");
  std::mt19937_64 rng(GetParam() == crypto::CipherSuite::kAes256Gcm ? 1 : 2);
  std::string model;
  for (int op = 0; op < 3000; ++op) {
    switch (rng() % 4) {
      case 0: case 1: {
        const uint64_t off = rng() % 40000;
        std::string data(1 + rng() % 9000, '\0');
        for (char& c : data) c = static_cast<char>(rng());
        ASSERT_TRUE(f->Write(off, Bytes(data)).ok()) << "op " << op;
        if (model.size() < off + data.size()) model.resize(off + data.size(), '\0');
        model.replace(off, data.size(), data);
        break;
      }
      case 2: {
        const uint64_t size = rng() % 45000;
        ASSERT_TRUE(f->Truncate(size).ok()) << "op " << op;
        model.resize(size, '\0');
        break;
      }
      case 3: {
        const uint64_t off = rng() % 46000;
        std::string buf(1 + rng() % 10000, '\0');
        auto n = f->Read(off, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()});
        ASSERT_TRUE(n.ok()) << "op " << op << ": " << n.status().ToString();
        const size_t want = off >= model.size() ? 0 : std::min(buf.size(), model.size() - off);
        ASSERT_EQ(*n, want) << "op " << op;
        ASSERT_EQ(buf.substr(0, want), model.substr(std::min<size_t>(off, model.size()), want)) << "op " << op;
        break;
      }
    }
  }
  EXPECT_EQ(ReadAll(*f), model);
}

TEST_P(CryptFileTest, FlippedByteFailsReadOfThatBlockOnly) {
  auto f = Make("tamper");
  std::string data(3 * 4096, 'z');
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  const off_t sealed_block = st.st_size / 3;
  int fd = open(path_.c_str(), O_RDWR);
  char c;
  ASSERT_EQ(pread(fd, &c, 1, sealed_block + 50), 1);
  c ^= 4;
  ASSERT_EQ(pwrite(fd, &c, 1, sealed_block + 50), 1);
  close(fd);
  std::string buf(4096, '\0');
  auto span = std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), buf.size());
  EXPECT_TRUE(f->Read(0, span).ok());
  auto bad = f->Read(4096, span);
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_TRUE(f->Read(8192, span).ok());
  // A write that needs the bad block (read-modify-write) fails rather than
  // sealing garbage.
  EXPECT_FALSE(f->Write(5000, Bytes("x")).ok());
}

TEST_P(CryptFileTest, ConcurrentWritersToSharedBlocksLoseNoUpdate) {
  auto f = Make("concurrent");
  // 8 writers own interleaved 1000-byte stripes, so neighbours share blocks;
  // readers run alongside. A lost read-modify-write update would show.
  constexpr int kThreads = 8, kStripes = 40, kStripe = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kStripes; ++i) {
        const uint64_t off = static_cast<uint64_t>((i * kThreads + t) * kStripe);
        const std::string data(kStripe, static_cast<char>('a' + t));
        ASSERT_TRUE(f->Write(off, Bytes(data)).ok());
        std::string buf(4096, '\0');
        ASSERT_TRUE(f->Read(off, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()}).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::string all = ReadAll(*f);
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kStripes * kStripe));
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i], static_cast<char>('a' + (i / kStripe) % kThreads)) << "offset " << i;
  }
}

TEST_P(CryptFileTest, ConcurrentWholeBlockWritesAndPaddingKeepEveryByte) {
  // Whole-block writes are sealed before the file's lock is taken. Writers
  // race with each other and with a writer whose short tail leaves a partial
  // last block that later whole-block writes must pad, as page writeback and
  // an appending process would.
  auto f = Make("whole-blocks");
  constexpr uint64_t kBlock = 4096;
  constexpr int kThreads = 4, kRounds = 24;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        // Two whole blocks per write, each thread its own interleaved pairs.
        const uint64_t off = static_cast<uint64_t>(i * kThreads + t) * 2 * kBlock;
        const std::string data(2 * kBlock, static_cast<char>('A' + t));
        ASSERT_TRUE(f->Write(off, Bytes(data)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const uint64_t whole = static_cast<uint64_t>(kThreads * kRounds) * 2 * kBlock;
  // A short write at the end, then whole blocks after a gap: the partial block is padded.
  ASSERT_TRUE(f->Write(whole, Bytes(std::string(100, 'z'))).ok());
  ASSERT_TRUE(f->Write(whole + 3 * kBlock, Bytes(std::string(kBlock, 'y'))).ok());
  const std::string all = ReadAll(*f);
  ASSERT_EQ(all.size(), whole + 4 * kBlock);
  for (uint64_t i = 0; i < whole; ++i) {
    ASSERT_EQ(all[i], static_cast<char>('A' + (i / (2 * kBlock)) % kThreads)) << "offset " << i;
  }
  EXPECT_EQ(all.substr(whole, 100), std::string(100, 'z'));
  EXPECT_EQ(all.substr(whole + 100, 3 * kBlock - 100), std::string(3 * kBlock - 100, '\0'));
  EXPECT_EQ(all.substr(whole + 3 * kBlock), std::string(kBlock, 'y'));
}

INSTANTIATE_TEST_SUITE_P(BothSuites, CryptFileTest,
                         ::testing::Values(crypto::CipherSuite::kAes256Gcm, crypto::CipherSuite::kXChaCha20Poly1305));

}  // namespace
}  // namespace kmsfs::core
