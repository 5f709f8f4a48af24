#include "fs/cli/argv_secrets.h"

#include <cstring>
#include <string_view>

namespace kmsfs::cli {
namespace {

constexpr std::string_view kToken = "--token";
constexpr std::string_view kPassword = "--password";

// Overwrites a secret in argv's own memory; its length stays, as '*'s.
void Scrub(char* text) { std::memset(text, '*', std::strlen(text)); }

bool IsFlagWithInlineValue(std::string_view word, std::string_view flag) {
  return word.size() > flag.size() && word.substr(0, flag.size()) == flag && word[flag.size()] == '=';
}

}  // namespace

StatusOr<CommandLine> TakeSecretsFromArgv(int argc, char** argv) {
  CommandLine out;
  Status refusal;
  bool positional_only = false;
  for (int i = 1; i < argc; ++i) {
    char* word = argv[i];
    const std::string_view w(word);
    if (positional_only) {
      out.words.emplace_back(w);
      continue;
    }
    if (w == "--") {
      positional_only = true;
      out.words.emplace_back(w);
      continue;
    }
    if (w == kToken || IsFlagWithInlineValue(w, kToken)) {
      char* value = nullptr;
      if (w == kToken) {
        if (i + 1 < argc) value = argv[++i];
      } else {
        value = word + kToken.size() + 1;
      }
      if (value == nullptr || value[0] == '\0') {
        if (refusal.ok()) {
          refusal = Status::InvalidArgument("flag --token needs a value (better: set OS_AUTH_TOKEN or use "
                                            "--credentials FILE, which keep it out of the process list)");
        }
        continue;
      }
      out.token = SecretBytes::CopyFrom({reinterpret_cast<const uint8_t*>(value), std::strlen(value)});
      Scrub(value);
      continue;
    }
    if (w == kPassword || IsFlagWithInlineValue(w, kPassword)) {
      if (w == kPassword) {
        if (i + 1 < argc) Scrub(argv[++i]);
      } else {
        Scrub(word + kPassword.size() + 1);
      }
      if (refusal.ok()) {
        refusal = Status::InvalidArgument(
            "a password is never taken from the command line (others can read it there): use --password-file FILE, "
            "OS_PASSWORD or a credentials file (--credentials FILE)");
      }
      continue;
    }
    out.words.emplace_back(w);
  }
  if (!refusal.ok()) return refusal;
  return out;
}

}  // namespace kmsfs::cli
