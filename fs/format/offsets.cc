#include "fs/format/offsets.h"

#include <string>

namespace kmsfs::format {

StatusOr<uint64_t> PlainSize(uint64_t backing_file_size, const Geometry& g) {
  if (backing_file_size < g.data_offset) {
    return Status::DataLoss("backing file of " + std::to_string(backing_file_size) +
                            " bytes is shorter than its " + std::to_string(g.data_offset) + "-byte header region");
  }
  const uint64_t backing_size = backing_file_size - g.data_offset;
  const uint64_t sealed = g.sealed_block_size();
  const uint64_t full = backing_size / sealed;
  const uint64_t rem = backing_size % sealed;
  if (rem == 0) return full * g.block_size;
  if (rem <= g.overhead) {
    return Status::DataLoss("impossible backing size " + std::to_string(backing_size) +
                            ": trailing partial block of " + std::to_string(rem) +
                            " bytes holds no data (per-block overhead " +
                            std::to_string(g.overhead) + ")");
  }
  return full * g.block_size + (rem - g.overhead);
}

uint64_t VisiblePlainSize(uint64_t backing_file_size, const Geometry& g) {
  if (backing_file_size < g.data_offset) return 0;
  const uint64_t backing_size = backing_file_size - g.data_offset;
  const uint64_t sealed = g.sealed_block_size();
  const uint64_t full = backing_size / sealed;
  const uint64_t rem = backing_size % sealed;
  if (rem == 0) return full * g.block_size;
  return full * g.block_size + (rem > g.overhead ? rem - g.overhead : 1);
}

uint64_t SealedSize(uint64_t plain_len, const Geometry& g) {
  const uint64_t full = plain_len / g.block_size;
  const uint64_t rem = plain_len % g.block_size;
  return full * g.sealed_block_size() + (rem == 0 ? 0 : rem + g.overhead);
}

uint64_t BackingSize(uint64_t plain_size, const Geometry& g) { return g.data_offset + SealedSize(plain_size, g); }

}  // namespace kmsfs::format
