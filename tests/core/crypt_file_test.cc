#include "fs/core/crypt_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cache/dek_cache.h"
#include "fs/core/faulty_backing_file.h"
#include "fs/format/block_codec.h"
#include "fs/format/offsets.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::core {
namespace {

// A suite, and where block 0 starts: 0 (xattr headers) or after a 512-byte
// inline header region.
struct Layout {
  crypto::CipherSuite suite;
  uint32_t data_offset;
};

void PrintTo(const Layout& layout, std::ostream* os) {
  *os << crypto::CipherSuiteName(layout.suite) << ", blocks from byte " << layout.data_offset;
}

std::string LayoutName(const ::testing::TestParamInfo<Layout>& info) {
  return std::string(info.param.suite == crypto::CipherSuite::kAes256Gcm ? "AesGcm" : "XChaCha") +
         (info.param.data_offset == 0 ? "" : "Inline");
}

class CryptFileTest : public ::testing::TestWithParam<Layout> {
 protected:
  std::unique_ptr<CryptFile> Make(const std::string& name) { return MakeOver(name, nullptr); }

  // A CryptFile whose backing I/O goes through a FaultyBackingFile (*io).
  struct Faulty {
    std::unique_ptr<CryptFile> file;
    FaultyBackingFile* io = nullptr;
    std::string path;
  };
  Faulty MakeFaulty(const std::string& name) {
    Faulty f;
    f.file = MakeOver(name, &f.io);
    f.path = path_;
    return f;
  }

  // Over an FdBackingFile, or a FaultyBackingFile around one when `io` is set.
  std::unique_ptr<CryptFile> MakeOver(const std::string& name, FaultyBackingFile** io) {
    path_ = dir_.Join(name);
    int fd = open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    format::FileHeader header;
    header.suite = GetParam().suite;
    header.block_size = 4096;
    for (size_t i = 0; i < header.file_id.size(); ++i) header.file_id[i] = static_cast<uint8_t>(i * 7 + 1);
    header.key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f";
    header.wrapped_dek = "00";
    SecretBytes dek = SecretBytes::Random(64);
    auto codec = format::BlockCodec::New(header.suite, header.block_size, dek, header.file_id);
    EXPECT_TRUE(codec.ok()) << codec.status().ToString();
    cache::DekCache::Handle key = cache_.Insert(name, std::move(dek));
    // What an inline header region holds does not matter here, only that
    // nothing ever changes it.
    const std::string region = Region();
    EXPECT_EQ(pwrite(fd, region.data(), region.size(), 0), static_cast<ssize_t>(region.size()));
    std::unique_ptr<BackingFile> backing = std::make_unique<FdBackingFile>(UniqueFd(fd));
    if (io != nullptr) {
      auto faulty = std::make_unique<FaultyBackingFile>(std::move(backing));
      *io = faulty.get();
      backing = std::move(faulty);
    }
    return std::make_unique<CryptFile>(std::move(backing), header, std::move(codec).value(), std::move(key),
                                       GetParam().data_offset);
  }

  // The bytes before block 0 (none without a header region).
  static std::string Region() { return Pattern(GetParam().data_offset, 4242); }
  // The backing file still starts with Region().
  void ExpectRegionIntact(const std::string& path) {
    EXPECT_EQ(Backing(path).substr(0, GetParam().data_offset), Region());
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

  static std::string Pattern(size_t n, uint32_t seed) {
    std::string out(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (char& c : out) {
      x = x * 1103515245u + 12345u;
      c = static_cast<char>(x >> 24);
    }
    return out;
  }

  // The backing file's bytes, as stored.
  static std::string Backing(const std::string& path) { return testing::ReadFileOrDie(path); }

  // A change to a file in a known state: `setup` makes the state (without
  // faults) and mirrors it in the model; `op` is the change under test;
  // `apply` is what it does to the model when it succeeds.
  struct Change {
    std::function<void(CryptFile&, std::string*)> setup;
    std::function<Status(CryptFile&)> op;
    std::function<void(std::string*)> apply;
  };

  // Checks a failed change: it reports `err`, and once the fault is gone
  // the backing file is byte for byte what it was (every block restored,
  // the file cut back), every byte reads as before, and the change then
  // succeeds.
  void ExpectUndone(const Change& c, Faulty& f, const Status& s, int err, const std::string& model,
                    const std::string& backing_before) {
    EXPECT_EQ(ToErrno(s), err) << s.ToString();
    f.io->ClearFaults();
    EXPECT_EQ(Backing(f.path), backing_before) << s.ToString();
    EXPECT_EQ(ReadAll(*f.file), model);
    Status again = c.op(*f.file);
    ASSERT_TRUE(again.ok()) << again.ToString();
    std::string after = model;
    c.apply(&after);
    EXPECT_EQ(ReadAll(*f.file), after);
  }

  struct DryRun {
    uint64_t steps;         // backing calls the change makes
    uint64_t backing_before;
    uint64_t backing_after;
  };
  DryRun Measure(const Change& c, bool reserve_unsupported) {
    Faulty f = MakeFaulty("dry-run");
    std::string model;
    c.setup(*f.file, &model);
    f.io->SetReserveUnsupported(reserve_unsupported);
    DryRun d;
    d.backing_before = Backing(f.path).size();
    const uint64_t before = f.io->calls();
    Status s = c.op(*f.file);
    EXPECT_TRUE(s.ok()) << s.ToString();
    d.steps = f.io->calls() - before;
    d.backing_after = Backing(f.path).size();
    c.apply(&model);
    EXPECT_EQ(ReadAll(*f.file), model);
    unlink(f.path.c_str());
    return d;
  }

  // Fails each backing call of the change in turn (ENOSPC, EIO, and short
  // writes followed by either), on a filesystem with and without fallocate.
  void ExpectNothingLostWhenAnyStepFails(const Change& c) {
    int run = 0;
    for (bool reserve_unsupported : {false, true}) {
      const DryRun dry = Measure(c, reserve_unsupported);
      ASSERT_GT(dry.steps, 0u);
      for (uint64_t n = 1; n <= dry.steps; ++n) {
        for (FaultyBackingFile::Fault fault : {FaultyBackingFile::Fault{n, ENOSPC, 0}, FaultyBackingFile::Fault{n, EIO, 0},
                                              FaultyBackingFile::Fault{n, ENOSPC, 1}, FaultyBackingFile::Fault{n, EIO, 100}}) {
          SCOPED_TRACE("fallocate " + std::string(reserve_unsupported ? "unsupported" : "supported") + ", call " +
                       std::to_string(n) + " of " + std::to_string(dry.steps) + " fails with errno " +
                       std::to_string(fault.err) + ", short write " + std::to_string(fault.short_write));
          Faulty f = MakeFaulty("fault-" + std::to_string(run++));
          std::string model;
          c.setup(*f.file, &model);
          f.io->SetReserveUnsupported(reserve_unsupported);
          const std::string backing_before = Backing(f.path);
          f.io->Inject(fault);
          Status s = c.op(*f.file);
          // Every call the change makes matters: one that fails fails the change.
          ASSERT_TRUE(f.io->fault_hit());
          ASSERT_FALSE(s.ok());
          ExpectUndone(c, f, s, fault.err, model, backing_before);
          unlink(f.path.c_str());
          if (HasFatalFailure()) return;
        }
      }
    }
  }

  // A full disk: the backing filesystem has room up to `limit` bytes of
  // this file, for every limit from the old size to the new one. The change
  // either fits and succeeds, or fails with ENOSPC having changed nothing;
  // with no room at all, a change that stores data past the old end fails.
  void ExpectNothingLostOnFullDisk(const Change& c, bool needs_room) {
    int run = 0;
    for (bool reserve_unsupported : {false, true}) {
      const DryRun dry = Measure(c, reserve_unsupported);
      std::set<uint64_t> limits;
      for (uint64_t d = 0; d <= 64; ++d) limits.insert(dry.backing_before + d);
      const format::Geometry g = MakeGeometry();
      for (uint64_t b = 0; format::BackingOffset(b, g) <= dry.backing_after; ++b) {
        for (int64_t d : {-41, -40, -29, -28, -1, 0, 1, 28, 29, 40, 41}) {
          limits.insert(format::BackingOffset(b, g) + static_cast<uint64_t>(d));
        }
      }
      limits.insert(dry.backing_after - 1);
      for (uint64_t limit : limits) {
        if (limit < dry.backing_before || limit >= dry.backing_after) continue;
        SCOPED_TRACE("fallocate " + std::string(reserve_unsupported ? "unsupported" : "supported") + ", room up to " +
                     std::to_string(limit) + " (old size " + std::to_string(dry.backing_before) + ", new " +
                     std::to_string(dry.backing_after) + ")");
        Faulty f = MakeFaulty("full-" + std::to_string(run++));
        std::string model;
        c.setup(*f.file, &model);
        f.io->SetReserveUnsupported(reserve_unsupported);
        const std::string backing_before = Backing(f.path);
        f.io->SetSpaceLimit(limit);
        Status s = c.op(*f.file);
        if (s.ok()) {
          EXPECT_FALSE(needs_room && limit == dry.backing_before) << "succeeded on a full disk";
          c.apply(&model);
          EXPECT_EQ(ReadAll(*f.file), model);
        } else {
          ExpectUndone(c, f, s, ENOSPC, model, backing_before);
        }
        unlink(f.path.c_str());
        if (HasFatalFailure()) return;
      }
    }
  }

  format::Geometry MakeGeometry() const {
    return format::Geometry{4096, GetParam().suite == crypto::CipherSuite::kAes256Gcm ? 28u : 40u,
                            GetParam().data_offset};
  }

  // setup: the file holds `pieces` (offset, length) of pattern bytes.
  std::function<void(CryptFile&, std::string*)> Holding(std::vector<std::pair<uint64_t, size_t>> pieces) {
    return [pieces](CryptFile& f, std::string* model) {
      uint32_t seed = 1;
      for (auto [off, len] : pieces) {
        const std::string data = Pattern(len, seed++);
        ASSERT_TRUE(f.Write(off, Bytes(data)).ok());
        if (model->size() < off + len) model->resize(off + len, '\0');
        model->replace(off, len, data);
      }
    };
  }
  Change WriteChange(std::vector<std::pair<uint64_t, size_t>> pieces, uint64_t off, size_t len) {
    const std::string data = Pattern(len, 99);
    return {Holding(std::move(pieces)), [off, data](CryptFile& f) { return f.Write(off, Bytes(data)).status(); },
            [off, data](std::string* m) {
              if (m->size() < off + data.size()) m->resize(off + data.size(), '\0');
              m->replace(off, data.size(), data);
            }};
  }
  Change AppendChange(std::vector<std::pair<uint64_t, size_t>> pieces, size_t len) {
    const std::string data = Pattern(len, 77);
    return {Holding(std::move(pieces)), [data](CryptFile& f) { return f.Append(Bytes(data)).status(); },
            [data](std::string* m) { *m += data; }};
  }
  Change TruncateChange(std::vector<std::pair<uint64_t, size_t>> pieces, uint64_t size) {
    return {Holding(std::move(pieces)), [size](CryptFile& f) { return f.Truncate(size); },
            [size](std::string* m) { m->resize(size, '\0'); }};
  }
  Change AllocateChange(std::vector<std::pair<uint64_t, size_t>> pieces, uint64_t off, uint64_t len) {
    return {Holding(std::move(pieces)), [off, len](CryptFile& f) { return f.Allocate(off, len); },
            [off, len](std::string* m) {
              if (m->size() < off + len) m->resize(off + len, '\0');
            }};
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
  EXPECT_EQ(st.st_size, GetParam().data_offset);
}

TEST_P(CryptFileTest, HeaderRegionIsNeverWrittenMovedOrCut) {
  auto f = Make("region");
  const std::string data = Pattern(3 * 4096 + 700, 11);
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  ExpectRegionIntact(path_);
  ASSERT_TRUE(f->Write(100, Bytes("head")).ok());
  ASSERT_TRUE(f->Append(Bytes("tail")).ok());
  ASSERT_TRUE(f->Allocate(0, 9 * 4096).ok());
  ExpectRegionIntact(path_);
  ASSERT_TRUE(f->Truncate(5).ok());
  ExpectRegionIntact(path_);
  // Cut to nothing, the file is its region alone, and grows back after it.
  ASSERT_TRUE(f->Truncate(0).ok());
  EXPECT_EQ(Backing(path_), Region());
  EXPECT_EQ(*f->Size(), 0u);
  ASSERT_TRUE(f->Write(4096, Bytes("again")).ok());
  ExpectRegionIntact(path_);
  EXPECT_EQ(ReadAll(*f), std::string(4096, '\0') + "again");
  EXPECT_EQ(Backing(path_).size(), format::BackingSize(4096 + 5, MakeGeometry()));
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
  std::mt19937_64 rng((GetParam().suite == crypto::CipherSuite::kAes256Gcm ? 1 : 2) + GetParam().data_offset);
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
  ExpectRegionIntact(path_);
}

TEST_P(CryptFileTest, FlippedByteFailsReadOfThatBlockOnly) {
  auto f = Make("tamper");
  std::string data(3 * 4096, 'z');
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  const off_t at = static_cast<off_t>(format::BackingOffset(1, MakeGeometry())) + 50;
  ASSERT_EQ(static_cast<uint64_t>(st.st_size), format::BackingSize(3 * 4096, MakeGeometry()));
  int fd = open(path_.c_str(), O_RDWR);
  char c;
  ASSERT_EQ(pread(fd, &c, 1, at), 1);
  c ^= 4;
  ASSERT_EQ(pwrite(fd, &c, 1, at), 1);
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

// ---- a failure at any step of a change loses nothing ---------------------
// Block size 4096; "5000 bytes" ends in a partial block of 904.

TEST_P(CryptFileTest, WritePastPartialLastBlockLosesNothingWhenAnyStepFails) {
  // Pads block 1 (904 -> 4096 bytes), then writes blocks 2..3.
  const Change c = WriteChange({{0, 5000}}, 12000, 3000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, WriteExtendingPartialLastBlockLosesNothingWhenAnyStepFails) {
  // Read-modify-write of block 1, which grows from 904 to 2404 bytes.
  const Change c = WriteChange({{0, 5000}}, 4500, 2000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, AppendAfterPartialLastBlockLosesNothingWhenAnyStepFails) {
  const Change c = AppendChange({{0, 5000}}, 9000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, WholeBlockWritePastPartialLastBlockLosesNothingWhenAnyStepFails) {
  // The presealed path (page writeback): pads block 1, writes blocks 3..4.
  const Change c = WriteChange({{0, 5000}}, 3 * 4096, 2 * 4096);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, WholeBlockAppendLosesNothingWhenAnyStepFails) {
  const Change c = WriteChange({{0, 2 * 4096}}, 2 * 4096, 3 * 4096);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, UnalignedMultiBlockOverwriteLosesNothingWhenAnyStepFails) {
  // A short write in the middle of a multi-block write must not leave the
  // blocks before it new and the one it stopped in torn.
  const Change c = WriteChange({{0, 5 * 4096 + 100}}, 100, 3 * 4096 + 50);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, WholeBlockOverwriteLosesNothingWhenAnyStepFails) {
  const Change c = WriteChange({{0, 5 * 4096}}, 4096, 3 * 4096);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, OverwriteRunningPastEndLosesNothingWhenAnyStepFails) {
  // Rewrites blocks 1..2 in place and adds blocks 3..4.
  const Change c = WriteChange({{0, 3 * 4096}}, 4096, 4 * 4096);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, WriteIntoHoleLosesNothingWhenAnyStepFails) {
  // Blocks 1..8 are holes; the write fills 2..3 and part of 4.
  const Change c = WriteChange({{0, 100}, {9 * 4096, 100}}, 2 * 4096, 2 * 4096 + 300);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, TruncateUpFromPartialLastBlockLosesNothingWhenAnyStepFails) {
  const Change c = TruncateChange({{0, 5000}}, 20000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, TruncateUpWithinLastBlockLosesNothingWhenAnyStepFails) {
  const Change c = TruncateChange({{0, 5000}}, 6000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, TruncateUpFromBlockBoundaryNeedsNoRoom) {
  // Growing a file that ends on a block boundary only makes holes.
  const Change c = TruncateChange({{0, 2 * 4096}}, 30000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, false);
}

TEST_P(CryptFileTest, TruncateDownInsideBlockLosesNothingWhenAnyStepFails) {
  // Re-seals block 1 at 404 bytes, then cuts blocks 2.. off.
  const Change c = TruncateChange({{0, 10000}}, 4500);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, TruncateDownToBlockBoundaryLosesNothingWhenAnyStepFails) {
  const Change c = TruncateChange({{0, 10000}}, 4096);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, AllocatePastPartialLastBlockLosesNothingWhenAnyStepFails) {
  const Change c = AllocateChange({{0, 5000}}, 3000, 20000);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, AllocateFarPastEndLosesNothingWhenAnyStepFails) {
  // The reserved range starts beyond the old last block, which is padded.
  const Change c = AllocateChange({{0, 5000}}, 40000, 100);
  ExpectNothingLostWhenAnyStepFails(c);
  ExpectNothingLostOnFullDisk(c, true);
}

TEST_P(CryptFileTest, AllocateInsideFileLosesNothingWhenAnyStepFails) {
  const Change c = AllocateChange({{0, 100}, {5 * 4096, 100}}, 50, 3 * 4096);
  ExpectNothingLostWhenAnyStepFails(c);
}

TEST_P(CryptFileTest, FailedSyncIsReported) {
  Faulty f = MakeFaulty("sync");
  ASSERT_TRUE(f.file->Write(0, Bytes("abc")).ok());
  f.io->Inject({1, EIO, 0});
  Status s = f.file->Sync(false);
  EXPECT_EQ(ToErrno(s), EIO) << s.ToString();
  EXPECT_TRUE(f.file->Sync(true).ok());
}

TEST_P(CryptFileTest, FullDiskFailsGrowthOfLastBlockBeforeWritingAnything) {
  // With fallocate, a growth that would rewrite the old partial last block
  // reserves first: on a full disk it fails without a single write.
  for (const Change& c : {WriteChange({{0, 5000}}, 12000, 3000), WriteChange({{0, 5000}}, 4500, 2000),
                          AppendChange({{0, 5000}}, 10), TruncateChange({{0, 5000}}, 20000),
                          AllocateChange({{0, 5000}}, 3000, 20000)}) {
    Faulty f = MakeFaulty("reserve-first");
    std::string model;
    c.setup(*f.file, &model);
    const std::string backing_before = Backing(f.path);
    f.io->SetSpaceLimit(backing_before.size());
    const uint64_t writes_before = f.io->calls(FaultyBackingFile::Call::kPwrite);
    Status s = c.op(*f.file);
    EXPECT_EQ(ToErrno(s), ENOSPC) << s.ToString();
    EXPECT_EQ(f.io->calls(FaultyBackingFile::Call::kPwrite), writes_before);
    EXPECT_EQ(Backing(f.path), backing_before);
    unlink(f.path.c_str());
  }
}

// ---- a backing file cut inside a block ------------------------------------

TEST_P(CryptFileTest, FileCutInsideLastBlocksOverheadReadsIntactBlocksAndFailsLastBlock) {
  auto f = Make("cut-in-nonce");
  const std::string data = Pattern(3 * 4096 + 500, 5);
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(format::BackingOffset(3, MakeGeometry()) + 10)), 0);
  // The cut block counts as one byte: a reader reaching it gets an error.
  ASSERT_EQ(*f->Size(), 3 * 4096 + 1u);
  std::string buf(3 * 4096, '\0');
  auto n = f->Read(0, {reinterpret_cast<uint8_t*>(buf.data()), buf.size()});
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(buf, data.substr(0, 3 * 4096));
  std::string rest(100, '\0');
  auto last = f->Read(3 * 4096, {reinterpret_cast<uint8_t*>(rest.data()), rest.size()});
  ASSERT_EQ(last.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(last.status().message().find("block 3"), std::string::npos) << last.status().message();
  std::string all(data.size(), '\0');
  EXPECT_EQ(f->Read(0, {reinterpret_cast<uint8_t*>(all.data()), all.size()}).status().code(), StatusCode::kDataLoss);
}

TEST_P(CryptFileTest, FileCutInsideLastBlocksDataReadsIntactBlocksAndFailsLastBlock) {
  auto f = Make("cut-in-data");
  const std::string data = Pattern(3 * 4096 + 500, 6);
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  const format::Geometry g = MakeGeometry();
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(format::BackingOffset(3, g) + g.overhead + 50)), 0);
  ASSERT_EQ(*f->Size(), 3 * 4096 + 50u);
  std::string buf(4096, '\0');
  auto span = std::span<uint8_t>(reinterpret_cast<uint8_t*>(buf.data()), buf.size());
  for (uint64_t b = 0; b < 3; ++b) {
    ASSERT_TRUE(f->Read(b * 4096, span).ok()) << b;
    EXPECT_EQ(buf, data.substr(b * 4096, 4096));
  }
  EXPECT_EQ(f->Read(3 * 4096, span).status().code(), StatusCode::kDataLoss);
}

TEST_P(CryptFileTest, CutBlockIsNeverResealedButCanBeCutAway) {
  auto f = Make("cut-then-change");
  const std::string data = Pattern(2 * 4096 + 500, 7);
  ASSERT_TRUE(f->Write(0, Bytes(data)).ok());
  const uint64_t cut = format::BackingOffset(2, MakeGeometry()) + 5;
  ASSERT_EQ(truncate(path_.c_str(), static_cast<off_t>(cut)), 0);
  const std::string backing = Backing(path_);
  // Growing needs the cut block's plaintext: refused, nothing written.
  EXPECT_EQ(f->Truncate(3 * 4096).code(), StatusCode::kDataLoss);
  EXPECT_EQ(f->Write(4 * 4096, Bytes("x")).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(f->Allocate(0, 5 * 4096).code(), StatusCode::kDataLoss);
  EXPECT_EQ(Backing(path_).substr(0, backing.size()), backing);
  EXPECT_EQ(Backing(path_).size(), backing.size());
  // Truncating to the intact part makes a whole file again.
  ASSERT_TRUE(f->Truncate(4096 + 10).ok());
  EXPECT_EQ(ReadAll(*f), data.substr(0, 4096 + 10));
}

INSTANTIATE_TEST_SUITE_P(BothSuitesBothHeaderModes, CryptFileTest,
                         ::testing::Values(Layout{crypto::CipherSuite::kAes256Gcm, 0},
                                           Layout{crypto::CipherSuite::kXChaCha20Poly1305, 0},
                                           Layout{crypto::CipherSuite::kAes256Gcm, 512},
                                           Layout{crypto::CipherSuite::kXChaCha20Poly1305, 512}),
                         LayoutName);

}  // namespace
}  // namespace kmsfs::core
