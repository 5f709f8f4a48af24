"""The workloads: each runs on one mounted system and records its metrics.

Every workload leaves the system's target as empty as it found it. Times are
wall-clock (time.perf_counter) around the step alone; the daemons' CPU is
taken from /proc around the same step (procinfo.cpu_seconds: every thread).
"""
import dataclasses
import json
import random
import subprocess
import time
from pathlib import Path

from fsbench import procinfo, smallfiles
from fsbench.report import KMSD
from fsbench.tools import BenchError, drop_caches, run, say


@dataclasses.dataclass
class Context:
    results: object       # results.Results
    rep: int
    sizes: object         # options.Sizes
    work: Path
    data: bytes           # every small file's content
    kmsd: object = None   # systems.Kmsd serving "kmsfs", for its CPU and memory
    tarball: Path = None

    @property
    def seed(self):
        """Random choices (churn's directories, shuffle's order) are the same
        for every system within a repetition, and differ between repetitions."""
        return 7919 * self.rep


def _record(ctx, system, metric, value):
    ctx.results.add(ctx.rep, system, metric, value)


def _kmsd_of(ctx, system):
    return ctx.kmsd if ctx.kmsd is not None and system.name == "kmsfs" else None


def measure(ctx, system, metric, step, value=lambda elapsed, result: elapsed, unit="s"):
    """Times `step()`; records value(elapsed, step's result) as `metric`, and
    the CPU the system's daemon (and its kmsd) spent meanwhile."""
    kmsd = _kmsd_of(ctx, system)
    pid = system.pid
    cpu0 = procinfo.cpu_seconds(pid) if pid else None
    kmsd0 = procinfo.cpu_seconds(kmsd.pid) if kmsd else None
    t0 = time.perf_counter()
    result = step()
    elapsed = time.perf_counter() - t0
    cpu1 = procinfo.cpu_seconds(pid) if pid else None
    v = value(elapsed, result)
    _record(ctx, system.name, metric, v)
    if cpu0 is not None and cpu1 is not None:
        _record(ctx, system.name, "cpu_" + metric, cpu1 - cpu0)
    if kmsd0 is not None:
        kmsd1 = procinfo.cpu_seconds(kmsd.pid)
        if kmsd1 is not None:
            _record(ctx, KMSD, "cpu_" + metric, kmsd1 - kmsd0)
    say("  %s %s: %.4g %s" % (system.name, metric, v, unit))
    return result


def sample_daemons(ctx, system, when):
    """VmRSS and thread count of the system's daemon (and kmsd) as rss_WHEN, threads_WHEN."""
    for name, pid in ((system.name, system.pid), (KMSD, _kmsd_of(ctx, system) and ctx.kmsd.pid)):
        if not pid:
            continue
        rss, threads = procinfo.rss_mib(pid), procinfo.thread_count(pid)
        _record(ctx, name, "rss_" + when, rss)
        _record(ctx, name, "threads_" + when, threads)
        if rss is not None:
            say("  %s %s: VmRSS %.1f MiB, %s threads" % (name, when, rss, threads))


def _rm_tree(path):
    run(["rm", "-rf", path], "rm -rf %s" % path)


def _du_kib(path):
    return int(run(["du", "-sk", path], "du", output=True).split()[0])


def _mb_per_s(mib):
    return lambda elapsed, _: mib * 1048576 / 1e6 / elapsed


def seq(ctx, system):
    """1 GiB written with fsync at the end, then read back with caches dropped."""
    f = system.target / "seq.bin"
    mib = ctx.sizes.seq_mib
    drop_caches()
    measure(ctx, system, "seq_write",
            lambda: run(["dd", "if=/dev/zero", "of=%s" % f, "bs=1M", "count=%d" % mib, "conv=fsync", "status=none"],
                        "dd write"), _mb_per_s(mib), "MB/s")
    drop_caches()
    measure(ctx, system, "seq_read", lambda: run(["dd", "if=%s" % f, "of=/dev/null", "bs=1M", "status=none"],
                                                 "dd read"), _mb_per_s(mib), "MB/s")
    f.unlink()


def _fio(ctx, system, rw):
    out = ctx.work / ("fio-%s-%s-%d.json" % (system.name, rw, ctx.rep))
    run(["fio", "--name=bench", "--filename=%s" % (system.target / "fio.bin"), "--size=%dM" % ctx.sizes.fio_mib,
         "--bs=4k", "--ioengine=psync", "--rw=" + rw, "--runtime=%d" % ctx.sizes.fio_seconds, "--time_based",
         "--output-format=json", "--output=%s" % out], "%s: fio %s" % (system.name, rw))
    job = json.loads(out.read_text())["jobs"][0]
    return job["read" if rw == "randread" else "write"]["iops"]


def rand(ctx, system):
    """fio, one job, psync: 4 KiB random reads, then writes, on a file of random bytes."""
    f = system.target / "fio.bin"
    run(["dd", "if=/dev/urandom", "of=%s" % f, "bs=1M", "count=%d" % ctx.sizes.fio_mib, "conv=fsync",
         "status=none"], "dd (fio's file)")
    for rw, metric in (("randread", "rand_read"), ("randwrite", "rand_write")):
        drop_caches()
        measure(ctx, system, metric, lambda: _fio(ctx, system, rw), lambda _, iops: iops, "IOPS")
    f.unlink()


def small(ctx, system):
    """The small-file tree: create, ls -lR, read all, read all after a remount, delete."""
    z = ctx.sizes
    root = system.target / "small"
    subprocess.run(["sync"], check=True)
    before = _du_kib(system.backing)
    _record(ctx, system.name, "small_files", z.small_files)
    measure(ctx, system, "small_create", lambda: smallfiles.create_tree(root, z.small_dirs, z.small_per_dir, ctx.data))
    subprocess.run(["sync"], check=True)
    _record(ctx, system.name, "du_small", _du_kib(system.backing) - before)
    drop_caches()
    measure(ctx, system, "small_ls", lambda: run(["ls", "-lR", root], "ls -lR"))
    drop_caches()
    measure(ctx, system, "small_read", lambda: smallfiles.read_walk(root))
    system.remount()
    drop_caches()
    system.settle()
    measure(ctx, system, "small_read_remount", lambda: smallfiles.read_walk(root))
    measure(ctx, system, "small_delete", lambda: run(["rm", "-rf", root], "rm -rf"))


def spread(ctx, system):
    """Files spread thin over many directories (by default the small tree's
    5 000 over 500), each create in another directory than the one before:
    create, ls -lR, delete."""
    z = ctx.sizes
    root = system.target / "spread"
    measure(ctx, system, "spread_create",
            lambda: smallfiles.create_spread(root, z.spread_dirs, z.spread_per_dir, ctx.data))
    drop_caches()
    measure(ctx, system, "spread_ls", lambda: run(["ls", "-lR", root], "ls -lR"))
    measure(ctx, system, "spread_delete", lambda: run(["rm", "-rf", root], "rm -rf"))


def churn(ctx, system):
    """Creates into random directories, each past the first few followed by
    the delete of a random existing file (a spool, a cache, a build's objects)."""
    z = ctx.sizes
    root = system.target / "churn"
    rng = random.Random(ctx.seed)
    measure(ctx, system, "churn",
            lambda: smallfiles.churn(root, z.churn_dirs, z.churn_creates, z.churn_live, ctx.data, rng))
    _rm_tree(root)


def shuffle(ctx, system):
    """A small-file tree read in random order by paths the reader already
    knows (no listing first): caches dropped, then after a remount."""
    z = ctx.sizes
    root = system.target / "shuffle"
    paths = smallfiles.create_tree(root, z.small_dirs, z.small_per_dir, ctx.data)
    rng = random.Random(ctx.seed)
    rng.shuffle(paths)
    drop_caches()
    measure(ctx, system, "shuffle_read", lambda: smallfiles.read_paths(paths))
    system.remount()
    drop_caches()
    system.settle()
    rng.shuffle(paths)
    measure(ctx, system, "shuffle_read_remount", lambda: smallfiles.read_paths(paths))
    _rm_tree(root)


def tar(ctx, system):
    """Untar the header tree (then the daemons' memory and threads), and tar
    it again with caches dropped (through cat: GNU tar reads nothing when it
    sees it writes to /dev/null)."""
    tree = system.target / "tree"
    tree.mkdir()
    measure(ctx, system, "untar", lambda: run(["tar", "-xf", ctx.tarball, "-C", tree], "untar"))
    sample_daemons(ctx, system, "untar")
    drop_caches()
    measure(ctx, system, "tar", lambda: run(["bash", "-o", "pipefail", "-c", 'tar -cf - -C "$1" . | cat >/dev/null',
                                             "tar", tree], "tar"))
    _rm_tree(tree)


def latency(ctx, system):
    """kmsfs against a slow KMS: the small-file create, and the read of the
    tree after a remount (one decrypt-datakey per file)."""
    z = ctx.sizes
    root = system.target / "small"
    system.settle()
    _record(ctx, system.name, "small_files", z.small_files)
    measure(ctx, system, "small_create", lambda: smallfiles.create_tree(root, z.small_dirs, z.small_per_dir, ctx.data))
    subprocess.run(["sync"], check=True)
    system.remount()
    drop_caches()
    system.settle()
    measure(ctx, system, "small_read_remount", lambda: smallfiles.read_walk(root))
    _rm_tree(root)


# Run on every system, in this order; latency is run apart (on kmsfs alone).
ON_EVERY_SYSTEM = (("seq", seq), ("rand", rand), ("small", small), ("spread", spread), ("churn", churn),
                   ("shuffle", shuffle), ("tar", tar))


def check_empty(system):
    left = sorted(p.name for p in Path(system.target).iterdir())
    if left:
        raise BenchError("%s: the workload left %s behind" % (system.name, ", ".join(left)))
