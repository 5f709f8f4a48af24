"""The tools around the measurements: commands, packages, builds, caches."""
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path


class BenchError(Exception):
    """The run cannot go on; the message is one line: what failed and why."""


def say(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def _last_line(text):
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def run(cmd, what=None, env=None, cwd=None, output=False, timeout=None):
    """Runs `cmd` (a list) to completion. Raises BenchError naming `what` (or
    the command) and the last line the command printed when it fails.
    Returns its stdout when `output`, else None. An exception while waiting
    (Ctrl-C) kills the command before it propagates."""
    try:
        p = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE if output else subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BenchError("%s: %s is not installed" % (what or cmd[0], cmd[0])) from None
    except subprocess.TimeoutExpired:
        raise BenchError("%s did not finish within %d s" % (what or " ".join(map(str, cmd)), timeout)) from None
    if p.returncode != 0:
        detail = _last_line(p.stderr) or _last_line(p.stdout if output else "") or "no message"
        raise BenchError("%s failed (exit %d): %s" % (what or " ".join(map(str, cmd)), p.returncode, detail))
    return p.stdout if output else None


def start_daemon(cmd, what, log, env=None, timeout=None):
    """Runs a command that leaves a daemon behind (a FUSE mount that forks)
    to completion, its output appended to `log`: a daemon that keeps the
    output it inherited (gocryptfs -nosyslog) must not hold a pipe of ours
    open. Raises BenchError with the log's last line when it fails."""
    with open(log, "a") as f:
        try:
            p = subprocess.run([str(c) for c in cmd], env=env, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout)
        except FileNotFoundError:
            raise BenchError("%s: %s is not installed" % (what, cmd[0])) from None
        except subprocess.TimeoutExpired:
            raise BenchError("%s did not finish within %d s (see %s)" % (what, timeout, log)) from None
    if p.returncode != 0:
        with open(log, errors="replace") as f:
            detail = _last_line(f.read()) or "no message"
        raise BenchError("%s failed (exit %d): %s" % (what, p.returncode, detail))


def as_root(cmd):
    """`cmd` with sudo in front unless this process is root."""
    if os.geteuid() == 0:
        return list(cmd)
    if shutil.which("sudo") is None:
        raise BenchError("run as root or install sudo: dropping caches, tmpfs and packages need root")
    return ["sudo"] + list(cmd)


def drop_caches():
    """Writes back dirty data, then drops the page cache, dentries and inodes."""
    os.sync()
    if os.geteuid() == 0:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    else:
        subprocess.run(as_root(["tee", "/proc/sys/vm/drop_caches"]), input="3\n", text=True,
                       stdout=subprocess.DEVNULL, check=True)


def missing_packages(names):
    out = []
    for n in names:
        p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", n], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
        if "ok installed" not in p.stdout:
            out.append(n)
    return out


def install_packages(names):
    """apt-get installs those of `names` that are missing."""
    if shutil.which("dpkg-query") is None:
        raise BenchError("no dpkg here: install %s yourself and run with --no-install" % " ".join(names))
    need = missing_packages(names)
    if not need:
        return
    say("installing %s" % " ".join(need))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(as_root(["apt-get", "update", "-qq"]), "apt-get update", env=env)
    run(as_root(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + need),
        "apt-get install " + " ".join(need), env=env)


def require_commands(names):
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise BenchError("%s missing (install, or drop --no-install)" % ", ".join(missing))


def build_kmsfs(repo, build_dir):
    """A RelWithDebInfo build of kmsfs and kmsd (optimized, with symbols for
    perf). Warnings stay warnings here: a new compiler's false positive must
    not stop a measurement (the regular builds keep -Werror)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "bench-build.log"
    say("building kmsfs and kmsd (RelWithDebInfo) in %s" % build_dir)
    with open(log, "w") as f:
        for cmd in (["cmake", "-S", repo, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                     "-DKMSFS_BUILD_TESTS=OFF", "-DKMSFS_BUILD_BENCH=OFF", "-DKMSFS_WERROR=OFF"]
                    + (["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []),
                    ["cmake", "--build", build_dir, "-j%d" % len(os.sched_getaffinity(0)), "--target", "kmsfs",
                     "kmsd"]):
            p = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                f.flush()
                sys.stderr.write("".join(open(log).readlines()[-30:]))
                raise BenchError("kmsfs build failed (log above, all of it in %s)" % log)


def source_version(repo):
    """The commit measured, taken at the start (the tree may move during a long run)."""
    try:
        head = run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], output=True).strip()
    except BenchError:
        return "?"
    dirty = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--", "fs", "kms", "cache"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0
    return head + (" + local changes" if dirty else "")


PASSTHROUGH_SOURCE = Path("/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c")


def compile_passthrough(bin_dir):
    """libfuse's passthrough_ll example (Debian ships its source, not
    passthrough_hp), built with -O2 into `bin_dir`."""
    if not PASSTHROUGH_SOURCE.is_file():
        raise BenchError("%s is missing (install libfuse3-dev)" % PASSTHROUGH_SOURCE)
    bin_dir.mkdir(parents=True, exist_ok=True)
    flags = run(["pkg-config", "fuse3", "--cflags", "--libs"], "pkg-config fuse3", output=True).split()
    out = bin_dir / "passthrough_ll"
    run(["gcc", "-O2", "-Wall", PASSTHROUGH_SOURCE] + flags + ["-o", out], "compiling passthrough_ll")
    return out


def header_tarball(cache_dir, quick):
    """The header tree for tar/untar, made once and kept in `cache_dir`:
    /usr/include without node's headers (about 70 MB in about 6 000 entries),
    or /usr/include/linux (`quick`). Returns (path, entries, bytes)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = "headers-linux.tar" if quick else "headers.tar"
    path = cache_dir / name
    if not path.is_file() or path.stat().st_size == 0:
        say("making %s" % path)
        tmp = path.with_suffix(".tmp")
        if quick:
            src = ["-C", "/usr/include", "linux"]
        else:
            src = ["-C", "/usr", "--exclude=include/node", "include"]
        run(["tar", "-cf", tmp] + src, "making the header tarball")
        tmp.rename(path)
    entries = size = 0
    with tarfile.open(path) as t:
        for m in t:
            entries += 1
            size += m.size
    return path, entries, size


def versions(with_gocryptfs):
    """One line of the other programs' versions."""
    parts = []
    if with_gocryptfs:
        try:
            parts.append(run(["gocryptfs", "-version"], output=True).split(";")[0].strip())
        except BenchError:
            parts.append("gocryptfs ?")
    try:
        parts.append("libfuse " + run(["pkg-config", "--modversion", "fuse3"], output=True).strip())
    except BenchError:
        pass
    try:
        parts.append(run(["fio", "--version"], output=True).strip())
    except BenchError:
        pass
    return ", ".join(parts)
