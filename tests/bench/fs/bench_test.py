#!/usr/bin/env python3
"""The benchmark harness's unit tests: every fsbench/*_test.py, and
scripts/bench.sh as the harness's front door. Nothing here mounts or starts a
daemon, so it runs under ctest in a few seconds (bench_run_test.py holds the
whole runs that do).

  python3 -B tests/bench/fs/bench_test.py
"""
import os
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BENCH_SH = HERE.parents[2] / "scripts" / "bench.sh"
MODULES = ("options", "procinfo", "report", "results", "smallfiles", "undo")


class WrapperTest(unittest.TestCase):
    """scripts/bench.sh parses nothing itself: the harness sees every argument."""

    def run_wrapper(self, *argv):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run(["bash", str(BENCH_SH), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=60)

    def test_help_comes_from_the_harness(self):
        p = self.run_wrapper("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("usage: scripts/bench.sh", p.stdout)
        self.assertIn("--on LIST", p.stdout)

    def test_bad_usage_reaches_the_harness_and_exits_2(self):
        p = self.run_wrapper("--systems", "ext4")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.splitlines(), ["bench: error: argument --systems: unknown system 'ext4' "
                                                 "(choose from native,passthrough,gocryptfs,kmsfs) (see --help)"])

    def test_arguments_with_spaces_arrive_whole(self):
        p = self.run_wrapper("/no such dir")
        self.assertEqual(p.returncode, 2)
        self.assertIn("DIR /no such dir is not a directory", p.stderr)


def load_tests(loader, tests, _pattern):
    for m in MODULES:
        tests.addTests(loader.loadTestsFromName("fsbench.%s_test" % m))
    return tests


if __name__ == "__main__":
    unittest.main()
