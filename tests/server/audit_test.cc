// The audit trail over the wire: every KMS call kmsd answers leaves one line
// in DATA/audit.log before its answer, with caller, action, key, encryption
// context and result and no secret; `kmsd audit verify` and `kmsd audit show`
// read it back.
#include <fstream>

#include "tests/server/kms_wire.h"
#include "tests/server/run_kmsd.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

class KmsdAuditTest : public KmsdTest {
 protected:
  std::string LogPath() const { return kmsd_->data_dir() + "/audit.log"; }
  std::vector<Json> Entries() const {
    std::ifstream in(LogPath());
    std::vector<Json> out;
    for (std::string l; std::getline(in, l);) out.push_back(Json::parse(l));
    return out;
  }
  std::vector<std::string> RawLines() const {
    std::ifstream in(LogPath());
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void SetRawLines(const std::vector<std::string>& lines) const {
    std::ofstream out(LogPath(), std::ios::trunc);
    for (const std::string& l : lines) out << l << "\n";
  }
};

TEST_F(KmsdAuditTest, EveryKmsCallLeavesOneLineBeforeItsAnswer) {
  const size_t before = Entries().size();
  const std::string key = alice_.CreateKey("audited");
  const std::string ct = alice_.EncryptDek(key, Bytes(64, 1), {{"kmsfs_file_id", "00112233"}});
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", "not-a-key"}}), 400, "KMS.0205");
  EXPECT_KMS_ERROR(bob_.Call("describe-key", {{"key_id", key}}), 403, "KMS.0306");
  KmsWire stranger(kmsd_->endpoint(), alice_.user(), "no-such-token");
  EXPECT_KMS_ERROR(stranger.Call("list-keys", Json::object()), 403, "KMS.0302");
  EXPECT_EQ(alice_.Get("user-instances").status, 200);

  const std::vector<Json> all = Entries();
  ASSERT_EQ(all.size(), before + 6);
  const std::vector<Json> e(all.begin() + static_cast<long>(before), all.end());
  EXPECT_EQ(e[0]["action"], "create-key");
  EXPECT_EQ(e[0]["key_id"], key) << "the key the call created";
  EXPECT_EQ(e[0]["result"], "ok");
  EXPECT_EQ(e[0]["user_id"], alice_.user().id);
  EXPECT_EQ(e[0]["user_name"], "alice");
  EXPECT_EQ(e[0]["project_id"], alice_.user().project_id);
  EXPECT_EQ(e[1]["action"], "encrypt-datakey");
  EXPECT_EQ(e[1]["encryption_context"], Json({{"kmsfs_file_id", "00112233"}}));
  EXPECT_EQ(e[1]["http_status"], 200);
  EXPECT_EQ(e[2]["result"], "KMS.0205");
  EXPECT_EQ(e[2]["key_id"], "not-a-key");
  EXPECT_EQ(e[3]["user_name"], "bob");
  EXPECT_EQ(e[3]["result"], "KMS.0306");
  EXPECT_EQ(e[3]["http_status"], 403);
  EXPECT_EQ(e[4]["result"], "KMS.0302");
  EXPECT_EQ(e[4]["user_id"], "") << "no caller is known for a token kmsd does not know";
  EXPECT_EQ(e[5]["action"], "user-instances");
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i]["seq"], before + i + 1);
    EXPECT_EQ(e[i]["source_ip"], "127.0.0.1");
    EXPECT_EQ(e[i]["time"].get<std::string>().size(), 27u);
  }
  // Decrypting by alias records the key id, not the alias.
  ASSERT_EQ(alice_.Call("decrypt-datakey", {{"key_id", "alias/audited"}, {"cipher_text", ct},
                                            {"datakey_cipher_length", "64"},
                                            {"encryption_context", {{"kmsfs_file_id", "00112233"}}}})
                .status,
            200);
  EXPECT_EQ(Entries().back()["key_id"], key);
}

TEST_F(KmsdAuditTest, ARevokedGranteesAttemptsShowUpForTheKey) {
  const std::string key = alice_.CreateKey("shared");
  const std::string ct = alice_.EncryptDek(key, Bytes(64, 2));
  const std::string grant = alice_.GrantTo(key, bob_.user().id, {"decrypt-datakey"});
  const Json decrypt = {{"key_id", key}, {"cipher_text", ct}, {"datakey_cipher_length", "64"}};
  ASSERT_EQ(bob_.Call("decrypt-datakey", decrypt).status, 200);
  ASSERT_EQ(alice_.Call("revoke-grant", {{"key_id", key}, {"grant_id", grant}}).status, 200);
  EXPECT_KMS_ERROR(bob_.Call("decrypt-datakey", decrypt), 403, "KMS.0306");

  RunResult shown = RunKmsd({"audit", "show", "--data", kmsd_->data_dir(), "--key", key});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  std::vector<std::string> bob_lines;
  std::istringstream in(shown.out);
  for (std::string l; std::getline(in, l);) {
    if (l.find("user=bob ") != std::string::npos) bob_lines.push_back(l);
  }
  ASSERT_EQ(bob_lines.size(), 2u) << shown.out;
  EXPECT_NE(bob_lines[0].find("action=decrypt-datakey result=ok"), std::string::npos) << bob_lines[0];
  EXPECT_NE(bob_lines[1].find("action=decrypt-datakey result=KMS.0306"), std::string::npos) << bob_lines[1];
  EXPECT_NE(shown.out.find("user=alice (" + alice_.user().id + ")"), std::string::npos);
  EXPECT_NE(shown.out.find("action=revoke-grant result=ok"), std::string::npos);
  // Another key's use is not listed.
  RunResult other = RunKmsd({"audit", "show", "--data", kmsd_->data_dir(), "--key",
                             "0d0466b0-e727-4d9c-b35d-f84bb474a37f"});
  EXPECT_EQ(other.exit_code, 0);
  EXPECT_EQ(other.out, "");
}

TEST_F(KmsdAuditTest, NoSecretGoesIntoTheLog) {
  const std::string key = alice_.CreateKey("secretive");
  const std::vector<uint8_t> dek = Bytes(64, 7);
  const std::string ct = alice_.EncryptDek(key, dek);
  KmsReply made = alice_.Call("create-datakey", {{"key_id", key}});
  ASSERT_EQ(made.status, 200);
  KmsReply opened = alice_.Call("decrypt-datakey", {{"key_id", key}, {"cipher_text", ct},
                                                    {"datakey_cipher_length", "64"}});
  ASSERT_EQ(opened.status, 200);
  KmsReply sealed = alice_.Call("encrypt-data", {{"key_id", key}, {"plain_text", "top secret words"}});
  ASSERT_EQ(sealed.status, 200);
  const std::string log = ReadFileOrDie(LogPath());
  for (const std::string& secret :
       {DekPlainText(dek).substr(0, 128), made.body["plain_text"].get<std::string>(),
        opened.body["data_key"].get<std::string>(), std::string("top secret words"), alice_.token(),
        users_[0].password, ct, sealed.body["cipher_text"].get<std::string>()}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret.substr(0, 16);
  }
}

TEST_F(KmsdAuditTest, AHostileBodyCannotGrowALineMuch) {
  const std::string key = alice_.CreateKey("bounded");
  Json big_context = Json::object();
  for (int i = 0; i < 200; ++i) big_context["field" + std::to_string(i)] = std::string(40, 'x');
  // Answered or refused (kmsd limits contexts too), the call gets its line.
  const KmsReply wrapped_reply =
      alice_.Call("encrypt-datakey", {{"key_id", key}, {"plain_text", DekPlainText(Bytes(64, 1))},
                                      {"datakey_plain_length", "64"}, {"encryption_context", big_context}});
  ASSERT_NE(wrapped_reply.status, 0) << wrapped_reply.raw;
  EXPECT_KMS_ERROR(alice_.Call("describe-key", {{"key_id", std::string(100000, 'k')}}), 400, "KMS.0205");
  const std::vector<std::string> lines = RawLines();
  ASSERT_GE(lines.size(), 2u);
  for (size_t i = lines.size() - 2; i < lines.size(); ++i) EXPECT_LT(lines[i].size(), 4096u) << i;
  const Json wrapped = Json::parse(lines[lines.size() - 2]);
  EXPECT_EQ(wrapped["encryption_context"], Json({{"omitted", "larger than 2048 bytes"}}));
  EXPECT_EQ(wrapped["key_id"], key);
  EXPECT_EQ(Json::parse(lines.back())["key_id"], "") << "a key reference over 300 characters is not copied";
}

TEST_F(KmsdAuditTest, UnauthenticatedCallsCannotWriteRequestContentToTheLog) {
  const std::string key = alice_.CreateKey("probed");
  KmsWire stranger(kmsd_->endpoint(), alice_.user(), "no-such-token");
  Json context = Json::object();
  for (int i = 0; i < 40; ++i) context["field" + std::to_string(i)] = std::string(40, 'c');
  const std::string chosen_ref(290, 'k');
  EXPECT_KMS_ERROR(stranger.Call("decrypt-datakey", {{"key_id", chosen_ref}, {"encryption_context", context}}),
                   403, "KMS.0302");
  EXPECT_KMS_ERROR(stranger.Call("decrypt-datakey", Json::object()), 403, "KMS.0302");
  EXPECT_KMS_ERROR(stranger.Call("decrypt-datakey", {{"key_id", key}, {"encryption_context", context}}), 403,
                   "KMS.0302");
  const std::vector<std::string> lines = RawLines();
  ASSERT_GE(lines.size(), 3u);
  const std::string& chosen = lines[lines.size() - 3];
  const std::string& empty = lines[lines.size() - 2];
  const Json with_key = Json::parse(lines.back());
  EXPECT_EQ(chosen.find("kkkkkkkk"), std::string::npos) << chosen;
  EXPECT_EQ(chosen.find("cccccccc"), std::string::npos) << chosen;
  EXPECT_EQ(chosen.size(), empty.size()) << "a stranger's line is the same whatever the body says";
  EXPECT_LT(chosen.size(), 600u);
  EXPECT_EQ(with_key["key_id"], key) << "a key id of the key-id format is recorded";
  EXPECT_FALSE(with_key.contains("encryption_context"));
  EXPECT_EQ(with_key["result"], "KMS.0302");
  EXPECT_EQ(with_key["user_id"], "");
}

TEST_F(KmsdAuditTest, VerifyAcceptsTheLogAndFindsTheFirstBrokenLine) {
  for (int i = 0; i < 3; ++i) alice_.CreateKey("verify-" + std::to_string(i));
  RunResult ok = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find(" entries, chain intact, head "), std::string::npos) << ok.out;

  kmsd_->Stop();
  const std::vector<std::string> lines = RawLines();
  ASSERT_GE(lines.size(), 3u);
  std::vector<std::string> edited = lines;
  edited[1].replace(edited[1].find("\"ok\""), 4, "\"no\"");
  SetRawLines(edited);
  RunResult broken = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("is broken at line 2: "), std::string::npos) << broken.err;

  std::vector<std::string> removed = lines;
  removed.erase(removed.begin() + 1);
  SetRawLines(removed);
  broken = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("is broken at line 2: seq 3 where 2 was due"), std::string::npos) << broken.err;

  std::vector<std::string> swapped = lines;
  std::swap(swapped[0], swapped[2]);
  SetRawLines(swapped);
  broken = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("is broken at line 1: "), std::string::npos) << broken.err;
}

TEST_F(KmsdAuditTest, AKilledKmsdLeavesALogVerifyAcceptsAndTheChainGoesOn) {
  alice_.CreateKey("before-kill");
  kmsd_->Kill();
  // SIGKILL inside the write of a line leaves part of it without a newline.
  const std::vector<std::string> lines = RawLines();
  ASSERT_FALSE(lines.empty());
  {
    std::ofstream out(LogPath(), std::ios::app);
    out << lines.back().substr(0, lines.back().size() / 2);
  }
  RunResult torn = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(torn.exit_code, 0) << torn.err;
  EXPECT_NE(torn.out.find(std::to_string(lines.size()) + " entries, chain intact"), std::string::npos) << torn.out;
  EXPECT_NE(torn.err.find("never finished writing"), std::string::npos) << torn.err;

  ASSERT_TRUE(kmsd_->Restart());
  RefreshEndpoints();
  alice_.CreateKey("after-kill");
  RunResult ok = RunKmsd({"audit", "verify", "--data", kmsd_->data_dir()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find(std::to_string(lines.size() + 1) + " entries, chain intact"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.err, "");
}

TEST(KmsdAuditCliTest, BadArgumentsExitTwoWithOneLine) {
  TempDir dir;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"audit"}, {"audit", "frobnicate"}, {"audit", "verify"},
        {"audit", "show", "--data", dir.path()}, {"audit", "verify", "--data", dir.Join("missing")},
        {"audit", "verify", "--data", dir.path(), "--key", "k"}, {"audit", "verify", "--data"}}) {
    RunResult r = RunKmsd(args);
    EXPECT_EQ(r.exit_code, 2) << args.size();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  RunResult help = RunKmsd({"--help"});
  EXPECT_NE(help.out.find("kmsd audit verify --data DIR"), std::string::npos);
  EXPECT_NE(help.out.find("kmsd audit show --data DIR --key KEY_ID"), std::string::npos);
  RunResult empty = RunKmsd({"audit", "verify", "--data", dir.path()});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_NE(empty.out.find("0 entries, chain intact"), std::string::npos) << empty.out;
}

}  // namespace
}  // namespace kmsfs::testing
