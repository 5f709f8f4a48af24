// MountedVolume: a key, an initialised backing directory and a live kmsfs
// mount against a running kmsd, made through the real `kmsfs` binary, and
// torn down (unmounted, lazily if busy) however the test ends.
#ifndef KMSFS_TESTS_TESTUTIL_MOUNTED_VOLUME_H_
#define KMSFS_TESTS_TESTUTIL_MOUNTED_VOLUME_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testutil/kmsd_process.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace kmsfs::testing {

// Connection environment for `user` against `kmsd` (password login).
std::map<std::string, std::string> KmsEnv(const KmsdProcess& kmsd, const KmsdUser& user);
// Runs build/kmsfs with `args` and the given environment.
CommandResult RunKmsfs(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                       int timeout_sec = 120);

class MountedVolume {
 public:
  struct Options {
    KmsdProcess* kmsd = nullptr;             // required; must outlive the volume
    KmsdUser user;                           // default: DefaultTestUsers()[0]
    std::string key_id;                      // empty: create a key as `user`
    std::string backing_dir;                 // empty: a fresh, initialised directory
    std::vector<std::string> mount_args;     // extra `kmsfs mount` flags
    // extra `kmsfs init` flags; tests that look at a backing file by its
    // plaintext name pass --plaintext-names
    std::vector<std::string> init_args;
    bool mount = true;                       // false: only key + init
    // Set over KmsEnv's variables for every kmsfs command ("" unsets one),
    // e.g. AK/SK credentials instead of the password login.
    std::map<std::string, std::string> env_overrides{};
  };
  // Returns nullptr (after ADD_FAILURE with the command's output) on failure.
  static std::unique_ptr<MountedVolume> Start(Options options);
  ~MountedVolume();
  MountedVolume(const MountedVolume&) = delete;
  MountedVolume& operator=(const MountedVolume&) = delete;

  const std::string& mountpoint() const { return mountpoint_; }
  const std::string& backing_dir() const { return backing_dir_; }
  const std::string& key_id() const { return key_id_; }
  const std::string& log_file() const { return log_file_; }
  std::map<std::string, std::string> Env() const {
    std::map<std::string, std::string> env = KmsEnv(*options_.kmsd, options_.user);
    for (const auto& [name, value] : options_.env_overrides) env[name] = value;
    return env;
  }
  std::string Path(const std::string& rel) const { return mountpoint_ + "/" + rel; }
  // The backing object of the mount's `rel`: while mounted and `rel` exists,
  // the backing entry with its inode number (whatever the names look like
  // there: encrypted names too); otherwise backing_dir/rel, which is right
  // for volumes with plaintext names only.
  std::string BackingPath(const std::string& rel) const;

  CommandResult Mount(const std::vector<std::string>& extra_args = {});
  // Unmounts and waits for the daemon to exit; false (with a test failure
  // if the daemon lingers) if the mount was busy or the daemon stayed.
  bool Unmount();
  // close() returns before the daemon has handled the release (the kernel
  // sends it asynchronously), and until then a new open of the file shares
  // the object still open there: waits until the daemon has no file open.
  // False, with a test failure, after 10 s.
  bool WaitForReleases() const;
  bool mounted() const { return mounted_; }
  // PID of the daemon serving this mount (found through /proc), or -1.
  pid_t DaemonPid() const;
  // Crash simulation: SIGKILL the daemon, then detach the dead mount.
  void KillDaemon();
  std::string ReadLog() const;
  // The mount's counters (the user.kmsfs.status xattr of its root); an empty
  // object, with a test failure, if they cannot be read.
  nlohmann::json Status() const;

 private:
  explicit MountedVolume(Options options) : options_(std::move(options)) {}
  Options options_;
  TempDir dir_;
  std::string mountpoint_, backing_dir_, key_id_, log_file_;
  bool mounted_ = false;
};

}  // namespace kmsfs::testing

#endif  // KMSFS_TESTS_TESTUTIL_MOUNTED_VOLUME_H_
