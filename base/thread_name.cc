#include "base/thread_name.h"

#include <pthread.h>

#include <cstring>

namespace kmsfs {

void NameThisThread(const char* name) {
  char cut[16];
  std::strncpy(cut, name, sizeof cut - 1);
  cut[sizeof cut - 1] = '\0';
  // Only a name longer than 15 characters can fail, and it was cut: a
  // failure changes nothing else.
  (void)pthread_setname_np(pthread_self(), cut);
}

}  // namespace kmsfs
