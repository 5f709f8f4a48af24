import os
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from fsbench import options

HERE = Path(__file__).resolve().parent
BENCH_PY = HERE.parent / "bench.py"


class OptionsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def parse(self, *argv):
        return options.parse([*argv, str(self.dir)], repo=self.dir)

    def assertUsageError(self, argv, *fragments):
        with self.assertRaises(options.UsageError) as cm:
            options.parse(list(argv), repo=self.dir)
        message = str(cm.exception)
        self.assertNotIn("\n", message)
        for f in fragments:
            self.assertIn(f, message)

    def test_defaults_are_every_system_and_workload_three_times(self):
        o = self.parse()
        self.assertEqual(o.systems, options.SYSTEMS)
        self.assertEqual(o.workloads, options.WORKLOADS)
        self.assertEqual(o.reps, 3)
        self.assertEqual(o.latency_ms, 20)
        self.assertEqual(o.build_dir, self.dir / "build-bench")
        self.assertIs(o.sizes, options.FULL)

    def test_runs_on_disk_then_tmpfs_unless_told(self):
        self.assertEqual(self.parse().backings, ("disk", "tmpfs"))
        self.assertEqual(self.parse("--on", "tmpfs,disk").backings, ("disk", "tmpfs"))
        self.assertEqual(self.parse("--on", "disk").backings, ("disk",))
        self.assertEqual(self.parse("--tmpfs").backings, ("tmpfs",))
        self.assertUsageError(["--on", "nfs", str(self.dir)], "--on", "nfs", "disk,tmpfs")

    def test_quick_means_one_repetition_at_small_sizes_unless_reps_given(self):
        self.assertEqual(self.parse("--quick").reps, 1)
        self.assertIs(self.parse("--quick").sizes, options.QUICK)
        self.assertEqual(self.parse("--quick", "--reps", "2").reps, 2)

    def test_size_picks_the_sizes_and_keeps_three_repetitions(self):
        o = self.parse("--size", "medium")
        self.assertIs(o.sizes, options.MEDIUM)
        self.assertEqual(o.reps, 3)
        self.assertGreater(options.MEDIUM.small_files, 256)  # past the DEK pool
        self.assertIs(self.parse("--quick", "--size", "quick").sizes, options.QUICK)
        self.assertUsageError(["--quick", "--size", "full", str(self.dir)], "--quick", "--size full")
        self.assertUsageError(["--size", "huge", str(self.dir)], "--size", "huge")

    def test_lists_come_back_once_each_in_canonical_order(self):
        o = self.parse("--systems", "kmsfs,native,kmsfs", "--workloads", "tar,seq")
        self.assertEqual(o.systems, ("native", "kmsfs"))
        self.assertEqual(o.workloads, ("seq", "tar"))

    def test_full_sizes_are_the_issues(self):
        z = options.FULL
        self.assertEqual((z.seq_mib, z.fio_mib, z.fio_seconds), (1024, 256, 20))
        self.assertEqual((z.small_files, z.file_bytes, z.small_dirs), (5000, 4096, 50))
        self.assertEqual((z.spread_files, z.spread_dirs), (5000, 500))

    def test_rejects_a_repetition_count_that_is_not_positive(self):
        self.assertUsageError(["--reps", "0", str(self.dir)], "--reps", "at least 1", "'0'")
        self.assertUsageError(["--reps", "three", str(self.dir)], "--reps", "'three'")

    def test_rejects_a_negative_latency(self):
        self.assertUsageError(["--latency-ms", "-5", str(self.dir)], "--latency-ms", "'-5'")

    def test_rejects_unknown_systems_and_workloads_naming_the_choices(self):
        self.assertUsageError(["--systems", "kmsfs,ecryptfs", str(self.dir)], "ecryptfs", "native,passthrough")
        self.assertUsageError(["--workloads", "seq,fsync", str(self.dir)], "fsync", "churn")
        self.assertUsageError(["--workloads", ",", str(self.dir)], "--workloads")

    def test_rejects_a_dir_that_is_not_a_directory(self):
        f = self.dir / "file"
        f.write_text("")
        self.assertUsageError([str(f)], str(f), "not a directory")
        self.assertUsageError([str(self.dir / "missing")], "not a directory")

    def test_rejects_an_out_file_whose_directory_is_missing_or_that_is_a_directory(self):
        self.assertUsageError(["--out", str(self.dir / "no" / "r.md"), str(self.dir)], "does not exist")
        self.assertUsageError(["--out", str(self.dir), str(self.dir)], "is a directory")

    def test_no_build_needs_the_binaries_when_kmsfs_runs(self):
        build = self.dir / "b"
        build.mkdir()
        self.assertUsageError(["--no-build", "--build-dir", str(build), str(self.dir)], "no kmsfs in", str(build))
        for name in ("kmsfs", "kmsd"):
            (build / name).write_text("#!/bin/sh\n")
            (build / name).chmod(stat.S_IRWXU)
        self.assertFalse(self.parse("--no-build", "--build-dir", str(build)).build)
        # Without kmsfs in the run, nothing is needed.
        self.parse("--no-build", "--build-dir", str(self.dir / "none"), "--systems", "native")

    def test_command_line_is_quoted_for_the_shell(self):
        o = self.parse("--systems", "native")
        self.assertEqual(o.command_line, "scripts/bench.sh --systems native %s" % self.dir)
        o = options.parse(["--out", str(self.dir / "a b.md"), str(self.dir)], repo=self.dir)
        self.assertIn("'%s'" % (self.dir / "a b.md"), o.command_line)


class CommandLineTest(unittest.TestCase):
    def run_bench(self, *argv):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run([sys.executable, str(BENCH_PY), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=60)

    def test_bad_usage_exits_2_with_one_line_on_stderr(self):
        p = self.run_bench("--reps", "x")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertTrue(p.stderr.startswith("bench: error: "), p.stderr)

    def test_help_lists_every_workload_and_exits_0(self):
        p = self.run_bench("--help")
        self.assertEqual(p.returncode, 0)
        for w in options.WORKLOADS:
            self.assertIn("  %s " % w, p.stdout)


if __name__ == "__main__":
    unittest.main()
