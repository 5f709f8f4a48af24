import os
import subprocess
import sys
import unittest
import time
import uuid

from fsbench import procinfo

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
kmsfs-bench /tmp/kmsfs-bench.x tmpfs rw 0 0
/tmp/back /tmp/kmsfs-bench.x/kmsfs/mnt fuse.kmsfs rw,nosuid 0 0
/tmp/b /tmp/kmsfs-bench.x/a\\040b/mnt fuse rw 0 0
/tmp/c /tmp/kmsfs-bench.xy/mnt fuse rw 0 0
"""


class ProcInfoTest(unittest.TestCase):
    def test_mount_points_are_unescaped(self):
        self.assertTrue(procinfo.is_mounted("/tmp/kmsfs-bench.x/a b/mnt", MOUNTS))
        self.assertFalse(procinfo.is_mounted("/tmp/kmsfs-bench.x/a\\040b/mnt", MOUNTS))

    def test_mounts_under_a_directory_exclude_its_name_prefix_siblings(self):
        self.assertEqual(procinfo.mounts_under("/tmp/kmsfs-bench.x/", MOUNTS),
                         ["/tmp/kmsfs-bench.x", "/tmp/kmsfs-bench.x/kmsfs/mnt", "/tmp/kmsfs-bench.x/a b/mnt"])

    def test_cpu_seconds_survive_a_command_name_with_parentheses_and_spaces(self):
        fields = ["S"] + ["0"] * 10 + ["250", "150"] + ["0"] * 30
        text = "123 (a) b (c) " + " ".join(fields)
        self.assertAlmostEqual(procinfo.cpu_seconds(123, text), 400 / os.sysconf("SC_CLK_TCK"))

    def test_rss_is_read_from_status_in_mib(self):
        self.assertEqual(procinfo.rss_mib(1, "Name:\tkmsfs\nVmRSS:\t   49152 kB\nThreads:\t9\n"), 48.0)
        self.assertIsNone(procinfo.rss_mib(1, "Name:\tkthreadd\n"))

    def test_this_process_has_cpu_time_memory_and_threads(self):
        pid = os.getpid()
        self.assertGreater(procinfo.cpu_seconds(pid), 0)
        self.assertGreater(procinfo.rss_mib(pid), 1)
        self.assertGreaterEqual(procinfo.thread_count(pid), 1)
        self.assertTrue(procinfo.alive(pid))

    def test_gone_process_has_no_values(self):
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(procinfo.alive(p.pid))
        self.assertIsNone(procinfo.cpu_seconds(p.pid))
        self.assertIsNone(procinfo.thread_count(p.pid))

    def test_finds_a_process_by_a_whole_argument_only(self):
        arg = "/tmp/kmsfs-bench-%s/mnt" % uuid.uuid4().hex
        p = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", arg], stdin=subprocess.PIPE)
        try:
            # The child shows its arguments once it has exec'd (and, under a
            # launcher such as pyenv's, once the launcher has exec'd the
            # interpreter): wait for that, with a deadline.
            deadline = time.monotonic() + 10
            while not procinfo.pids_with_argument(arg) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.assertEqual(procinfo.pids_with_argument(arg), [p.pid])
            self.assertEqual(procinfo.pids_with_argument(arg[:-1]), [])
            self.assertEqual(procinfo.pids_mentioning(arg[:-4]), [p.pid])
        finally:
            p.stdin.close()
            p.wait(timeout=30)
        self.assertEqual(procinfo.pids_with_argument(arg), [])

    def test_machine_line_names_cpus_ram_and_kernel(self):
        line = procinfo.machine()
        self.assertRegex(line, r"^nproc \d+, .*, \d+ GiB RAM, kernel \S+$")


if __name__ == "__main__":
    unittest.main()
