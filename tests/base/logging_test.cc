#include "base/logging.h"

#include <gtest/gtest.h>

#include <string>

namespace kmsfs {
namespace {

// Backing names are hostile: a name holding a newline must not let one log
// call write a second line of its choosing.
TEST(LoggingTest, ControlBytesAreEscapedSoOneCallIsOneLine) {
  EXPECT_EQ(OneLine("skipped 'a\nssh-ed25519 AAAA attacker'"), "skipped 'a\\x0assh-ed25519 AAAA attacker'");
  EXPECT_EQ(OneLine("\r\t\x1b[31m\x7f"), "\\x0d\\x09\\x1b[31m\\x7f");
  EXPECT_EQ(OneLine(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(OneLine("plain text, UTF-8 \xc3\xa9 kept"), "plain text, UTF-8 \xc3\xa9 kept");
}

}  // namespace
}  // namespace kmsfs
