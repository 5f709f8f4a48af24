#include "fs/format/offsets.h"

#include <string>

namespace kmsfs::format {

StatusOr<uint64_t> PlainSize(uint64_t backing_size, const Geometry& g) {
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

uint64_t VisiblePlainSize(uint64_t backing_size, const Geometry& g) {
  const uint64_t sealed = g.sealed_block_size();
  const uint64_t full = backing_size / sealed;
  const uint64_t rem = backing_size % sealed;
  if (rem == 0) return full * g.block_size;
  return full * g.block_size + (rem > g.overhead ? rem - g.overhead : 1);
}

uint64_t BackingSize(uint64_t plain_size, const Geometry& g) {
  const uint64_t full = plain_size / g.block_size;
  const uint64_t rem = plain_size % g.block_size;
  return full * g.sealed_block_size() + (rem == 0 ? 0 : rem + g.overhead);
}

}  // namespace kmsfs::format
