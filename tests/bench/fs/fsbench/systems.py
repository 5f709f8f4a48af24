"""The systems under test, and kmsd.

Each system lives in WORK/NAME: `backing` is what lands on disk, `target` is
where the workloads run (the mount point, or the directory itself for
native), `pid` the daemon serving the mount. Every mount registers its undo
step before it is made (undo.py), so it is undone whatever happens next.
"""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from fsbench import procinfo
from fsbench.tools import BenchError, run, say, start_daemon

# How long a mount or daemon gets to come up, go away, or settle.
START_DEADLINE_S = 30
STOP_DEADLINE_S = 10
SETTLE_DEADLINE_S = 30
_POLL_S = 0.05

# kmsfs mount's default DEK pool (fs/cli/mount_options.cc, --tune pool-size).
KMSFS_POOL_DEFAULT = 256
STATUS_XATTR = "user.kmsfs.status"


def _wait_until(predicate, deadline_s):
    """Polls `predicate` until it is true or the deadline passes; returns its last value."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(_POLL_S)


def _stop_pid(pid, deadline_s=STOP_DEADLINE_S):
    """Waits for a daemon of ours to exit; SIGTERM, then SIGKILL, if it does not."""
    if _wait_until(lambda: not procinfo.alive(pid), deadline_s):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        say("process %d still running; sending %s" % (pid, sig.name))
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_until(lambda: not procinfo.alive(pid), deadline_s):
            return
    raise BenchError("process %d does not exit even after SIGKILL" % pid)


def fuse_unmount(mountpoint):
    """Unmounts a FUSE mount the run made and waits for its daemon to exit.
    A mount still busy after STOP_DEADLINE_S is detached lazily."""
    mnt = str(mountpoint)
    daemons = procinfo.pids_with_argument(mnt)
    end = time.monotonic() + STOP_DEADLINE_S
    while procinfo.is_mounted(mnt):
        p = subprocess.run(["fusermount3", "-u", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode == 0:
            break
        if time.monotonic() >= end:
            say("%s is busy (%s); detaching it lazily" % (mnt, p.stderr.strip()))
            subprocess.run(["fusermount3", "-uz", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            break
        time.sleep(0.2)
    # A daemon that had not mounted yet (the run was stopped during its start)
    # is ended here too.
    for pid in daemons + [p for p in procinfo.pids_with_argument(mnt) if p not in daemons]:
        _stop_pid(pid)
    if procinfo.is_mounted(mnt):
        subprocess.run(["fusermount3", "-uz", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if procinfo.is_mounted(mnt):
        raise BenchError("%s is still mounted" % mnt)


class System:
    fuse = True

    def __init__(self, name, work, undo, log_dir=None):
        self.name = name
        self.dir = Path(work) / name
        self.undo = undo
        # What the mount command and its daemon print.
        self.daemon_log = Path(log_dir or self.dir) / ("%s-%s.out" % (Path(work).name, name))
        self.backing = self.dir / "back"
        self.mountpoint = self.dir / "mnt"
        self.target = self.mountpoint
        self.pid = None
        self._undo_mount = None

    def prepare(self):
        """A fresh directory with an empty backing dir and mount point."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.backing.mkdir(parents=True)
        self.mountpoint.mkdir()

    def mount(self):
        """Prepares and mounts a new, empty instance."""
        self.prepare()
        self._mount()

    def remount(self):
        """The same backing dir under a fresh daemon: cold caches of its own."""
        self.unmount()
        self._mount()

    def unmount(self):
        if self._undo_mount is not None:
            self.undo.run(self._undo_mount)
            self._undo_mount = None
        self.pid = None

    def settle(self):
        """Waits until a fresh mount reached the state it serves from."""

    def _mount_command(self):
        raise NotImplementedError

    def _env(self):
        return None

    def _mount(self):
        mnt = str(self.mountpoint)
        self._undo_mount = self.undo.push("unmount " + mnt, lambda: fuse_unmount(mnt))
        start_daemon(self._mount_command(), "mounting %s" % self.name, self.daemon_log, env=self._env(),
                     timeout=START_DEADLINE_S)
        if not _wait_until(lambda: procinfo.is_mounted(mnt), START_DEADLINE_S):
            raise BenchError("%s: %s is not mounted" % (self.name, mnt))
        pids = [p for p in procinfo.pids_with_argument(mnt) if procinfo.alive(p)]
        if not pids:
            raise BenchError("%s: cannot find the process serving %s" % (self.name, mnt))
        self.pid = pids[-1]


class Native(System):
    fuse = False

    def __init__(self, work, undo):
        super().__init__("native", work, undo)
        self.backing = self.target = self.dir / "data"

    def prepare(self):
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.backing.mkdir(parents=True)

    def _mount(self):
        pass


class Passthrough(System):
    """libfuse's passthrough_ll, with the kernel caches a passthrough can use."""

    def __init__(self, work, undo, binary, log_dir):
        super().__init__("passthrough", work, undo, log_dir)
        self.binary = binary

    def _mount_command(self):
        return [self.binary, "-o", "source=%s,cache=always,writeback" % self.backing, self.mountpoint]


class Gocryptfs(System):
    """gocryptfs with its defaults (AES-256-GCM, encrypted names)."""

    def __init__(self, work, undo, log_dir):
        super().__init__("gocryptfs", work, undo, log_dir)
        self.passfile = self.dir / "password"

    def prepare(self):
        super().prepare()
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("benchmark-password\n")
        run(["gocryptfs", "-init", "-q", "-passfile", self.passfile, self.backing], "gocryptfs -init")

    def _mount_command(self):
        return ["gocryptfs", "-q", "-nosyslog", "-passfile", self.passfile, self.backing, self.mountpoint]


class Kmsd:
    """A kmsd of the run's own, on a free loopback port, with its defaults."""

    def __init__(self, name, binary, kmsfs_binary, work, log_dir, undo, latency_ms=0):
        self.name = name
        self.binary = binary
        self.kmsfs_binary = kmsfs_binary
        self.dir = Path(work) / name
        self.log = Path(log_dir) / ("%s-%s.log" % (Path(work).name, name))
        self.undo = undo
        self.latency_ms = latency_ms
        self.proc = None
        self.credentials = self.dir / "credentials"
        self.pins = self.dir / "pins.json"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        self.dir.mkdir(parents=True)
        self.undo.push("stop " + self.name, self.stop)
        cmd = [str(self.binary), "--listen", "127.0.0.1:0", "--data", str(self.dir / "data")]
        if self.latency_ms:
            cmd += ["--latency-ms", str(self.latency_ms)]
        with open(self.log, "w") as log:
            # Its own session: a Ctrl-C at the terminal reaches the run, which
            # stops kmsd after the mounts that use it.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        say("started %s (pid %d)" % (self.name, self.proc.pid))

        def ready():
            if self.proc.poll() is not None:
                raise BenchError("%s exited with %d at start: %s" % (self.name, self.proc.returncode,
                                                                      self._log_tail()))
            return self._log_value("listening on ")
        address = _wait_until(ready, START_DEADLINE_S)
        if not address:
            raise BenchError("%s did not come up within %d s (see %s)" % (self.name, START_DEADLINE_S, self.log))
        project = self._log_value("project id: ")
        token_file = self.dir / "data" / "admin.token"
        if not project or not token_file.is_file():
            raise BenchError("%s printed no project id or wrote no admin token (see %s)" % (self.name, self.log))
        # The connection as kmsfs reads it from a 0600 credentials file: no
        # token in any command line or environment.
        fd = os.open(self.credentials, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("KMSFS_KMS_ENDPOINT=http://%s\nOS_PROJECT_ID=%s\nOS_AUTH_TOKEN=%s\n" %
                    (address, project, token_file.read_text().strip()))

    def _log_value(self, prefix):
        try:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        except OSError:
            pass
        return None

    def _log_tail(self):
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
            return lines[-1] if lines else "no output"
        except OSError:
            return "no log"

    def env(self):
        """The environment kmsfs commands run with: this kmsd, and key pins of the run's own."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "KMSFS_", "HUAWEICLOUD_"))}
        env.update(KMSFS_CREDENTIALS=str(self.credentials), KMSFS_PINS_FILE=str(self.pins))
        return env

    def create_key(self, alias):
        out = run([self.kmsfs_binary, "key", "create", "--alias", alias], "kmsfs key create", env=self.env(),
                  output=True, timeout=START_DEADLINE_S)
        key = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if not key:
            raise BenchError("kmsfs key create printed no key id")
        return key

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            say("%s did not stop on SIGTERM; killing it" % self.name)
            self.proc.kill()
            self.proc.wait(timeout=STOP_DEADLINE_S)


class Kmsfs(System):
    """kmsfs with its default mount options, against `kmsd`."""

    def __init__(self, name, work, undo, binary, kmsd, key, log_dir):
        super().__init__(name, work, undo, log_dir)
        self.binary = binary
        self.kmsd = kmsd
        self.key = key
        self.log = Path(log_dir) / ("%s-%s.log" % (Path(work).name, name))

    def prepare(self):
        super().prepare()
        run([self.binary, "init", self.backing, "--key", self.key], "kmsfs init", env=self.kmsd.env(),
            timeout=START_DEADLINE_S)

    def _mount_command(self):
        return [self.binary, "mount", self.backing, self.mountpoint, "--log-file", self.log]

    def _env(self):
        return self.kmsd.env()

    def status(self):
        """The mount's counters (what `kmsfs status` prints), or None."""
        try:
            return json.loads(os.getxattr(self.mountpoint, STATUS_XATTR))
        except (OSError, ValueError):
            return None

    def settle(self):
        """Waits for the DEK pool to fill, as it does on a mount left alone."""
        def ready():
            s = self.status()
            return s.get("pool", {}).get("ready", 0) if s else 0
        if _wait_until(lambda: ready() >= KMSFS_POOL_DEFAULT, SETTLE_DEADLINE_S) is False:
            say("  (%s: DEK pool not full after %d s: %d ready)" % (self.name, SETTLE_DEADLINE_S, ready()))
