#include "fs/format/block_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "tests/format/suite_param.h"
#include "tests/testutil/scripted_random.h"

namespace kmsfs::format {
namespace {

using crypto::CipherSuite;

std::vector<uint8_t> RandomVector(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

FileId RandomId(std::mt19937_64& rng) {
  FileId id;
  for (auto& b : id) b = static_cast<uint8_t>(rng());
  return id;
}

class BlockCodecTest : public ::testing::TestWithParam<CipherSuite> {
 protected:
  std::unique_ptr<BlockCodec> Make(uint32_t block_size = 4096) {
    auto c = BlockCodec::New(GetParam(), block_size, dek_, id_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  std::vector<uint8_t> Seal(const BlockCodec& c, uint64_t first, const std::vector<uint8_t>& plain) {
    std::vector<uint8_t> out(BackingSize(plain.size(), c.geometry()));
    EXPECT_TRUE(c.Seal(first, plain, out).ok());
    return out;
  }

  std::mt19937_64 rng_{7};
  SecretBytes dek_ = SecretBytes::Random(kDekSize);
  FileId id_ = RandomId(rng_);
};

TEST_P(BlockCodecTest, GeometryMatchesSuite) {
  auto c = Make(512);
  EXPECT_EQ(c->geometry().block_size, 512u);
  EXPECT_EQ(c->geometry().overhead, GetParam() == CipherSuite::kAes256Gcm ? 28u : 40u);
  auto g = GeometryFor(GetParam(), 512);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->overhead, c->geometry().overhead);
}

TEST_P(BlockCodecTest, RoundTripsRandomSizesAndOffsets) {
  for (uint32_t bs : {512u, 4096u, 65536u}) {
    auto c = Make(bs);
    for (int i = 0; i < 12; ++i) {
      const size_t n = i == 0 ? 0 : (i == 1 ? bs : rng_() % (4 * bs + 7));
      const uint64_t first = i % 3 == 0 ? 0 : rng_() % (uint64_t{1} << 40);
      const auto plain = RandomVector(rng_, n);
      const auto sealed = Seal(*c, first, plain);
      ASSERT_EQ(*PlainSize(sealed.size(), c->geometry()), n);
      std::vector<uint8_t> out(n);
      ASSERT_TRUE(c->Open(first, sealed, out).ok()) << "bs " << bs << " n " << n;
      EXPECT_EQ(out, plain);
    }
  }
}

TEST_P(BlockCodecTest, BlocksSealedSeparatelyOpenTogether) {
  auto c = Make(512);
  const auto plain = RandomVector(rng_, 512 * 3 + 100);
  std::vector<uint8_t> sealed;
  for (uint64_t b = 0; b < 4; ++b) {
    const size_t begin = b * 512;
    const size_t len = std::min<size_t>(512, plain.size() - begin);
    auto part = Seal(*c, b, {plain.begin() + begin, plain.begin() + begin + len});
    sealed.insert(sealed.end(), part.begin(), part.end());
  }
  std::vector<uint8_t> out(plain.size());
  ASSERT_TRUE(c->Open(0, sealed, out).ok());
  EXPECT_EQ(out, plain);
  // ...and a middle block alone at its own index.
  const size_t sbs = c->geometry().sealed_block_size();
  std::vector<uint8_t> one(512);
  ASSERT_TRUE(c->Open(2, std::span<const uint8_t>(sealed).subspan(2 * sbs, sbs), one).ok());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), plain.begin() + 1024));
}

TEST_P(BlockCodecTest, SameContentSealsDifferentlyEachTime) {
  auto c = Make();
  const std::vector<uint8_t> plain(5000, 0);
  EXPECT_NE(Seal(*c, 0, plain), Seal(*c, 0, plain));
}

TEST_P(BlockCodecTest, ZeroPlaintextDoesNotSealToZeros) {
  auto c = Make();
  const std::vector<uint8_t> plain(4096, 0);
  const auto sealed = Seal(*c, 0, plain);
  EXPECT_NE(sealed, std::vector<uint8_t>(sealed.size(), 0));
  std::vector<uint8_t> nonce(sealed.begin(), sealed.begin() + crypto::NonceSize(GetParam()));
  EXPECT_NE(nonce, std::vector<uint8_t>(nonce.size(), 0));
}

TEST_P(BlockCodecTest, AllZeroBlocksReadAsHoles) {
  auto c = Make(512);
  const size_t sbs = c->geometry().sealed_block_size();
  const size_t oh = c->geometry().overhead;
  // Block 0 real, block 1 a full hole, block 2 a partial hole of 100 bytes.
  const auto plain0 = RandomVector(rng_, 512);
  auto sealed = Seal(*c, 0, plain0);
  sealed.resize(sbs + sbs + 100 + oh, 0);
  std::vector<uint8_t> out(512 + 512 + 100, 0xee);
  ASSERT_TRUE(c->Open(0, sealed, out).ok());
  EXPECT_TRUE(std::equal(plain0.begin(), plain0.end(), out.begin()));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 512, out.end()), std::vector<uint8_t>(612, 0));
}

TEST_P(BlockCodecTest, OpenFailureZeroesOutputAndNamesFirstBadBlock) {
  auto c = Make(512);
  const auto plain = RandomVector(rng_, 512 * 5);
  auto sealed = Seal(*c, 10, plain);
  const size_t sbs = c->geometry().sealed_block_size();
  sealed[3 * sbs + 40] ^= 0x04;  // block 13
  sealed[4 * sbs + 40] ^= 0x04;  // block 14
  std::vector<uint8_t> out(plain.size(), 0xee);
  Status s = c->Open(10, sealed, out);
  ASSERT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("block 13"), std::string::npos) << s.message();
  EXPECT_EQ(out, std::vector<uint8_t>(out.size(), 0));
}

TEST_P(BlockCodecTest, AllZeroNonceDrawIsRedrawnBeforeSealing) {
  // The first draw would make the sealed block start like a hole: the block
  // must carry the second draw instead, and still open.
  const size_t nonce_size = crypto::NonceSize(GetParam());
  const std::vector<uint8_t> second = testing::CountingBytes(nonce_size, 0x80);
  testing::ScriptedRandom random({std::vector<uint8_t>(nonce_size, 0), second});
  auto c = BlockCodec::New(GetParam(), 4096, dek_, id_, random);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::vector<uint8_t> plain(4096, 0);  // zeros seal to a non-hole too
  std::vector<uint8_t> sealed(BackingSize(plain.size(), (*c)->geometry()));
  ASSERT_TRUE((*c)->Seal(5, plain, sealed).ok());
  EXPECT_EQ(random.calls(), 2);
  EXPECT_EQ(std::vector<uint8_t>(sealed.begin(), sealed.begin() + static_cast<ptrdiff_t>(nonce_size)), second);
  std::vector<uint8_t> out(plain.size(), 0xff);
  ASSERT_TRUE((*c)->Open(5, sealed, out).ok());
  EXPECT_EQ(out, plain);
}

TEST_P(BlockCodecTest, SealFailsWhenNonceSourceOnlyGivesZeros) {
  const size_t nonce_size = crypto::NonceSize(GetParam());
  testing::ScriptedRandom random(
      std::vector<std::vector<uint8_t>>(crypto::kMaxNonceDraws, std::vector<uint8_t>(nonce_size, 0)));
  auto c = BlockCodec::New(GetParam(), 4096, dek_, id_, random);
  ASSERT_TRUE(c.ok());
  const std::vector<uint8_t> plain(100, 7);
  std::vector<uint8_t> sealed(BackingSize(plain.size(), (*c)->geometry()), 0xee);
  EXPECT_EQ((*c)->Seal(0, plain, sealed).code(), StatusCode::kInternal);
  // Nothing half-sealed is left for a caller to write out.
  EXPECT_EQ(sealed, std::vector<uint8_t>(sealed.size(), 0));
}

TEST_P(BlockCodecTest, RejectsMismatchedBufferSizes) {
  auto c = Make(512);
  const auto plain = RandomVector(rng_, 700);
  std::vector<uint8_t> too_small(BackingSize(700, c->geometry()) - 1);
  EXPECT_EQ(c->Seal(0, plain, too_small).code(), StatusCode::kInvalidArgument);
  const auto sealed = Seal(*c, 0, plain);
  std::vector<uint8_t> wrong(701);
  EXPECT_EQ(c->Open(0, sealed, wrong).code(), StatusCode::kInvalidArgument);
}

TEST_P(BlockCodecTest, ImpossibleTrailingBlockIsDataLoss) {
  auto c = Make(512);
  const size_t sbs = c->geometry().sealed_block_size();
  const auto sealed = Seal(*c, 0, RandomVector(rng_, 512));
  for (size_t extra = 1; extra <= c->geometry().overhead; ++extra) {
    std::vector<uint8_t> longer = sealed;
    longer.resize(sbs + extra, 0x11);
    std::vector<uint8_t> out(512);
    Status s = c->Open(0, longer, out);
    EXPECT_EQ(s.code(), StatusCode::kDataLoss) << extra;
    EXPECT_NE(s.message().find("block 1"), std::string::npos) << s.message();
  }
}

TEST_P(BlockCodecTest, NewRejectsBadBlockSizeAndDek) {
  EXPECT_EQ(BlockCodec::New(GetParam(), 4000, dek_, id_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockCodec::New(GetParam(), 1u << 21, dek_, id_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockCodec::New(GetParam(), 4096, SecretBytes::Random(32), id_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(BlockCodecTest, ConcurrentCallsOnOneCodec) {
  auto c = Make(4096);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < 50; ++i) {
        const auto plain = RandomVector(rng, rng() % 40000);
        std::vector<uint8_t> sealed(BackingSize(plain.size(), c->geometry()));
        std::vector<uint8_t> out(plain.size());
        if (!c->Seal(i, plain, sealed).ok() || !c->Open(i, sealed, out).ok() || out != plain) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(BothSuites, BlockCodecTest, BothSuites(), SuiteTestName);

TEST(ContentKeyTest, DependsOnDekAndFileId) {
  SecretBytes dek = SecretBytes::Random(kDekSize);
  FileId a{}, b{};
  b[15] = 1;
  auto ka = DeriveContentKey(dek, a);
  auto ka2 = DeriveContentKey(dek, a);
  auto kb = DeriveContentKey(dek, b);
  auto kc = DeriveContentKey(SecretBytes::Random(kDekSize), a);
  ASSERT_TRUE(ka.ok() && ka2.ok() && kb.ok() && kc.ok());
  EXPECT_EQ(ka->size(), kContentKeySize);
  EXPECT_TRUE(ka->Equals(*ka2));
  EXPECT_FALSE(ka->Equals(*kb));
  EXPECT_FALSE(ka->Equals(*kc));
  EXPECT_EQ(DeriveContentKey(SecretBytes::Random(63), a).status().code(), StatusCode::kInvalidArgument);
}

TEST(BlockAdTest, IsFileIdThenBigEndianIndex) {
  FileId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(HexEncode(BlockAd(id, 0x0102030405060708ull)),
            "000102030405060708090a0b0c0d0e0f0102030405060708");
  EXPECT_EQ(HexEncode(BlockAd(id, 1)), "000102030405060708090a0b0c0d0e0f0000000000000001");
}

}  // namespace
}  // namespace kmsfs::format
