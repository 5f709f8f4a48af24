import os
import random
import tempfile
import unittest
from pathlib import Path

from fsbench import smallfiles


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


class SmallFilesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, "t")
        self.data = os.urandom(100)

    def tearDown(self):
        self.tmp.cleanup()

    def test_tree_has_every_file_with_the_content(self):
        paths = smallfiles.create_tree(self.root, 3, 4, self.data)
        self.assertEqual(len(paths), 12)
        self.assertEqual(files_under(self.root)[:2], ["d00/f0000", "d00/f0001"])
        self.assertEqual(Path(paths[-1]).read_bytes(), self.data)
        self.assertEqual(smallfiles.read_walk(self.root), (12, 1200))

    def test_directory_names_widen_for_many_directories(self):
        smallfiles.create_tree(self.root, 101, 1, self.data)
        self.assertIn("d100/f0000", files_under(self.root))
        self.assertIn("d007/f0000", files_under(self.root))

    def test_spread_puts_each_create_in_another_directory(self):
        paths = smallfiles.create_spread(self.root, 5, 2, self.data)
        dirs = [os.path.dirname(p) for p in paths]
        self.assertEqual(len(paths), 10)
        self.assertTrue(all(a != b for a, b in zip(dirs, dirs[1:])))
        self.assertEqual(len(set(dirs)), 5)

    def test_churn_keeps_the_live_count_and_deletes_the_rest(self):
        deleted = smallfiles.churn(self.root, 4, 50, 10, self.data, random.Random(1))
        self.assertEqual(deleted, 40)
        self.assertEqual(len(files_under(self.root)), 10)

    def test_churn_makes_the_same_choices_for_the_same_seed(self):
        smallfiles.churn(self.root, 4, 30, 5, self.data, random.Random(7))
        other = os.path.join(self.tmp.name, "u")
        smallfiles.churn(other, 4, 30, 5, self.data, random.Random(7))
        self.assertEqual(files_under(self.root), files_under(other))

    def test_read_paths_reads_in_the_order_given(self):
        paths = smallfiles.create_tree(self.root, 2, 3, self.data)
        self.assertEqual(smallfiles.read_paths(list(reversed(paths))), 600)

    def test_read_walk_of_an_empty_tree_is_an_error(self):
        os.mkdir(self.root)
        with self.assertRaisesRegex(OSError, "no files under"):
            smallfiles.read_walk(self.root)

    def test_create_refuses_to_overwrite(self):
        smallfiles.create_tree(self.root, 1, 1, self.data)
        with self.assertRaises(FileExistsError):
            smallfiles.write_file(os.path.join(self.root, "d00", "f0000"), self.data)


if __name__ == "__main__":
    unittest.main()
