// Issue 18: "a planted header under a foreign key; a swapped .kmsfs.json; a
// planted duplicate file id". Alice owns a volume; bob is another KMS user
// who can write her backing directory. Whatever bob plants there, alice's
// credentials never act on bob's key for her, her mount never takes bob's
// config, and her files are never sealed under a DEK bob knows.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/hex.h"
#include "base/secret_bytes.h"
#include "fs/format/block_codec.h"
#include "fs/format/offsets.h"
#include "fs/format/volume_config.h"
#include "tests/integration/kms_as_user.h"
#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_mount_test.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;

class VolumeSubstitutionTest : public KmsdMountTest {
 protected:
  void SetUp() override {
    KmsdMountTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    alice_ = DefaultTestUsers()[0];
    bob_ = DefaultTestUsers()[1];
    carol_ = DefaultTestUsers()[2];
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.user = alice_;
    o.init_args = {"--plaintext-names"};
    alice_vol_ = MountedVolume::Start(o);
    ASSERT_NE(alice_vol_, nullptr);
  }

  // A volume of bob's, with his own key, somewhere else.
  std::unique_ptr<MountedVolume> BobsVolume(bool mount) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.user = bob_;
    o.init_args = {"--plaintext-names"};
    o.mount = mount;
    return MountedVolume::Start(o);
  }

  CommandResult AsAlice(std::vector<std::string> args) { return RunKmsfs(args, alice_vol_->Env()); }

  // Grant ids on `key_id` as its owner sees them, with their grantees.
  std::vector<std::pair<std::string, std::string>> GrantsOn(const KmsdUser& owner, const std::string& key_id) {
    KmsAsUser as_owner(*kmsd_, owner);
    auto [status, reply] = as_owner.Call("list-grants", {{"key_id", key_id}});
    EXPECT_EQ(status, 200) << reply.dump();
    std::vector<std::pair<std::string, std::string>> out;
    if (status != 200 || !reply.contains("grants")) return out;
    for (const auto& g : reply["grants"]) out.emplace_back(g.value("grant_id", ""), g.value("grantee_principal", ""));
    return out;
  }

  // Alice writes "mine" and unmounts; she gives bob a read grant on her key;
  // bob's own volume (unmounted again) holds "bait". Null on any failure.
  std::unique_ptr<MountedVolume> AliceGrantsBobReadAndBobWritesBait() {
    WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
    if (!alice_vol_->Unmount()) return nullptr;
    CommandResult g = AsAlice({"grant", "create", alice_vol_->backing_dir(), "--grantee", bob_.id, "--access", "read"});
    EXPECT_EQ(g.exit_code, 0) << g.err;
    auto bob = BobsVolume(true);
    if (g.exit_code != 0 || bob == nullptr) return nullptr;
    WriteFileOrDie(bob->Path("bait"), "bob's content, which alice would take for her own");
    if (!bob->Unmount()) return nullptr;
    return bob;
  }

  // Bob, holding a read grant on alice's key and write access to her backing
  // directory, unwraps her volume key and writes a config (MAC and all) that
  // names `target_key` as a rewrap target, with `target_volume_key` (her
  // volume key when empty) wrapped for it. Returns her volume key.
  std::vector<uint8_t> PlantRewrapTarget(const std::string& target_key, std::vector<uint8_t> target_volume_key = {}) {
    auto config = format::VolumeConfig::Load(alice_vol_->backing_dir());
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) return {};
    KmsAsUser as_bob(*kmsd_, bob_);
    const nlohmann::json volume_context = {{"kmsfs_volume_id", format::VolumeIdHex(config->volume_id)}};
    auto [status, reply] = as_bob.Call("decrypt-datakey", {{"key_id", config->key_id},
                                                           {"cipher_text", config->wrapped_volume_key},
                                                           {"datakey_cipher_length", "32"},
                                                           {"encryption_context", volume_context}});
    EXPECT_EQ(status, 200) << reply.dump();
    auto decoded = HexDecode(reply.value("data_key", ""));
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return {};
    const std::vector<uint8_t> volume_key = std::move(decoded).value();
    if (target_volume_key.empty()) target_volume_key = volume_key;
    format::VolumeConfig forged = *config;
    forged.rewrap =
        format::VolumeConfig::Rewrap{target_key, as_bob.WrapKey(target_key, target_volume_key, volume_context)};
    EXPECT_TRUE(forged.Seal(SecretBytes::CopyFrom(volume_key)).ok());
    EXPECT_TRUE(forged.Store(alice_vol_->backing_dir()).ok());
    return volume_key;
  }

  KmsdUser alice_, bob_, carol_;
  std::unique_ptr<MountedVolume> alice_vol_;
};

TEST_F(VolumeSubstitutionTest, FsckNamesAForeignHeaderWithBothKeys) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  auto bob = BobsVolume(true);
  ASSERT_NE(bob, nullptr);
  WriteFileOrDie(bob->Path("bobs"), "bob's file");
  ASSERT_TRUE(bob->Unmount());
  ASSERT_TRUE(alice_vol_->Unmount());
  stdfs::copy_file(bob->BackingPath("bobs"), alice_vol_->BackingPath("planted"));
  auto header = ReadBackingHeader(bob->BackingPath("bobs"));
  ASSERT_TRUE(header.has_value());
  ASSERT_TRUE(WriteBackingHeader(alice_vol_->BackingPath("planted"), *header));

  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--quick"}}) {
    std::vector<std::string> args = {"fsck", alice_vol_->backing_dir()};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = AsAlice(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("planted: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("a foreign header"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(bob->key_id()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(alice_vol_->key_id()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 problem"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("mine:"), std::string::npos) << r.out;
  }
}

// Bob gave alice decrypt and encrypt on his key (so a config of his unwraps
// with her credentials and its MAC verifies), then replaced her .kmsfs.json
// with his own. Only her pin stands in the way, and it does.
TEST_F(VolumeSubstitutionTest, ASwappedConfigUnderAKeyAliceMayUseIsRefusedEverywhere) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  ASSERT_TRUE(alice_vol_->Unmount());
  auto bob = BobsVolume(false);
  ASSERT_NE(bob, nullptr);
  CommandResult g = RunKmsfs({"grant", "create", bob->backing_dir(), "--grantee", alice_.id, "--access", "write"},
                             bob->Env());
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const std::string alices_header_key = ReadBackingHeader(alice_vol_->BackingPath("mine"))->key_id;
  stdfs::copy_file(bob->BackingPath(".kmsfs.json"), alice_vol_->BackingPath(".kmsfs.json"),
                   stdfs::copy_options::overwrite_existing);

  CommandResult r = alice_vol_->Mount();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(alice_vol_->key_id()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(bob->key_id()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--accept-key"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  EXPECT_FALSE(alice_vol_->mounted());
  // Accepting a key the config does not name changes nothing.
  EXPECT_EQ(alice_vol_->Mount({"--accept-key", alice_vol_->key_id()}).exit_code, 1);

  r = AsAlice({"fsck", alice_vol_->backing_dir(), "--quick"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(".kmsfs.json"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--accept-key"), std::string::npos) << r.out;

  r = AsAlice({"rewrap", alice_vol_->backing_dir(), "--to-key", bob->key_id()});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(ReadBackingHeader(alice_vol_->BackingPath("mine"))->key_id, alices_header_key);

  // A grant made now acts on the key alice pinned, never on bob's.
  const auto bobs_grants_before = GrantsOn(bob_, bob->key_id());
  r = AsAlice({"grant", "create", alice_vol_->backing_dir(), "--grantee", carol_.id, "--access", "read"});
  const auto bobs_grants = GrantsOn(bob_, bob->key_id());
  EXPECT_EQ(bobs_grants, bobs_grants_before) << "a grant landed on bob's key";
  const auto alices_grants = GrantsOn(alice_, alice_vol_->key_id());
  if (r.exit_code == 0) {
    ASSERT_EQ(alices_grants.size(), 1u);
    EXPECT_EQ(alices_grants[0].first, TrimTrailing(r.out));
    EXPECT_EQ(alices_grants[0].second, carol_.id);
  } else {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("--accept-key"), std::string::npos) << r.err;
    EXPECT_TRUE(alices_grants.empty());
  }
  r = AsAlice({"grant", "list", alice_vol_->backing_dir()});
  EXPECT_EQ(r.out.find(bob->key_id()), std::string::npos) << r.out;
}

// Bob rewrites alice's config so that the volume's key is his and alice's
// pinned key appears only as the target of a rewrap in progress, with a
// volume key of his own wrapped under his key (which alice may use) and a
// MAC made with it. The pin must pin the key new files are wrapped under:
// a mount that accepted this would seal alice's new files under bob's key.
TEST_F(VolumeSubstitutionTest, AConfigNamingThePinnedKeyOnlyAsItsRewrapTargetIsRefused) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  ASSERT_TRUE(alice_vol_->Unmount());
  auto bob = BobsVolume(false);
  ASSERT_NE(bob, nullptr);
  CommandResult g = RunKmsfs({"grant", "create", bob->backing_dir(), "--grantee", alice_.id, "--access", "write"},
                             bob->Env());
  ASSERT_EQ(g.exit_code, 0) << g.err;

  auto config = format::VolumeConfig::Load(alice_vol_->backing_dir());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->version, 2);
  std::vector<uint8_t> bobs_volume_key(format::kVolumeKeySize, 0x5b);
  KmsAsUser as_bob(*kmsd_, bob_);
  format::VolumeConfig forged = *config;
  forged.rewrap = format::VolumeConfig::Rewrap{alice_vol_->key_id(), config->wrapped_volume_key};
  forged.key_id = bob->key_id();
  forged.wrapped_volume_key =
      as_bob.WrapKey(bob->key_id(), bobs_volume_key, {{"kmsfs_volume_id", format::VolumeIdHex(config->volume_id)}});
  ASSERT_FALSE(forged.wrapped_volume_key.empty());
  ASSERT_TRUE(forged.Seal(SecretBytes::CopyFrom(bobs_volume_key)).ok());
  ASSERT_TRUE(forged.Store(alice_vol_->backing_dir()).ok());

  CommandResult r = alice_vol_->Mount();
  if (r.exit_code == 0) {
    WriteFileOrDie(alice_vol_->Path("new"), "alice's new file");
    ASSERT_TRUE(alice_vol_->Unmount());
    const auto header = ReadBackingHeader(alice_vol_->BackingPath("new"));
    ASSERT_TRUE(header.has_value());
    ADD_FAILURE() << "alice's mount took the config; her new file's DEK is wrapped under key " << header->key_id
                  << (header->key_id == bob->key_id() ? " (bob's)" : "");
  }
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--accept-key"), std::string::npos) << r.err;
  r = AsAlice({"fsck", alice_vol_->backing_dir(), "--quick"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
}

// Bob holds only a read grant on alice's key, and can write her backing
// directory. Reading gives him her volume key, so he can re-MAC a config
// that names a key of his as a rewrap target, and plant a file whose header
// is under his key. Alice's mount and fsck treat that header as foreign:
// a rewrap target is trusted only when her own pin names it.
TEST_F(VolumeSubstitutionTest, ARewrapTargetAReadGranteeWroteIntoTheConfigIsNotTrusted) {
  auto bob = AliceGrantsBobReadAndBobWritesBait();
  ASSERT_NE(bob, nullptr);

  ASSERT_FALSE(PlantRewrapTarget(bob->key_id()).empty());
  stdfs::copy_file(bob->BackingPath("bait"), alice_vol_->BackingPath("planted"));
  auto header = ReadBackingHeader(bob->BackingPath("bait"));
  ASSERT_TRUE(header.has_value());
  ASSERT_TRUE(WriteBackingHeader(alice_vol_->BackingPath("planted"), *header));

  ASSERT_EQ(alice_vol_->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(alice_vol_->Path("mine")), "alice's file");
  const int fd = open(alice_vol_->Path("planted").c_str(), O_RDWR | O_CLOEXEC);
  const int err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  EXPECT_EQ(err, EIO) << "alice's mount opened a file under bob's key";
  ASSERT_TRUE(alice_vol_->Unmount());
  CommandResult r = AsAlice({"fsck", alice_vol_->backing_dir(), "--quick"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("planted: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a foreign header"), std::string::npos) << r.out;
}

// The same planted target must not steer `kmsfs rewrap` either: alice's
// rewrap to a key of her choice is refused without naming bob's key as the
// way out; naming it takes --accept-key as well; and a target whose wrapped
// volume key is not this volume's key is refused even then. Nothing moves.
TEST_F(VolumeSubstitutionTest, ARewrapTargetAReadGranteeWroteIntoTheConfigIsNeitherSuggestedNorAdopted) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  ASSERT_TRUE(alice_vol_->Unmount());
  CommandResult g = AsAlice({"grant", "create", alice_vol_->backing_dir(), "--grantee", bob_.id, "--access", "read"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto bob = BobsVolume(false);
  ASSERT_NE(bob, nullptr);
  const std::string alices_key = format::VolumeConfig::Load(alice_vol_->backing_dir())->key_id;
  ASSERT_FALSE(PlantRewrapTarget(bob->key_id()).empty());

  CommandResult r = AsAlice({"rewrap", alice_vol_->backing_dir(), "--to-key", alices_key});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err.find(bob->key_id()), std::string::npos) << "the refusal steers alice to bob's key: " << r.err;
  r = AsAlice({"rewrap", alice_vol_->backing_dir(), "--to-key", bob->key_id()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("--accept-key"), std::string::npos) << r.err;

  // With her explicit word, a target that would lose the volume key is still refused.
  ASSERT_FALSE(PlantRewrapTarget(bob->key_id(), std::vector<uint8_t>(32, 0x5a)).empty());
  r = AsAlice({"rewrap", alice_vol_->backing_dir(), "--to-key", bob->key_id(), "--accept-key", bob->key_id()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not this volume's key"), std::string::npos) << r.err;

  auto after = format::VolumeConfig::Load(alice_vol_->backing_dir());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->key_id, alices_key);
  ASSERT_EQ(alice_vol_->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(alice_vol_->Path("mine")), "alice's file");
  auto header = ReadBackingHeader(alice_vol_->BackingPath("mine"));
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->key_id, alices_key) << "a file was moved to bob's key";
}

// Nor `kmsfs headers import`: a header under the planted target, listed in
// an export for a file without one, is a foreign header even where alice may
// use that key (bob granted it to her), and gets no place on the file.
TEST_F(VolumeSubstitutionTest, HeadersImportTreatsAHeaderUnderAnUntrustedRewrapTargetAsForeign) {
  auto bob = AliceGrantsBobReadAndBobWritesBait();
  ASSERT_NE(bob, nullptr);
  CommandResult g =
      RunKmsfs({"grant", "create", bob->backing_dir(), "--grantee", alice_.id, "--access", "read"}, bob->Env());
  ASSERT_EQ(g.exit_code, 0) << g.err;

  const std::string exported = alice_vol_->BackingPath("../alice.headers");
  CommandResult r = AsAlice({"headers", "export", alice_vol_->backing_dir(), exported});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The bait's data without its xattr, and its header listed in the export.
  stdfs::copy_file(bob->BackingPath("bait"), alice_vol_->BackingPath("planted"));
  auto header = ReadBackingHeader(bob->BackingPath("bait"));
  ASSERT_TRUE(header.has_value());
  std::vector<uint8_t> raw(4096);
  const ssize_t n = getxattr(bob->BackingPath("bait").c_str(), "user.kmsfs", raw.data(), raw.size());
  ASSERT_GT(n, 0);
  raw.resize(static_cast<size_t>(n));
  {
    std::ofstream out(exported, std::ios::app);
    out << nlohmann::json{{"file", "planted"}, {"file_id", format::FileIdHex(header->file_id)}, {"header", HexEncode(raw)}}
               .dump()
        << "\n";
  }
  ASSERT_FALSE(PlantRewrapTarget(bob->key_id()).empty());

  r = AsAlice({"headers", "import", alice_vol_->backing_dir(), exported});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("planted"), std::string::npos) << r.out;
  EXPECT_LT(getxattr(alice_vol_->BackingPath("planted").c_str(), "user.kmsfs", nullptr, 0), 0)
      << "the import put a header under bob's key on a file of alice's volume";
}

// A version 1 .kmsfs.json has no MAC: a writer with no KMS rights makes one
// from any file's header (its wrapped DEK serves as the canary). Over a
// volume this user pinned as version 2 it is refused, --accept-key or not.
TEST_F(VolumeSubstitutionTest, AVersion1ConfigOverAPinnedVersion2VolumeIsRefusedEvenWithAcceptKey) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  ASSERT_TRUE(alice_vol_->Unmount());
  auto config = format::VolumeConfig::Load(alice_vol_->backing_dir());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto header = ReadBackingHeader(alice_vol_->BackingPath("mine"));
  ASSERT_TRUE(header.has_value());
  nlohmann::json v1 = {{"format", "kmsfs"},
                       {"version", 1},
                       {"key_id", config->key_id},
                       {"project_id", config->project_id},
                       {"cipher_suite", "AES-256-GCM"},
                       {"block_size", 4096},
                       {"created", "2026-01-01T00:00:00Z"},
                       {"canary", {{"file_id", format::FileIdHex(header->file_id)}, {"wrapped_dek", header->wrapped_dek}}}};
  WriteFileOrDie(alice_vol_->BackingPath(".kmsfs.json"), v1.dump(2) + "\n");
  ASSERT_TRUE(format::VolumeConfig::Load(alice_vol_->backing_dir()).ok()) << "the forged v1 config does not parse";
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--accept-key", config->key_id}}) {
    CommandResult r = alice_vol_->Mount(extra);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(alice_vol_->mounted());
    EXPECT_NE(r.err.find("version 1"), std::string::npos) << r.err;
    if (alice_vol_->mounted()) {
      ASSERT_TRUE(alice_vol_->Unmount());
    }
  }
}

// Fields of a version 2 config edited by someone without the volume key:
// the MAC fails, with the pin and on a machine that never pinned it.
TEST_F(VolumeSubstitutionTest, AnEditedConfigFailsItsMacAtMountAndFsck) {
  WriteFileOrDie(alice_vol_->Path("mine"), "alice's file");
  ASSERT_TRUE(alice_vol_->Unmount());
  const std::string path = alice_vol_->BackingPath(".kmsfs.json");
  const std::string original = ReadFileOrDie(path);
  auto bob = BobsVolume(false);
  ASSERT_NE(bob, nullptr);
  TempDir other_machine;
  ASSERT_EQ(mkdir(other_machine.Join("mnt").c_str(), 0755), 0);
  struct Edit {
    std::string field;
    nlohmann::json value;
  };
  const std::vector<Edit> edits = {{"block_size", 8192},           {"names", "encrypted"},
                                   {"cipher_suite", "XChaCha20-Poly1305"}, {"header", "inline"},
                                   {"created", "2020-01-01T00:00:00Z"},    {"key_id", bob->key_id()}};
  for (const Edit& e : edits) {
    SCOPED_TRACE(e.field);
    nlohmann::json j = nlohmann::json::parse(original);
    ASSERT_TRUE(j.contains(e.field));
    ASSERT_NE(j[e.field], e.value);
    j[e.field] = e.value;
    WriteFileOrDie(path, j.dump(2) + "\n");

    CommandResult r = alice_vol_->Mount();
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(alice_vol_->mounted());
    if (e.field != "key_id") {
      EXPECT_NE(r.err.find("fails its MAC"), std::string::npos) << r.err;
    }
    r = AsAlice({"fsck", alice_vol_->backing_dir(), "--quick"});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find(".kmsfs.json: "), std::string::npos) << r.out;

    // Alice on a machine with no pin yet: trust on first use still checks the MAC.
    auto env = alice_vol_->Env();
    env["KMSFS_PINS_FILE"] = other_machine.Join("pins-" + e.field + ".json");
    r = RunKmsfs({"mount", alice_vol_->backing_dir(), other_machine.Join("mnt"), "--log-file",
                  other_machine.Join("log")},
                 env);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    if (r.exit_code == 0) RunCommand({"/bin/fusermount3", "-u", other_machine.Join("mnt")});
    const std::string pins = ReadFile(env["KMSFS_PINS_FILE"]);
    EXPECT_EQ(pins.find(alice_vol_->backing_dir()), std::string::npos) << "a config that failed its check was pinned";
  }
  WriteFileOrDie(path, original);
  ASSERT_EQ(alice_vol_->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(alice_vol_->Path("mine")), "alice's file");
}

// Bob, a writer with a write grant on alice's key, plants files whose
// headers copy the file id of alice's file: one with a DEK he chose wrapped
// under alice's key (so it opens), one under his own key (refused). After
// alice's mount has opened both, her writes to her real file are still
// sealed under her file's own DEK: the DEK cache is keyed by the whole
// header, not by the file id.
TEST_F(VolumeSubstitutionTest, APlantedDuplicateFileIdNeverLendsItsDekToTheRealFile) {
  const std::string original = Pattern(3 * 4096, 1);
  WriteFileOrDie(alice_vol_->Path("real"), original);
  CommandResult g = AsAlice({"grant", "create", alice_vol_->backing_dir(), "--grantee", bob_.id, "--access", "write"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  auto bob = BobsVolume(false);
  ASSERT_NE(bob, nullptr);
  ASSERT_TRUE(alice_vol_->Unmount());

  const auto real = ReadBackingHeader(alice_vol_->BackingPath("real"));
  ASSERT_TRUE(real.has_value());
  std::vector<uint8_t> bobs_dek(64);
  for (size_t i = 0; i < bobs_dek.size(); ++i) bobs_dek[i] = static_cast<uint8_t>(0xb0 + i);
  KmsAsUser as_bob(*kmsd_, bob_);
  format::FileHeader planted = *real;
  planted.wrapped_dek = as_bob.WrapDek(alice_vol_->key_id(), bobs_dek, real->file_id);
  ASSERT_FALSE(planted.wrapped_dek.empty());
  format::FileHeader foreign = *real;
  foreign.key_id = bob->key_id();
  foreign.wrapped_dek = as_bob.WrapDek(bob->key_id(), bobs_dek, real->file_id);
  ASSERT_FALSE(foreign.wrapped_dek.empty());
  // Planted: one block of bob's text sealed under his DEK (same file id, block 0).
  auto suite = real->suite;
  auto codec = format::BlockCodec::New(suite, real->block_size, SecretBytes::CopyFrom(bobs_dek), real->file_id);
  ASSERT_TRUE(codec.ok()) << codec.status().ToString();
  const std::string bobs_text = "planted by bob";
  std::vector<uint8_t> sealed((*codec)->geometry().overhead + bobs_text.size());
  ASSERT_TRUE((*codec)->Seal(0, {reinterpret_cast<const uint8_t*>(bobs_text.data()), bobs_text.size()}, sealed).ok());
  WriteFileOrDie(alice_vol_->BackingPath("planted"), std::string(sealed.begin(), sealed.end()));
  ASSERT_TRUE(WriteBackingHeader(alice_vol_->BackingPath("planted"), planted));
  WriteFileOrDie(alice_vol_->BackingPath("foreign"), std::string(sealed.begin(), sealed.end()));
  ASSERT_TRUE(WriteBackingHeader(alice_vol_->BackingPath("foreign"), foreign));

  // Alice's fresh mount lists and opens the planted files before her own.
  ASSERT_EQ(alice_vol_->Mount().exit_code, 0);
  for (const auto& e : stdfs::directory_iterator(alice_vol_->mountpoint())) (void)e;
  EXPECT_EQ(ReadFile(alice_vol_->Path("planted")), bobs_text) << "a writer's file opens like any other";
  int err = 0;
  ReadFile(alice_vol_->Path("foreign"), &err);
  EXPECT_EQ(err, EIO);
  const int fd = open(alice_vol_->Path("real").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const int planted_fd = open(alice_vol_->Path("planted").c_str(), O_RDONLY);
  ASSERT_GE(planted_fd, 0) << "both open at once";
  const std::string update = Pattern(5000, 2);
  ASSERT_EQ(pwrite(fd, update.data(), update.size(), 1000), static_cast<ssize_t>(update.size()));
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  close(planted_fd);
  std::string expected = original;
  expected.replace(1000, update.size(), update);
  EXPECT_EQ(ReadFile(alice_vol_->Path("real")), expected);

  // From the backing file alone, after a remount: alice reads her update,
  // and bob's DEK opens none of her blocks.
  ASSERT_TRUE(alice_vol_->Unmount());
  ASSERT_EQ(alice_vol_->Mount().exit_code, 0);
  EXPECT_EQ(ReadFile(alice_vol_->Path("real")), expected);
  const std::string backing = ReadFileOrDie(alice_vol_->BackingPath("real"));
  const uint64_t sealed_block = (*codec)->geometry().sealed_block_size();
  ASSERT_EQ(backing.size(), 3 * sealed_block);
  for (uint64_t b = 0; b < 3; ++b) {
    std::vector<uint8_t> plain(real->block_size);
    EXPECT_FALSE((*codec)
                     ->Open(b, {reinterpret_cast<const uint8_t*>(backing.data()) + b * sealed_block, sealed_block},
                            plain)
                     .ok())
        << "block " << b << " of alice's file opens with bob's DEK";
  }
}

}  // namespace
}  // namespace kmsfs::testing
