"""The harness's command line: parsing, checking, and the sizes it implies.

Every mistake is one UsageError naming the option, what it wants and what it
got; bench.py prints it as one line and exits 2.
"""
import argparse
import dataclasses
import os
import shlex
from pathlib import Path

SYSTEMS = ("native", "passthrough", "gocryptfs", "kmsfs")
# Where the systems' backing directories live: DIR's own filesystem, and a
# fresh tmpfs (no disk: what is left is the CPU cost of each layer).
BACKINGS = ("disk", "tmpfs")
# In the order they run within a repetition; latency runs last, on kmsfs alone.
WORKLOADS = ("seq", "rand", "small", "spread", "churn", "shuffle", "tar", "latency")


class UsageError(Exception):
    """A bad command line; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Sizes:
    seq_mib: int          # sequential write and read
    fio_mib: int          # the file fio reads and writes at random
    fio_seconds: int      # per fio job
    small_dirs: int       # small, shuffle and latency: a tree of small_dirs x small_per_dir files
    small_per_dir: int
    file_bytes: int       # every small file's size
    spread_dirs: int      # spread: few files in each of many directories
    spread_per_dir: int
    churn_dirs: int       # churn: creates into random directories ...
    churn_creates: int
    churn_live: int       # ... each past this many files followed by the delete of a random one
    tar_quick: bool       # tar /usr/include/linux instead of /usr/include

    @property
    def small_files(self):
        return self.small_dirs * self.small_per_dir

    @property
    def spread_files(self):
        return self.spread_dirs * self.spread_per_dir


# The sizes: 1 GiB sequential, fio on 256 MiB for 20 s, 5 000 files
# of 4 KiB (in 50 directories, and in 500 for spread), /usr/include as tar.
FULL = Sizes(seq_mib=1024, fio_mib=256, fio_seconds=20, small_dirs=50, small_per_dir=100, file_bytes=4096,
             spread_dirs=500, spread_per_dir=10, churn_dirs=50, churn_creates=5000, churn_live=1000,
             tar_quick=False)
# For a shared or slow machine: 2 000 files (still well past the DEK pool's
# 256, so the latency workload measures refills, not the pool), the kernel
# headers as tar.
MEDIUM = Sizes(seq_mib=256, fio_mib=128, fio_seconds=5, small_dirs=20, small_per_dir=100, file_bytes=4096,
               spread_dirs=200, spread_per_dir=10, churn_dirs=20, churn_creates=2000, churn_live=400,
               tar_quick=True)
# A sanity run: every step once, in a few minutes.
QUICK = Sizes(seq_mib=128, fio_mib=64, fio_seconds=5, small_dirs=5, small_per_dir=100, file_bytes=4096,
              spread_dirs=50, spread_per_dir=10, churn_dirs=5, churn_creates=500, churn_live=100,
              tar_quick=True)
SIZES = {"quick": QUICK, "medium": MEDIUM, "full": FULL}


@dataclasses.dataclass(frozen=True)
class Options:
    reps: int
    size: str             # a key of SIZES
    systems: tuple
    workloads: tuple
    backings: tuple
    latency_ms: int
    out: Path | None
    build_dir: Path
    build: bool
    install: bool
    keep: bool
    base_dir: Path
    command_line: str

    @property
    def sizes(self):
        return SIZES[self.size]

    def has_system(self, name):
        return name in self.systems

    def has_workload(self, name):
        return name in self.workloads


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message + " (see --help)")


def _whole(least):
    def parse(text):
        try:
            value = int(text, 10)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError("wants a whole number of at least %d, got %r" % (least, text))
        return value
    return parse


def _choices(kind, allowed):
    def parse(text):
        names = [n for n in text.split(",") if n]
        if not names:
            raise argparse.ArgumentTypeError("wants a comma list of %s from %s, got %r" % (kind, ",".join(allowed), text))
        for n in names:
            if n not in allowed:
                raise argparse.ArgumentTypeError("unknown %s %r (choose from %s)" % (kind[:-1], n, ",".join(allowed)))
        # Kept in the canonical order, once each, whatever order they were given in.
        return tuple(a for a in allowed if a in names)
    return parse


DESCRIPTION = """\
Side-by-side filesystem benchmark: a native directory, plaintext passthrough
FUSE (libfuse's passthrough_ll example, compiled here), gocryptfs and kmsfs,
all on the same backing filesystem in the same run. Prints one Markdown report:
medians and ratios (kmsfs / gocryptfs, kmsfs / passthrough), the daemons' CPU,
memory and threads, disk use of a small-file tree, KMS latency hiding, and the
goals met or not (docs/BENCHMARKS.md describes every workload)."""

EPILOG = """\
workloads (sizes of --size full; medium has 2 000 files, quick 500):
  seq      1 GiB written with fsync, then read with caches dropped (dd)
  rand     random 4 KiB reads, then writes, psync, on a 256 MiB file (fio)
  small    5 000 files of 4 KiB in 50 directories: create, ls -lR, read all,
           read all after a remount, delete; disk use of the tree
  spread   5 000 files over 500 directories, each create in another one:
           create, ls -lR, delete
  churn    5 000 creates into random directories, each past the first 1 000
           followed by the delete of a random file
  shuffle  a 5 000-file tree read in random order, without listing it:
           caches dropped, and after a remount
  tar      untar /usr/include (without node), then tar it again
  latency  kmsfs alone against a kmsd with --latency-ms: small's create, and
           its read after a remount

Needs root (or sudo) to drop the page cache, to mount the tmpfs and to install
packages. Every mount is undone and every daemon it started is stopped on
exit, also on failure or Ctrl-C. Exit: 0 the run completed (goals may be
unmet: read the report), 1 it failed, 2 bad usage."""


def parse(argv, repo):
    """Options from `argv` (without the program name). `repo` is the source tree."""
    p = _Parser(prog="scripts/bench.sh", description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", nargs="?", default="/tmp", metavar="DIR",
                   help="where the work directory goes (default /tmp)")
    p.add_argument("--quick", action="store_true", help="the same as --size quick --reps 1 (a sanity run of a few "
                   "minutes; --reps still counts)")
    p.add_argument("--size", choices=tuple(SIZES), metavar="SIZE",
                   help="quick, medium or full (default full: the sizes of the workloads below)")
    p.add_argument("--reps", type=_whole(1), metavar="N", help="repetitions (default 3; the median is quoted)")
    p.add_argument("--systems", type=_choices("systems", SYSTEMS), default=SYSTEMS, metavar="LIST",
                   help="comma list of %s (default: all)" % ",".join(SYSTEMS))
    p.add_argument("--workloads", type=_choices("workloads", WORKLOADS), default=WORKLOADS, metavar="LIST",
                   help="comma list of %s (default: all)" % ",".join(WORKLOADS))
    p.add_argument("--on", type=_choices("backings", BACKINGS), default=BACKINGS, metavar="LIST", dest="backings",
                   help="comma list of %s: DIR's filesystem, a fresh tmpfs under DIR (default: both, one after "
                        "the other)" % ",".join(BACKINGS))
    p.add_argument("--tmpfs", action="store_true", help="the same as --on tmpfs")
    p.add_argument("--latency-ms", type=_whole(0), default=20, metavar="N",
                   help="KMS latency for the latency workload (default 20)")
    p.add_argument("--out", metavar="FILE", help="also write the report to FILE (Markdown) and the raw values "
                   "next to it (FILE's name with .disk.tsv and .tmpfs.tsv for its suffix)")
    p.add_argument("--build-dir", metavar="D", help="where kmsfs and kmsd are built (default: REPO/build-bench)")
    p.add_argument("--no-build", action="store_true", help="use the kmsfs and kmsd already in the build dir")
    p.add_argument("--no-install", action="store_true", help="do not apt-get install missing tools")
    p.add_argument("--keep", action="store_true", help="keep the work directory (backing dirs, logs, raw results)")
    a = p.parse_args(argv)

    base = Path(a.dir)
    if not base.is_dir():
        raise UsageError("DIR %s is not a directory" % a.dir)
    out = None
    if a.out is not None:
        out = Path(a.out).absolute()
        if not out.parent.is_dir():
            raise UsageError("--out %s: directory %s does not exist" % (a.out, out.parent))
        if out.is_dir():
            raise UsageError("--out %s is a directory; name a file" % a.out)
    if a.quick and a.size not in (None, "quick"):
        raise UsageError("--quick and --size %s contradict each other (--quick is --size quick)" % a.size)
    size = "quick" if a.quick else (a.size or "full")
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    build_dir = Path(a.build_dir).absolute() if a.build_dir else Path(repo) / "build-bench"
    if a.no_build and "kmsfs" in a.systems:
        for name in ("kmsfs", "kmsd"):
            if not os.access(build_dir / name, os.X_OK):
                raise UsageError("--no-build: no %s in %s (build it, or drop --no-build)" % (name, build_dir))
    backings = ("tmpfs",) if a.tmpfs else a.backings
    return Options(reps=reps, size=size, systems=a.systems, workloads=a.workloads, backings=backings,
                   latency_ms=a.latency_ms, out=out, build_dir=build_dir, build=not a.no_build,
                   install=not a.no_install, keep=a.keep, base_dir=base.resolve(),
                   command_line=" ".join(["scripts/bench.sh"] + [shlex.quote(x) for x in argv]))
