// ScriptedRandom: a crypto::RandomSource that hands out the draws a test
// lists, in order, so a test can make a nonce draw all zero (or anything it
// likes) and see what a seal does with it. After the script it fails.
//
// Thread-safety: none; one test thread.
#ifndef KMSFS_TESTS_TESTUTIL_SCRIPTED_RANDOM_H_
#define KMSFS_TESTS_TESTUTIL_SCRIPTED_RANDOM_H_

#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "crypto/nonce_source.h"

namespace kmsfs::testing {

class ScriptedRandom final : public crypto::RandomSource {
 public:
  // Each draw must be as long as the request it answers.
  explicit ScriptedRandom(std::vector<std::vector<uint8_t>> draws) : draws_(draws.begin(), draws.end()) {}

  Status Fill(std::span<uint8_t> out) override {
    ++calls_;
    if (draws_.empty()) return Status::Internal("scripted random source ran out");
    const std::vector<uint8_t> draw = std::move(draws_.front());
    draws_.pop_front();
    if (draw.size() != out.size()) {
      return Status::Internal("scripted draw of " + std::to_string(draw.size()) + " bytes for a request of " +
                              std::to_string(out.size()));
    }
    std::memcpy(out.data(), draw.data(), out.size());
    return Status::Ok();
  }

  int calls() const { return calls_; }
  size_t left() const { return draws_.size(); }

 private:
  std::deque<std::vector<uint8_t>> draws_;
  int calls_ = 0;
};

// n bytes counting up from `first` (never all zero for first != 0).
inline std::vector<uint8_t> CountingBytes(size_t n, uint8_t first) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(first + i);
  return v;
}

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_SCRIPTED_RANDOM_H_
