"""Tests of scripts/check-thread-safety.py's choice of units: a unit is
skipped only when it cannot reach base/mutex.h through the project's headers."""
import importlib.util
import pathlib
import re
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_thread_safety", REPO / "scripts" / "check-thread-safety.py")
cts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cts)


class UnitSelectionTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = pathlib.Path(self.dir.name)
        self.write("base/mutex.h", "#define KMSFS_GUARDED_BY(x)\n")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def selected(self, path):
        return cts.can_hold_lock_contracts(path, {}, repo=str(self.root))

    def test_a_unit_including_the_header_directly_is_checked(self):
        self.assertTrue(self.selected(self.write("a.cc", '#include "base/mutex.h"\n')))

    def test_a_unit_reaching_it_through_project_headers_is_checked(self):
        self.write("cache/pool.h", '#include <vector>\n#include "base/mutex.h"\n')
        self.write("fs/table.h", '#pragma once\n#include "cache/pool.h"\n')
        self.assertTrue(self.selected(self.write("fs/table.cc", '#include "fs/table.h"\n')))

    def test_an_include_inside_a_conditional_counts(self):
        self.assertTrue(self.selected(self.write("b.cc", '#if 0\n#  include "base/mutex.h"\n#endif\n')))

    def test_an_include_relative_to_the_units_own_directory_counts(self):
        self.write("kms/local.h", '#include "base/mutex.h"\n')
        self.assertTrue(self.selected(self.write("kms/c.cc", '#include "local.h"\n')))

    def test_a_unit_that_cannot_reach_it_is_skipped(self):
        self.write("format/codec.h", '#include <string>\n#include "format/offsets.h"\n')
        self.write("format/offsets.h", '#include "format/codec.h"\n')  # a cycle ends too
        self.assertFalse(self.selected(self.write("d.cc", '#include "format/codec.h"\n// base/mutex.h\n')))

    def test_every_unit_of_the_repository_that_names_a_lock_type_is_checked(self):
        # Whatever uses Mutex, MutexLock or an annotation must have reached
        # base/mutex.h: a unit the selection skipped would hide its findings.
        uses_locks = re.compile(r"\b(Mutex|MutexLock|RecursiveMutex|KMSFS_GUARDED_BY|KMSFS_REQUIRES)\b")
        cache = {}
        units = [p for d in ("base", "cache", "crypto", "fs", "kms", "tests")
                 for p in (REPO / d).rglob("*.cc")]
        self.assertGreater(len(units), 100)
        for unit in units:
            if uses_locks.search(unit.read_text(errors="replace")):
                self.assertTrue(cts.can_hold_lock_contracts(str(unit), cache, repo=str(REPO)), unit)


if __name__ == "__main__":
    unittest.main()
