#include "fs/fuse/session.h"

#include <memory>

#include "base/logging.h"
#include "fs/fuse/readahead.h"

namespace kmsfs::fuse {
namespace {

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
struct LoopConfigDeleter {
  void operator()(fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};

}  // namespace

std::string EscapeOptionValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

Status ServeMount(LowLevelFs* fs, const SessionOptions& options) {
  std::string opts = "fsname=" + EscapeOptionValue(options.fsname) + ",subtype=kmsfs";
  for (const std::string& o : options.mount_opts) opts += "," + o;
  std::vector<std::string> argv_store = {"kmsfs", "-o", opts};
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const fuse_lowlevel_ops& ops = LowLevelFs::Operations();
  std::unique_ptr<fuse_session, SessionDeleter> se(fuse_session_new(&args, &ops, sizeof ops, fs));
  // fuse_session_new may have copied and extended the argument vector; it is
  // not needed once the session exists.
  fuse_opt_free_args(&args);
  auto fail = [&](Status s) {
    options.on_mounted(s);
    return s;
  };
  if (!se) return fail(Status::InvalidArgument("cannot set up the FUSE session (bad -o option? options: " + opts + ")"));
  if (fuse_session_mount(se.get(), options.mountpoint.c_str()) != 0) {
    return fail(Status::FailedPrecondition("cannot mount on " + options.mountpoint +
                                           " (does it exist, and is /dev/fuse usable?)"));
  }
  if (fuse_set_signal_handlers(se.get()) != 0) {
    fuse_session_unmount(se.get());
    return fail(Status::Internal("cannot install signal handlers"));
  }
  // Large sequential reads need more than the kernel's 128 KiB FUSE readahead.
  const unsigned readahead_kib = fs->options().max_write / 1024;
  if (Status s = RaiseMountReadahead(options.mountpoint, readahead_kib); !s.ok()) {
    KMSFS_LOG(kInfo) << "readahead stays at the kernel default: " << s.ToString();
  }
  options.on_mounted(Status::Ok());
  {
    std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop_cfg(fuse_loop_cfg_create());
    fuse_loop_cfg_set_clone_fd(loop_cfg.get(), 0);
    fuse_loop_cfg_set_idle_threads(loop_cfg.get(), 10);
    const int rc = fuse_session_loop_mt(se.get(), loop_cfg.get());
    if (rc != 0) KMSFS_LOG(kWarning) << "FUSE loop ended with " << rc;
  }
  fuse_remove_signal_handlers(se.get());
  fuse_session_unmount(se.get());
  return Status::Ok();
}

}  // namespace kmsfs::fuse
