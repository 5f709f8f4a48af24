"""Whole runs of bench.py that really mount: a quick run, a run stopped with
Ctrl-C, and a run whose kmsfs mount fails. After each, nothing the run
started may remain: no mount under its directory, no process naming it, no
work directory.

Not under ctest (they mount and take minutes): run them by hand after
changing the harness, with kmsfs and kmsd built:
  KMSFS_BUILD_DIR=build python3 -B tests/bench/fs/bench_run_test.py

Needs root (the run drops the page cache), /dev/fuse, gcc with libfuse3-dev
(for passthrough_ll) and kmsfs and kmsd in $KMSFS_BUILD_DIR. Where they are
missing the tests are skipped, except under CI=true, where they fail.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fsbench import procinfo  # noqa: E402

BENCH_PY = HERE / "bench.py"
BUILD_DIR = Path(os.environ.get("KMSFS_BUILD_DIR", HERE.parents[2] / "build"))
RUN_DEADLINE_S = 600
STOP_DEADLINE_S = 120


def missing_prerequisite():
    if os.geteuid() != 0:
        return "not root (the run drops the page cache)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not usable"
    for tool in ("fusermount3", "gcc", "pkg-config"):
        if shutil.which(tool) is None:
            return tool + " is missing"
    for name in ("kmsfs", "kmsd"):
        if not os.access(BUILD_DIR / name, os.X_OK):
            return "no %s in %s" % (name, BUILD_DIR)
    return None


def wait_until(predicate, deadline_s):
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)
    return True


class BenchRunTest(unittest.TestCase):
    def setUp(self):
        why = missing_prerequisite()
        if why:
            if os.environ.get("CI") == "true":
                self.fail("cannot run under CI=true: " + why)
            self.skipTest(why)
        self.base = Path(tempfile.mkdtemp(prefix="bench-test."))
        self.addCleanup(self.cleanup_base)

    def cleanup_base(self):
        # Last resort, so that a failing test does not leave mounts behind either.
        for mp in reversed(procinfo.mounts_under(self.base)):
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        for pid in procinfo.pids_mentioning(self.base):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

    def command(self, *argv, build_dir=BUILD_DIR):
        return [sys.executable, "-B", str(BENCH_PY), "--quick", "--no-install", "--no-build", "--build-dir",
                str(build_dir), "--on", "disk", *argv, str(self.base)]

    def assertNothingLeft(self):
        self.assertEqual(procinfo.mounts_under(self.base), [])
        self.assertTrue(wait_until(lambda: not procinfo.pids_mentioning(self.base), 10),
                        "processes left: %s" % procinfo.pids_mentioning(self.base))
        self.assertEqual(sorted(p.name for p in self.base.iterdir()), [])

    def test_quick_run_reports_every_system_and_leaves_nothing_behind(self):
        out = self.base.parent / (self.base.name + "-report.md")
        self.addCleanup(lambda: [p.unlink() for p in (out, out.with_suffix(".disk.tsv")) if p.exists()])
        p = subprocess.run(self.command("--systems", "native,passthrough,kmsfs", "--workloads", "small,churn",
                                        "--out", str(out)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=RUN_DEADLINE_S)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("| workload | unit | native | passthrough | kmsfs | kmsfs/passthrough |", p.stdout)
        for row in ("small files: create", "small files: read all after remount", "churn: creates with deletes"):
            line = next((ln for ln in p.stdout.splitlines() if ln.startswith("| " + row)), "")
            self.assertNotIn("—", line, row)
            self.assertTrue(line, row)
        self.assertRegex(p.stdout, r"\| threads, idle mount \| count \| \d+ \| \d+ \| \d+ \|")
        self.assertEqual(out.read_text(), p.stdout.lstrip("\n"))
        self.assertIn("\tkmsfs\tsmall_create\t", out.with_suffix(".disk.tsv").read_text())
        self.assertNothingLeft()

    def test_ctrl_c_undoes_the_mounts_and_stops_kmsd(self):
        p = subprocess.Popen(self.command("--systems", "passthrough,kmsfs", "--workloads", "small,churn,latency",
                                          "--reps", "50"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            mounted = wait_until(lambda: any(mp.endswith("/kmsfs/mnt") for mp in procinfo.mounts_under(self.base)),
                                 STOP_DEADLINE_S)
            self.assertTrue(mounted, "kmsfs was never mounted")
            self.assertTrue(procinfo.pids_mentioning(self.base))  # kmsd and the daemons
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=STOP_DEADLINE_S)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("stopped by SIGINT", err)
        self.assertNothingLeft()

    def test_failed_mount_undoes_what_the_run_had_started(self):
        # A kmsfs whose mount always fails, and the real kmsd.
        fake = self.base.parent / (self.base.name + "-build")
        fake.mkdir()
        self.addCleanup(shutil.rmtree, fake, True)
        (fake / "kmsd").symlink_to(BUILD_DIR / "kmsd")
        (fake / "kmsfs").write_text('#!/bin/sh\nif [ "$1" = mount ]; then echo "kmsfs: mount refused: test" >&2; '
                                    'exit 1; fi\nexec "%s" "$@"\n' % (BUILD_DIR / "kmsfs"))
        (fake / "kmsfs").chmod(0o755)
        p = subprocess.run(self.command("--systems", "passthrough,kmsfs", "--workloads", "small", build_dir=fake),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=RUN_DEADLINE_S)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("bench: error: mounting kmsfs failed (exit 1): kmsfs: mount refused: test", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertNothingLeft()


if __name__ == "__main__":
    unittest.main()
