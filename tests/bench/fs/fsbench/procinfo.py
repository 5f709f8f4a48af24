"""What /proc says about processes, mounts and the machine."""
import os
import platform
import re

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _unescape_mount_field(field):
    # /proc/mounts escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(text=None):
    """(mount point, fstype) of every mount, oldest first."""
    if text is None:
        with open("/proc/self/mounts") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) >= 3:
            out.append((_unescape_mount_field(parts[1]), parts[2]))
    return out


def is_mounted(path, text=None):
    path = str(path)
    return any(mp == path for mp, _ in mounts(text))


def mounts_under(directory, text=None):
    """Mount points at or below `directory`."""
    d = str(directory).rstrip("/")
    return [mp for mp, _ in mounts(text) if mp == d or mp.startswith(d + "/")]


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def pids_with_argument(arg):
    """Processes (not this one) that have `arg` as one whole argument: the daemon
    serving a mount point is found by the mount point on its command line."""
    arg = str(arg)
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            args = _cmdline(int(name))
            if args and arg in args[1:]:
                found.append(int(name))
    return sorted(found)


def pids_mentioning(text):
    """Processes (not this one) with `text` anywhere in an argument."""
    text = str(text)
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            args = _cmdline(int(name))
            if args and any(text in a for a in args):
                found.append(int(name))
    return sorted(found)


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def cpu_seconds(pid, text=None):
    """User + system CPU time of every thread of `pid`, past and present; None if it is gone."""
    try:
        if text is None:
            with open("/proc/%d/stat" % pid) as f:
                text = f.read()
        # Fields after the command name (which may hold spaces and parentheses):
        # state is field 3, utime 14, stime 15.
        rest = text.rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def rss_mib(pid, text=None):
    """VmRSS of `pid` in MiB, from /proc/PID/status; None if it is gone."""
    try:
        if text is None:
            with open("/proc/%d/status" % pid) as f:
                text = f.read()
        m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024 if m else None
    except OSError:
        return None


def thread_count(pid):
    """Threads of `pid`, from /proc/PID/task; None if it is gone."""
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine():
    """One line: CPUs, CPU model, RAM, kernel."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            if m:
                model = m.group(1).strip()
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"^MemTotal:\s+(\d+)", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        kib = 0
    return "nproc %d, %s, %.0f GiB RAM, kernel %s" % (len(os.sched_getaffinity(0)), model, kib / 1048576,
                                                      platform.release())
