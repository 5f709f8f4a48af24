#!/usr/bin/env python3
"""The filesystem benchmark: native, passthrough_ll, gocryptfs and kmsfs side
by side, on DIR's filesystem and on a fresh tmpfs. scripts/bench.sh runs
this; --help says how. Standard library only.

A run: install and build what is missing, start kmsd, then on each backing,
for each repetition, mount every system (in an order that rotates), let each
settle, sample the idle daemons, and run every workload on all systems back
to back so they share the machine's load of the moment; then unmount, and
run the latency workload on kmsfs alone. The report (fsbench/report.py), one
section per backing, goes to stdout.
"""
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from fsbench import options, procinfo, report, systems, tools, workloads
from fsbench.results import Results
from fsbench.tools import BenchError, say
from fsbench.undo import Interrupted, UndoStack, raise_on_stop_signals

REPO = Path(__file__).resolve().parents[3]
TMPFS_SIZE = "6g"


class Run:
    def __init__(self, opts, undo):
        self.o = opts
        self.undo = undo
        self.run_dir = None      # on DIR's filesystem: tools, kmsd, logs, the tarball
        self.log_dir = None
        self.kmsd = None
        self.kmsd_latency = None
        self.passthrough_bin = None
        self.tarball = None
        self.tar_entries = self.tar_bytes = 0
        self.kmsfs_version = "not run"
        self.sections = []       # (backing, Results, report text), as each backing finishes

    # ------------------------------------------------------------ setup

    def tools(self):
        o = self.o
        needed = ["fuse3", "tar"]
        commands = ["fusermount3", "dd", "tar", "du", "ls", "rm", "findmnt", "sync"]
        if o.has_workload("rand"):
            needed.append("fio")
            commands.append("fio")
        if o.has_system("passthrough"):
            needed += ["libfuse3-dev", "build-essential", "pkg-config"]
            commands += ["gcc", "pkg-config"]
        if o.has_system("gocryptfs"):
            needed.append("gocryptfs")
            commands.append("gocryptfs")
        if o.has_system("kmsfs") and o.build:
            needed += ["cmake", "build-essential"]
            commands.append("cmake")
        if o.install:
            tools.install_packages(sorted(set(needed)))
        tools.require_commands(commands)

    def build(self):
        if not self.o.has_system("kmsfs"):
            return
        if self.o.build:
            tools.build_kmsfs(REPO, self.o.build_dir)
            self.kmsfs_version = tools.source_version(REPO)
        else:
            self.kmsfs_version = "%s, prebuilt in %s" % (tools.source_version(REPO), self.o.build_dir)
        for name in ("kmsfs", "kmsd"):
            if not os.access(self.o.build_dir / name, os.X_OK):
                raise BenchError("no %s in %s (build it, or drop --no-build)" % (name, self.o.build_dir))

    def make_run_dir(self):
        o = self.o
        self.run_dir = Path(tempfile.mkdtemp(prefix="kmsfs-bench.", dir=o.base_dir))
        run_dir = self.run_dir

        def remove_run_dir():
            # After a failure the daemons' last log lines are shown first
            # (show_daemon_logs); --keep keeps the whole logs too.
            if o.keep:
                say("run directory kept: %s" % run_dir)
            elif run_dir.exists():
                shutil.rmtree(run_dir)
        self.undo.push("remove " + str(run_dir), remove_run_dir)
        self.log_dir = run_dir / "logs"
        self.log_dir.mkdir()

    def prepare(self):
        o = self.o
        if o.has_system("passthrough"):
            self.passthrough_bin = tools.compile_passthrough(self.run_dir / "bin")
        if o.has_workload("tar"):
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kmsfs-bench"
            path, self.tar_entries, self.tar_bytes = tools.header_tarball(cache, o.sizes.tar_quick)
            self.tarball = self.run_dir / path.name
            shutil.copyfile(path, self.tarball)
        if o.has_system("kmsfs"):
            # One kmsd for every backing, on DIR's filesystem: it stands for a
            # KMS elsewhere and is not what is measured.
            kmsd_bin, kmsfs_bin = o.build_dir / "kmsd", o.build_dir / "kmsfs"
            self.kmsd = systems.Kmsd("kmsd", kmsd_bin, kmsfs_bin, self.run_dir, self.log_dir, self.undo)
            self.kmsd.start()
            self.key = self.kmsd.create_key("bench")
            if o.has_workload("latency"):
                self.kmsd_latency = systems.Kmsd("kmsd-latency", kmsd_bin, kmsfs_bin, self.run_dir, self.log_dir,
                                                 self.undo, latency_ms=o.latency_ms)
                self.kmsd_latency.start()
                self.key_latency = self.kmsd_latency.create_key("bench-latency")

    def make_work_dir(self, backing):
        """RUN_DIR/BACKING: a plain directory, or a fresh tmpfs mounted on it."""
        work = self.run_dir / backing
        work.mkdir()
        if backing == "tmpfs":
            def umount_tmpfs():
                if procinfo.is_mounted(work):
                    if subprocess.run(tools.as_root(["umount", str(work)])).returncode != 0:
                        subprocess.run(tools.as_root(["umount", "-l", str(work)]))
            self.undo.push("unmount the tmpfs on " + str(work), umount_tmpfs)
            tools.run(tools.as_root(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % TMPFS_SIZE, "kmsfs-bench",
                                     work]), "mounting a tmpfs on %s" % work)
        return work

    def make_system(self, name, work):
        if name == "native":
            return systems.Native(work, self.undo)
        if name == "passthrough":
            return systems.Passthrough(work, self.undo, self.passthrough_bin, self.log_dir)
        if name == "gocryptfs":
            return systems.Gocryptfs(work, self.undo, self.log_dir)
        return systems.Kmsfs("kmsfs", work, self.undo, self.o.build_dir / "kmsfs", self.kmsd, self.key,
                             self.log_dir)

    # ------------------------------------------------------------ the run

    def repetition(self, backing, work, results, rep):
        o = self.o
        ctx = workloads.Context(results=results, rep=rep, sizes=o.sizes, work=work,
                                data=os.urandom(o.sizes.file_bytes), kmsd=self.kmsd, tarball=self.tarball)
        names = list(o.systems)
        order = names[(rep - 1) % len(names):] + names[:(rep - 1) % len(names)]
        step = "%s, repetition %d/%d" % (backing, rep, o.reps)
        say("%s: mounting %s" % (step, " ".join(order)))
        mounted = []
        for name in order:
            s = self.make_system(name, work)
            s.mount()
            mounted.append(s)
        for s in mounted:
            s.settle()
        for s in mounted:
            if s.fuse:
                workloads.sample_daemons(ctx, s, "idle")
        for wname, fn in workloads.ON_EVERY_SYSTEM:
            if not o.has_workload(wname):
                continue
            say("%s: %s" % (step, wname))
            for s in mounted:
                fn(ctx, s)
                workloads.check_empty(s)
        for s in mounted:
            s.unmount()
            shutil.rmtree(s.dir)
        if o.has_system("kmsfs") and o.has_workload("latency"):
            say("%s: kmsfs with %d ms KMS latency" % (step, o.latency_ms))
            s = systems.Kmsfs(report.LATENCY_SYSTEM, work, self.undo, o.build_dir / "kmsfs", self.kmsd_latency,
                              self.key_latency, self.log_dir)
            s.mount()
            workloads.latency(ctx, s)
            workloads.check_empty(s)
            s.unmount()
            shutil.rmtree(s.dir)

    def backing(self, backing):
        """Every repetition on one backing; its report section, and the undo of its work dir."""
        mark = len(self.undo)
        work = self.make_work_dir(backing)
        results = Results()
        load_start = procinfo.loadavg()
        for rep in range(1, self.o.reps + 1):
            self.repetition(backing, work, results, rep)
        lines = ["## On %s" % ("a tmpfs" if backing == "tmpfs" else "disk"), "",
                 "- backing filesystem: %s%s" % (self.backing_fs(work),
                                                 " (a fresh tmpfs, size %s)" % TMPFS_SIZE if backing == "tmpfs"
                                                 else ""),
                 "- load average before %s, after %s" % (load_start, procinfo.loadavg())]
        text = report.render(results, lines, self.o.latency_ms)
        self.sections.append((backing, results, text))
        if self.undo.unwind(down_to=mark):
            raise BenchError("cleaning up after the %s runs failed" % backing)

    @staticmethod
    def backing_fs(work):
        try:
            fs = tools.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", work], output=True).split()
            return "%s on %s (%s)" % (fs[0], fs[1], fs[2]) if len(fs) >= 3 else " ".join(fs)
        except BenchError:
            return "?"

    def header(self, started):
        o, z = self.o, self.o.sizes
        sizes = ["sequential %d MiB" % z.seq_mib, "fio %d MiB file, %d s each" % (z.fio_mib, z.fio_seconds),
                 "small files %d x %d B in %d dirs" % (z.small_files, z.file_bytes, z.small_dirs),
                 "spread %d files in %d dirs" % (z.spread_files, z.spread_dirs),
                 "churn %d creates in %d dirs, %d kept" % (z.churn_creates, z.churn_dirs, z.churn_live)]
        if self.tarball:
            sizes.append("tar tree %d entries, %d MB" % (self.tar_entries, self.tar_bytes // 1000000))
        return [
            "# Filesystem benchmark run",
            "",
            "Command: `%s` (repetitions: %d; medians; ±: half the range)" % (o.command_line, o.reps),
            "",
            "- started %s, work under %s" % (started, o.base_dir),
            "- machine: " + procinfo.machine(),
            "- sizes (%s): %s" % (o.size, "; ".join(sizes)),
            "- versions: kmsfs %s, %s" % (self.kmsfs_version, tools.versions(o.has_system("gocryptfs"))),
            "- systems: passthrough = libfuse's passthrough_ll example `-o cache=always,writeback`; gocryptfs and "
            "kmsfs (`kmsfs mount`, kmsd) with their defaults",
            "",
        ]

    def execute(self):
        o = self.o
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.tools()
        self.build()
        self.make_run_dir()
        self.prepare()
        say("run directory %s, %d repetition(s), on %s, systems %s, workloads %s" %
            (self.run_dir, o.reps, ",".join(o.backings), ",".join(o.systems), ",".join(o.workloads)))
        for backing in o.backings:
            self.backing(backing)
        parts = [t for _, _, t in self.sections]
        if len(self.sections) > 1:
            parts.append(report.summary([(b, r) for b, r, _ in self.sections], o.latency_ms))
        text = "\n".join(self.header(started)) + "\n" + "\n".join(parts)
        sys.stdout.write("\n" + text)
        sys.stdout.flush()
        if o.out:
            o.out.write_text(text)
            for backing, results, _ in self.sections:
                raw = o.out.with_suffix(".%s.tsv" % backing)
                raw.write_text(results.to_tsv())
            say("report written to %s (raw values next to it, one .BACKING.tsv each)" % o.out)

    def show_daemon_logs(self):
        """The last lines of each daemon's log, for a run that failed."""
        if self.log_dir is None or not self.log_dir.is_dir():
            return
        for log in sorted(list(self.log_dir.glob("*.log")) + list(self.log_dir.glob("*.out"))):
            lines = log.read_text(errors="replace").strip().splitlines()
            if lines:
                say("last lines of %s:" % log)
                sys.stderr.write("".join("  %s\n" % ln for ln in lines[-5:]))


def main(argv):
    try:
        opts = options.parse(argv[1:], REPO)
    except options.UsageError as e:
        sys.stderr.write("bench: error: %s\n" % e)
        return 2
    undo = UndoStack(say=say)
    raise_on_stop_signals()
    run = Run(opts, undo)
    code = 0
    try:
        try:
            run.execute()
        except Interrupted as e:
            say("stopped by %s; undoing the mounts and daemons" % e)
            code = 128 + e.signum
        except (BenchError, OSError, subprocess.CalledProcessError) as e:
            say("error: %s" % e)
            code = 1
        except Exception:
            traceback.print_exc()
            code = 1
        if code != 0:
            run.show_daemon_logs()
    finally:
        if undo.unwind() and code == 0:
            code = 1
    if code == 1:
        say("failed")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
