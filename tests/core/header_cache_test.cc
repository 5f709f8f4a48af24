// HeaderCache: a header is found only for the same inode with the same
// times and size; Forget and the capacity bound drop entries.
#include "fs/core/header_cache.h"

#include <gtest/gtest.h>

namespace kmsfs::core {
namespace {

struct stat Stat(ino_t ino, long ctime_ns = 1, long mtime_ns = 1, off_t size = 100) {
  struct stat st {};
  st.st_dev = 7;
  st.st_ino = ino;
  st.st_ctim = {1000, ctime_ns};
  st.st_mtim = {1000, mtime_ns};
  st.st_size = size;
  return st;
}

format::FileHeader Header(uint8_t tag) {
  format::FileHeader h;
  h.file_id.fill(tag);
  h.key_id = "key";
  h.wrapped_dek = std::string(376, 'A');
  return h;
}

TEST(HeaderCacheTest, FindsTheHeaderOfAnUnchangedFile) {
  HeaderCache cache(8);
  cache.Put(Stat(1), Header(1));
  auto found = cache.Find(Stat(1));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, Header(1));
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_FALSE(cache.Find(Stat(2)).has_value()) << "another inode";
  EXPECT_TRUE(cache.Current(Stat(1)));
  EXPECT_FALSE(cache.Current(Stat(1, 9)));
  EXPECT_TRUE(cache.Current(Stat(1))) << "Current keeps a stale-looking query from dropping the entry";
  EXPECT_EQ(cache.stats().hits, 1u) << "Current is not a hit";
}

TEST(HeaderCacheTest, AnyChangeOfTimesOrSizeMissesAndDropsTheEntry) {
  HeaderCache cache(8);
  for (const struct stat& changed : {Stat(1, 2), Stat(1, 1, 2), Stat(1, 1, 1, 101)}) {
    cache.Put(Stat(1), Header(1));
    EXPECT_FALSE(cache.Find(changed).has_value());
    EXPECT_FALSE(cache.Find(Stat(1)).has_value()) << "a stale entry is dropped, not kept for later";
  }
  struct stat other_dev = Stat(1);
  other_dev.st_dev = 8;
  cache.Put(Stat(1), Header(1));
  EXPECT_FALSE(cache.Find(other_dev).has_value());
  EXPECT_EQ(cache.stats().hits, 0u);
}

TEST(HeaderCacheTest, PutReplacesAndForgetDrops) {
  HeaderCache cache(8);
  cache.Put(Stat(1), Header(1));
  cache.Put(Stat(1, 5), Header(2));
  EXPECT_FALSE(cache.Find(Stat(1)).has_value());
  cache.Put(Stat(1, 5), Header(2));
  EXPECT_EQ(*cache.Find(Stat(1, 5)), Header(2));
  cache.Forget(7, 1);
  EXPECT_FALSE(cache.Find(Stat(1, 5)).has_value());
  cache.Forget(7, 99);  // unknown: no effect
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(HeaderCacheTest, KeepsAtMostCapacityDroppingTheLeastRecentlyUsed) {
  HeaderCache cache(3);
  for (ino_t i = 1; i <= 3; ++i) cache.Put(Stat(i), Header(static_cast<uint8_t>(i)));
  ASSERT_TRUE(cache.Find(Stat(1)).has_value());  // 1 is now the most recent
  cache.Put(Stat(4), Header(4));
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_FALSE(cache.Find(Stat(2)).has_value()) << "2 was the least recently used";
  EXPECT_TRUE(cache.Find(Stat(1)).has_value());
  EXPECT_TRUE(cache.Find(Stat(3)).has_value());
  EXPECT_TRUE(cache.Find(Stat(4)).has_value());
}

TEST(HeaderCacheTest, CapacityZeroKeepsNothing) {
  HeaderCache cache(0);
  cache.Put(Stat(1), Header(1));
  EXPECT_FALSE(cache.Find(Stat(1)).has_value());
  EXPECT_EQ(cache.stats().entries, 0u);
}

}  // namespace
}  // namespace kmsfs::core
