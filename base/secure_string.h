// SecureString: a std::string whose heap buffers are wiped before release.
//
// HTTP bodies that carry a DEK (encrypt-datakey requests, create-datakey and
// decrypt-datakey responses) or a password (IAM login) are built and received
// in this type, so neither the final buffer nor any buffer left behind by a
// reallocation keeps the secret after it is freed. Unlike SecretBytes the
// memory is not mlock'd: it is short-lived transport scratch space, and the
// decoded key itself always moves on into SecretBytes.
//
// Strings short enough for the small-string buffer are not covered; every
// body this is used for is far longer.
//
// Thread-safety: a value type, like std::string.
#ifndef KMSFS_BASE_SECURE_STRING_H_
#define KMSFS_BASE_SECURE_STRING_H_

#include <sodium.h>

#include <cstddef>
#include <new>
#include <string>

namespace kmsfs {

template <typename T>
struct WipingAllocator {
  using value_type = T;

  WipingAllocator() = default;
  template <typename U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}  // NOLINT: rebinding

  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept {
    sodium_memzero(p, n * sizeof(T));
    ::operator delete(p);
  }

  template <typename U>
  bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
};

using SecureString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

}  // namespace kmsfs

#endif  // KMSFS_BASE_SECURE_STRING_H_
