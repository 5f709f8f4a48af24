// Backups that keep the keys. An xattr-header volume copied by a tool that
// drops extended attributes (rsync -a without -X) reads back completely once
// `kmsfs headers import` has put back what `kmsfs headers export` saved, and
// import restores only what provably belongs; an inline-header volume needs
// nothing of the kind and survives tar without --xattrs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/posix_recorder.h"
#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/mounted_volume.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {
namespace {

namespace stdfs = std::filesystem;
using Contents = std::map<std::string, std::string>;

// Every kind of entry a backup has to carry: nested directories, sizes around
// block boundaries, a sparse file, an empty file, a long name (its sidecar),
// a hard link, a symlink.
Contents Populate(const std::string& root) {
  Contents c;
  auto put = [&](const std::string& rel, const std::string& data) {
    WriteFileOrDie(root + "/" + rel, data);
    c[rel] = data;
  };
  EXPECT_EQ(mkdir((root + "/docs").c_str(), 0755), 0);
  EXPECT_EQ(mkdir((root + "/docs/deep").c_str(), 0700), 0);
  EXPECT_EQ(mkdir((root + "/empty dir").c_str(), 0755), 0);
  put("small.txt", "hello backup\n");
  put("empty", "");
  put("docs/block", Pattern(4096, 1));
  put("docs/blocks+1", Pattern(3 * 4096 + 1, 2));
  put("docs/deep/big", Pattern(300000, 3));
  put(std::string(200, 'n'), "a long name");
  const int fd = open((root + "/sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(pwrite(fd, "end", 3, 1 << 20), 3);
  close(fd);
  c["sparse"] = std::string(1 << 20, '\0') + "end";
  EXPECT_EQ(link((root + "/small.txt").c_str(), (root + "/docs/hard").c_str()), 0);
  c["docs/hard"] = c["small.txt"];
  EXPECT_EQ(symlink("docs/deep/big", (root + "/link").c_str()), 0);
  c["link"] = c["docs/deep/big"];
  return c;
}

void ExpectContents(const std::string& root, const Contents& want) {
  for (const auto& [rel, data] : want) {
    int err = 0;
    const std::string got = ReadFile(root + "/" + rel, &err);
    EXPECT_EQ(err, 0) << rel << ": " << std::strerror(err);
    EXPECT_TRUE(got == data) << rel << ": " << got.size() << " bytes, want " << data.size();
  }
  struct stat st;
  EXPECT_EQ(stat((root + "/empty dir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

// A ramfs mounted for the test's lifetime: a filesystem with no user xattrs
// at all (setxattr fails with ENOTSUP), as object-store mounts and SMB shares
// often are.
class RamfsMount {
 public:
  explicit RamfsMount(std::string dir) : dir_(std::move(dir)) {
    EXPECT_EQ(mkdir(dir_.c_str(), 0755), 0) << std::strerror(errno);
    mounted_ = mount("kmsfs-test", dir_.c_str(), "ramfs", 0, "mode=0755") == 0;
    EXPECT_TRUE(mounted_) << "mount ramfs: " << std::strerror(errno);
  }
  ~RamfsMount() {
    if (mounted_ && umount2(dir_.c_str(), 0) != 0) umount2(dir_.c_str(), MNT_DETACH);
  }
  RamfsMount(const RamfsMount&) = delete;
  RamfsMount& operator=(const RamfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

// Whether any entry under `dir` still has a user.kmsfs xattr.
bool AnyKmsfsXattr(const std::string& dir) {
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (lgetxattr(e.path().c_str(), "user.kmsfs", nullptr, 0) >= 0) return true;
  }
  return lgetxattr(dir.c_str(), "user.kmsfs", nullptr, 0) >= 0;
}

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KMSFS_REQUIRE_FUSE();
    kmsd_ = KmsdProcess::Start({});
    ASSERT_NE(kmsd_, nullptr);
  }
  // A populated, unmounted volume; `init_args` as for kmsfs init.
  std::unique_ptr<MountedVolume> MakeVolume(std::vector<std::string> init_args, Contents* contents) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.init_args = std::move(init_args);
    auto v = MountedVolume::Start(o);
    if (v == nullptr) return nullptr;
    *contents = Populate(v->mountpoint());
    EXPECT_TRUE(v->Unmount());
    return v;
  }
  // A mount of the copy in `backing` (an initialised volume of `of`'s key).
  std::unique_ptr<MountedVolume> MountCopy(const MountedVolume& of, const std::string& backing) {
    MountedVolume::Options o;
    o.kmsd = kmsd_.get();
    o.key_id = of.key_id();
    o.backing_dir = backing;
    return MountedVolume::Start(o);
  }
  CommandResult Kmsfs(const std::vector<std::string>& args, const MountedVolume& v) { return RunKmsfs(args, v.Env()); }

  std::unique_ptr<KmsdProcess> kmsd_;
  TempDir tmp_;
};

TEST_F(BackupTest, RsyncWithoutXattrsThenHeadersImportReadsEveryFileBack) {
  Contents contents;
  auto v = MakeVolume({}, &contents);  // xattr headers, encrypted names: the default
  ASSERT_NE(v, nullptr);
  const std::string exported = tmp_.Join("volume.headers");
  CommandResult r = Kmsfs({"headers", "export", v->backing_dir(), exported}, *v);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exported 8 file headers and 4 directory values"), std::string::npos) << r.err;
  // The export holds no key: nothing in it is a plaintext DEK or the volume key.
  const std::string text = ReadFileOrDie(exported);
  EXPECT_EQ(text.find("\"dek\""), std::string::npos);
  // To stdout ("-"), through a pipe, it is the same but for its date.
  r = Kmsfs({"headers", "export", v->backing_dir(), "-"}, *v);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.find('\n')), text.substr(text.find('\n')));

  const std::string copy = tmp_.Join("restored");
  r = RunCommand({"/usr/bin/rsync", "-a", v->backing_dir() + "/", copy + "/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(AnyKmsfsXattr(copy)) << "rsync without -X kept an xattr: the test proves nothing";

  // fsck names every file that lost its header and says what to run.
  r = Kmsfs({"fsck", copy}, *v);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(CountLines(r.out, "no header (xattr user.kmsfs is missing"), 8u) << r.out;
  EXPECT_NE(r.out.find("kmsfs headers import " + copy), std::string::npos) << r.out;

  r = Kmsfs({"headers", "import", copy, exported}, *v);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // rsync -a (no -H) copies the hard link's two names as two files with the
  // same bytes: each gets the header, which opens both.
  EXPECT_NE(r.out.find("restored 8 file headers and 4 directory values (0 already in place, 0 not in"),
            std::string::npos)
      << r.out;
  r = Kmsfs({"fsck", copy}, *v);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  auto mounted = MountCopy(*v, copy);
  ASSERT_NE(mounted, nullptr);
  ExpectContents(mounted->mountpoint(), contents);
  ASSERT_TRUE(mounted->Unmount());

  // Importing again finds everything in place and changes nothing.
  r = Kmsfs({"headers", "import", copy, exported}, *v);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("restored 0 file headers and 0 directory values (12 already in place"), std::string::npos)
      << r.out;
}

// A backing directory given through a symlink of the user's own: resolved
// once, then walked without following any.
TEST_F(BackupTest, ExportThroughASymlinkToTheBackingDirectoryIsTheSameExport) {
  Contents contents;
  auto v = MakeVolume({}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string link = tmp_.Join("volume-link");
  ASSERT_EQ(symlink(v->backing_dir().c_str(), link.c_str()), 0);
  CommandResult direct = Kmsfs({"headers", "export", v->backing_dir(), "-"}, *v);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  CommandResult linked = Kmsfs({"headers", "export", link, "-"}, *v);
  ASSERT_EQ(linked.exit_code, 0) << linked.err;
  EXPECT_EQ(linked.out.substr(linked.out.find('\n')), direct.out.substr(direct.out.find('\n')));
}

TEST_F(BackupTest, PlaintextNamesVolumeNeedsOnlyItsFileHeaders) {
  Contents contents;
  auto v = MakeVolume({"--plaintext-names"}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string exported = tmp_.Join("plain.headers");
  CommandResult r = Kmsfs({"headers", "export", v->backing_dir(), exported}, *v);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("exported 8 file headers and 0 directory values"), std::string::npos) << r.err;
  // A name with a space is escaped, and comes back exactly.
  const std::string copy = tmp_.Join("plain-copy");
  ASSERT_EQ(RunCommand({"/usr/bin/rsync", "-a", v->backing_dir() + "/", copy + "/"}).exit_code, 0);
  r = Kmsfs({"headers", "import", copy, exported}, *v);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto mounted = MountCopy(*v, copy);
  ASSERT_NE(mounted, nullptr);
  ExpectContents(mounted->mountpoint(), contents);
}

TEST_F(BackupTest, ImportRefusesTheExportOfAnotherVolume) {
  Contents a_contents, b_contents;
  auto a = MakeVolume({}, &a_contents);
  auto b = MakeVolume({}, &b_contents);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string exported = tmp_.Join("a.headers");
  ASSERT_EQ(Kmsfs({"headers", "export", a->backing_dir(), exported}, *a).exit_code, 0);
  const std::string copy = tmp_.Join("b-copy");
  ASSERT_EQ(RunCommand({"/usr/bin/rsync", "-a", b->backing_dir() + "/", copy + "/"}).exit_code, 0);
  CommandResult r = Kmsfs({"headers", "import", copy, exported}, *b);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the export is of another volume"), std::string::npos) << r.err;
  EXPECT_FALSE(AnyKmsfsXattr(copy));
}

TEST_F(BackupTest, ImportPutsNoHeaderOnAFileItDoesNotOpen) {
  Contents contents;
  auto v = MakeVolume({"--plaintext-names"}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string exported = tmp_.Join("v.headers");
  ASSERT_EQ(Kmsfs({"headers", "export", v->backing_dir(), exported}, *v).exit_code, 0);
  const std::string copy = tmp_.Join("swapped");
  ASSERT_EQ(RunCommand({"/usr/bin/rsync", "-a", v->backing_dir() + "/", copy + "/"}).exit_code, 0);
  // Two files trade places in the copy: each path now holds the other's data.
  ASSERT_EQ(renameat2(AT_FDCWD, (copy + "/docs/block").c_str(), AT_FDCWD, (copy + "/docs/blocks+1").c_str(),
                      RENAME_EXCHANGE),
            0);
  CommandResult r = Kmsfs({"headers", "import", copy, exported}, *v);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("docs/block: the exported header"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("docs/blocks+1: the exported header"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not open this file's data"), std::string::npos) << r.out;
  EXPECT_LT(getxattr((copy + "/docs/block").c_str(), "user.kmsfs", nullptr, 0), 0);
  EXPECT_LT(getxattr((copy + "/docs/blocks+1").c_str(), "user.kmsfs", nullptr, 0), 0);
  // Everything else was restored.
  EXPECT_NE(r.out.find("restored 6 file headers"), std::string::npos) << r.out;
}

TEST_F(BackupTest, ImportNeverReplacesAHeaderThatIsThere) {
  Contents contents;
  auto v = MakeVolume({"--plaintext-names"}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string exported = tmp_.Join("v.headers");
  ASSERT_EQ(Kmsfs({"headers", "export", v->backing_dir(), exported}, *v).exit_code, 0);
  // A copy that kept its xattrs, where one file has since got another header.
  const std::string copy = tmp_.Join("kept");
  ASSERT_EQ(RunCommand({"/usr/bin/rsync", "-aX", v->backing_dir() + "/", copy + "/"}).exit_code, 0);
  char other[4096];
  const ssize_t n = getxattr((copy + "/docs/block").c_str(), "user.kmsfs", other, sizeof other);
  ASSERT_GT(n, 0);
  ASSERT_EQ(setxattr((copy + "/small.txt").c_str(), "user.kmsfs", other, static_cast<size_t>(n), 0), 0);
  CommandResult r = Kmsfs({"headers", "import", copy, exported}, *v);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("small.txt: has another header"), std::string::npos) << r.out;
  char now[4096];
  ASSERT_EQ(getxattr((copy + "/small.txt").c_str(), "user.kmsfs", now, sizeof now), n);
  EXPECT_EQ(std::string(now, static_cast<size_t>(n)), std::string(other, static_cast<size_t>(n)));
}

TEST_F(BackupTest, HostileExportCannotReachOutsideTheBackingDirectory) {
  Contents contents;
  auto v = MakeVolume({"--plaintext-names"}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string exported = tmp_.Join("v.headers");
  ASSERT_EQ(Kmsfs({"headers", "export", v->backing_dir(), exported}, *v).exit_code, 0);
  const std::string copy = tmp_.Join("copy");
  ASSERT_EQ(RunCommand({"/usr/bin/rsync", "-a", v->backing_dir() + "/", copy + "/"}).exit_code, 0);
  // Outside the copy: a directory with a file the export names.
  const std::string outside = tmp_.Join("outside");
  ASSERT_EQ(mkdir(outside.c_str(), 0755), 0);
  std::filesystem::copy_file(copy + "/small.txt", outside + "/small.txt");
  // A symlink inside the copy leads there; the export is edited to go through it.
  ASSERT_EQ(symlink(outside.c_str(), (copy + "/escape").c_str()), 0);
  std::string text = ReadFileOrDie(exported);
  const size_t at = text.find("{\"file\":\"small.txt\"");
  ASSERT_NE(at, std::string::npos) << text;
  const size_t end = text.find('\n', at);
  std::string line = text.substr(at, end - at);
  line.replace(0, std::string("{\"file\":\"small.txt\"").size(), "{\"file\":\"escape/small.txt\"");
  WriteFileOrDie(exported, text + line + "\n");
  CommandResult r = Kmsfs({"headers", "import", copy, exported}, *v);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("escape/small.txt: a symlink or a file is in the way"), std::string::npos) << r.out;
  EXPECT_LT(getxattr((outside + "/small.txt").c_str(), "user.kmsfs", nullptr, 0), 0);
  // ".." never even parses.
  line.replace(0, std::string("{\"file\":\"escape/small.txt\"").size(), "{\"file\":\"../outside/small.txt\"");
  WriteFileOrDie(exported, text.substr(0, text.find('\n') + 1) + line + "\n");
  r = Kmsfs({"headers", "import", copy, exported}, *v);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("line 2: path has a '.' or '..' component"), std::string::npos) << r.out;
  EXPECT_LT(getxattr((outside + "/small.txt").c_str(), "user.kmsfs", nullptr, 0), 0);
}

TEST_F(BackupTest, ExportAndImportSayWhyTheyCannotRun) {
  Contents contents;
  auto v = MakeVolume({"--header", "inline"}, &contents);
  ASSERT_NE(v, nullptr);
  CommandResult r = Kmsfs({"headers", "export", v->backing_dir(), tmp_.Join("x")}, *v);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("keeps its headers inline"), std::string::npos) << r.err;
  r = Kmsfs({"headers", "import", v->backing_dir(), tmp_.Join("x")}, *v);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nothing to import"), std::string::npos) << r.err;

  auto x = MakeVolume({}, &contents);
  ASSERT_NE(x, nullptr);
  r = Kmsfs({"headers", "export", x->backing_dir(), x->backing_dir() + "/inside.headers"}, *x);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must not be written inside the backing directory"), std::string::npos) << r.err;
  r = Kmsfs({"headers", "export", tmp_.Join("nowhere"), tmp_.Join("x")}, *x);
  EXPECT_EQ(r.exit_code, 2);
  r = Kmsfs({"headers", "import", x->backing_dir(), tmp_.Join("missing.headers")}, *x);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.headers"), std::string::npos) << r.err;
  WriteFileOrDie(tmp_.Join("garbage"), "not json\n");
  r = Kmsfs({"headers", "import", x->backing_dir(), tmp_.Join("garbage")}, *x);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
  r = Kmsfs({"headers", "frobnicate"}, *x);
  EXPECT_EQ(r.exit_code, 2);
  r = Kmsfs({"headers", "export", x->backing_dir()}, *x);
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(BackupTest, InlineVolumeSurvivesTarWithoutXattrs) {
  Contents contents;
  auto v = MakeVolume({"--header", "inline"}, &contents);
  ASSERT_NE(v, nullptr);
  const std::string archive = tmp_.Join("volume.tar");
  CommandResult r = RunCommand({"/usr/bin/tar", "--no-xattrs", "-cf", archive, "-C", v->backing_dir(), "."});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string copy = tmp_.Join("untarred");
  ASSERT_EQ(mkdir(copy.c_str(), 0755), 0);
  r = RunCommand({"/usr/bin/tar", "--no-xattrs", "-xf", archive, "-C", copy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(AnyKmsfsXattr(copy));
  r = Kmsfs({"fsck", copy}, *v);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto mounted = MountCopy(*v, copy);
  ASSERT_NE(mounted, nullptr);
  ExpectContents(mounted->mountpoint(), contents);
}

TEST_F(BackupTest, InitChoosesInlineHeadersWhereThereAreNoUserXattrsAndSaysSo) {
  MountedVolume::Options key_only;
  key_only.kmsd = kmsd_.get();
  key_only.mount = false;
  auto keyed = MountedVolume::Start(key_only);
  ASSERT_NE(keyed, nullptr);
  RamfsMount ramfs(tmp_.Join("ramfs"));
  ASSERT_TRUE(ramfs.mounted());
  ASSERT_NE(setxattr(ramfs.dir().c_str(), "user.probe", "1", 1, 0), 0);
  ASSERT_EQ(errno, ENOTSUP) << "ramfs has user xattrs here: the test proves nothing";

  // Asked for xattr headers outright, init refuses and says what to do.
  const std::string refused = ramfs.dir() + "/refused";
  ASSERT_EQ(mkdir(refused.c_str(), 0755), 0);
  CommandResult r = Kmsfs({"init", refused, "--key", keyed->key_id(), "--header", "xattr"}, *keyed);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("has no user extended attributes, which --header xattr needs: use --header inline"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(stdfs::exists(refused + "/.kmsfs.json"));

  // Left to choose, it makes an inline volume and tells the user why.
  const std::string backing = ramfs.dir() + "/backing";
  ASSERT_EQ(mkdir(backing.c_str(), 0755), 0);
  r = Kmsfs({"init", backing, "--key", keyed->key_id()}, *keyed);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("no user extended attributes, so file headers are kept inline"), std::string::npos)
      << r.out << r.err;
  EXPECT_NE(ReadFileOrDie(backing + "/.kmsfs.json").find("\"header\": \"inline\""), std::string::npos);
  EXPECT_FALSE(stdfs::exists(backing + "/.kmsfs-xattr-probe"));

  // The volume works there: files, encrypted names and directories (whose
  // name values live in .kmsfs.dir files), read back after a remount.
  auto mounted = MountCopy(*keyed, backing);
  ASSERT_NE(mounted, nullptr);
  const Contents contents = Populate(mounted->mountpoint());
  ASSERT_TRUE(mounted->Unmount());
  EXPECT_TRUE(stdfs::exists(backing + "/.kmsfs.dir"));
  r = Kmsfs({"fsck", backing}, *keyed);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(mounted->Mount().exit_code, 0);
  ExpectContents(mounted->mountpoint(), contents);
  ASSERT_TRUE(mounted->Unmount());
}

}  // namespace
}  // namespace kmsfs::testing
