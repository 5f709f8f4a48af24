// kmsd keeps no copy of the secrets it handles once a request is answered:
// DEKs sent in encrypt-datakey and returned by create-datakey and
// decrypt-datakey are looked for in the whole memory of the running kmsd,
// and nothing kmsd prints ever holds a DEK, a token or a password.
//
// Reading another process's memory needs root (kmsd makes itself undumpable).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/server/kms_wire.h"
#include "tests/server/require_root.h"
#include "tests/testutil/bytes.h"

namespace kmsfs::testing {
namespace {

constexpr size_t kPage = 4096;

std::string HexOf(const std::vector<uint8_t>& b, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// Every byte of `pid`'s memory that is in RAM (or swap), in runs of
// consecutive pages; untouched pages (most of 256 thread stacks) are skipped.
class MemoryImage {
 public:
  // false (with the reason in *why) when the memory cannot be read.
  bool Load(pid_t pid, std::string* why) {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::ifstream maps(proc + "/maps");
    int mem = ::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    int pagemap = ::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
    if (!maps || mem < 0 || pagemap < 0) {
      *why = "cannot open " + proc + "/mem or pagemap: " + std::strerror(errno);
      if (mem >= 0) ::close(mem);
      if (pagemap >= 0) ::close(pagemap);
      return false;
    }
    std::string line;
    size_t readable = 0;
    while (std::getline(maps, line)) {
      std::istringstream in(line);
      std::string range, perms;
      in >> range >> perms;
      if (perms.empty() || perms[0] != 'r' || line.find("[vsyscall]") != std::string::npos ||
          line.find("[vvar]") != std::string::npos) {
        continue;
      }
      const uint64_t begin = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
      const uint64_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
      // Terabyte reservations are AddressSanitizer's shadow memory (bytes
      // that describe other bytes, never data): kmsd's own heap and stacks
      // are far smaller.
      constexpr uint64_t kLargestDataMapping = 64ULL << 30;
      if (end - begin > kLargestDataMapping) continue;
      std::string run;
      constexpr uint64_t kEntries = 512;  // pagemap entries read at once
      uint64_t entries[kEntries];
      uint64_t first_entry = 0, have = 0;
      for (uint64_t page = begin; page < end; page += kPage) {
        const uint64_t index = page / kPage;
        if (index >= first_entry + have) {
          first_entry = index;
          const uint64_t want = std::min<uint64_t>(kEntries, (end - page) / kPage);
          const ssize_t n = ::pread(pagemap, entries, want * 8, static_cast<off_t>(index * 8));
          have = n > 0 ? static_cast<uint64_t>(n) / 8 : 0;
        }
        const bool present = index < first_entry + have && (entries[index - first_entry] & (3ULL << 62)) != 0;
        char buf[kPage];
        if (present && ::pread(mem, buf, kPage, static_cast<off_t>(page)) == static_cast<ssize_t>(kPage)) {
          run.append(buf, kPage);
          ++readable;
        } else if (!run.empty()) {
          runs_.push_back(std::move(run));
          run.clear();
        }
      }
      if (!run.empty()) runs_.push_back(std::move(run));
    }
    ::close(mem);
    ::close(pagemap);
    if (readable == 0) {
      *why = "no page of " + proc + "/mem was readable (needs root)";
      return false;
    }
    return true;
  }

  bool Contains(std::string_view needle) const {
    for (const std::string& run : runs_) {
      if (::memmem(run.data(), run.size(), needle.data(), needle.size()) != nullptr) return true;
    }
    return false;
  }

 private:
  std::vector<std::string> runs_;
};

class KmsdSecretHygieneTest : public KmsdTest {
 protected:
  KmsdProcess::Options KmsdOptions() const override {
    KmsdProcess::Options o;
    o.capture_output = true;
    o.cheap_password_hashes = false;  // the users file holds the passwords themselves
    return o;
  }
};

TEST_F(KmsdSecretHygieneTest, NoDataKeyStaysInKmsdMemoryAfterItsRequest) {
  const std::string key = alice_.CreateKey("hygiene");
  std::vector<std::vector<uint8_t>> deks;
  for (int i = 0; i < 20; ++i) {
    std::vector<uint8_t> dek(64);
    for (auto& b : dek) b = static_cast<uint8_t>(std::rand());
    std::vector<uint8_t> file_id(16);
    for (auto& b : file_id) b = static_cast<uint8_t>(std::rand());
    const Json ctx = {{"kmsfs_file_id", HexOf(file_id, false)}};
    const std::string ct = alice_.EncryptDek(key, dek, ctx);
    KmsReply d = alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"},
                                                {"encryption_context", ctx}});
    ASSERT_EQ(d.status, 200) << d.raw;
    ASSERT_EQ(d.body["data_key"], HexOf(dek, true));
    deks.push_back(dek);
    KmsReply c = alice_.Call("create-datakey", {{"key_id", key}, {"datakey_length", "512"}});
    ASSERT_EQ(c.status, 200) << c.raw;
    deks.push_back(testing::Hex(c.body["plain_text"].get<std::string>()));
  }
  KMSD_REQUIRE_ROOT();
  MemoryImage image;
  std::string why;
  ASSERT_TRUE(image.Load(kmsd_->pid(), &why)) << why;
  std::vector<std::string> found;
  for (size_t i = 0; i < deks.size(); ++i) {
    // The hex forms requests and answers carry, and the raw bytes.
    const std::vector<uint8_t>& dek = deks[i];
    const std::string forms[] = {HexOf(dek, true), HexOf(dek, false), std::string(dek.begin(), dek.end())};
    const char* names[] = {"upper-case hex", "lower-case hex", "raw bytes"};
    for (int f = 0; f < 3; ++f) {
      // 32 bytes are as unique as the whole key, and catch partial copies too.
      if (image.Contains(std::string_view(forms[f]).substr(0, 32))) {
        found.push_back(std::string(i % 2 ? "create-datakey" : "encrypt/decrypt-datakey") + " DEK " +
                        std::to_string(i / 2) + " as " + names[f]);
      }
    }
  }
  EXPECT_TRUE(found.empty()) << "copies of DEKs remain in kmsd's memory: " << ::testing::PrintToString(found);
}

TEST_F(KmsdSecretHygieneTest, OutputNeverHoldsADataKeyTokenOrPassword) {
  std::vector<std::string> secrets = {alice_.token(), bob_.token()};
  for (const KmsdUser& u : users_) secrets.push_back(u.password);
  // Logins that fail, with passwords close to the real ones, and tokens that do not work.
  const std::string wrong_password = users_[0].password + "-wrong";
  secrets.push_back(wrong_password);
  KmsdUser wrong = users_[0];
  wrong.password = wrong_password;
  nlohmann::json body = {{"auth",
                          {{"identity",
                            {{"methods", {"password"}},
                             {"password", {{"user", {{"name", wrong.name}, {"password", wrong.password},
                                                     {"domain", {{"name", wrong.domain}}}}}}}}}}}};
  EXPECT_EQ(PostJson(kmsd_->endpoint(), "/v3/auth/tokens", body.dump(), "").status, 401);
  const std::string bogus_token = "bogus-token-" + std::string(40, 'q');
  secrets.push_back(bogus_token);
  KmsWire bogus(kmsd_->endpoint(), users_[0], bogus_token);
  EXPECT_EQ(bogus.Call("list-keys", Json::object()).status, 403);

  const std::string key = alice_.CreateKey("quiet");
  const std::string grant_to_nobody = alice_.GrantTo(key, bob_.user().id, {"decrypt-datakey"});
  for (int i = 0; i < 5; ++i) {
    std::vector<uint8_t> dek(64, static_cast<uint8_t>(0x30 + i));
    const std::string ct = alice_.EncryptDek(key, dek);
    secrets.push_back(HexOf(dek, true));
    EXPECT_EQ(bob_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}})
                  .status,
              200);
    // Garbage that makes the handlers fail in many ways.
    alice_.CallRaw("encrypt-datakey", "{\"key_id\":\"" + key + "\",\"plain_text\":\"" + HexOf(dek, true) + "\"");
    alice_.Call("encrypt-datakey", {{"key_id", key}, {"plain_text", HexOf(dek, true)}, {"datakey_plain_length", "63"}});
    KmsReply c = alice_.Call("create-datakey", {{"key_id", key}});
    secrets.push_back(c.body.value("plain_text", std::string("unused")));
  }
  ASSERT_EQ(kmsd_->Stop(), 0);
  const std::string output = kmsd_->output();
  for (const std::string& secret : secrets) {
    ASSERT_GE(secret.size(), 8u);
    EXPECT_EQ(output.find(secret), std::string::npos) << "kmsd printed a secret:\n" << output;
  }
}

}  // namespace
}  // namespace kmsfs::testing
