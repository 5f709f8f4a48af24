import unittest

from fsbench.results import Results


class ResultsTest(unittest.TestCase):
    def test_median_of_an_even_count_is_the_mean_of_the_middle_two(self):
        r = Results()
        for rep, v in enumerate((4, 1, 3, 2), 1):
            r.add(rep, "kmsfs", "small_create", v)
        self.assertEqual(r.median("kmsfs", "small_create"), 2.5)

    def test_spread_is_half_the_range_relative_to_the_median(self):
        r = Results()
        for rep, v in enumerate((1.0, 2.0, 3.0), 1):
            r.add(rep, "gocryptfs", "untar", v)
        self.assertAlmostEqual(r.spread("gocryptfs", "untar"), 50.0)

    def test_spread_needs_two_values(self):
        r = Results()
        r.add(1, "kmsfs", "untar", 1.0)
        self.assertIsNone(r.spread("kmsfs", "untar"))
        self.assertIsNone(r.spread("kmsfs", "tar"))

    def test_ratio_is_median_over_median(self):
        r = Results()
        for rep, (a, b) in enumerate(((1.0, 4.0), (2.0, 2.0), (9.0, 3.0)), 1):
            r.add(rep, "kmsfs", "churn", a)
            r.add(rep, "gocryptfs", "churn", b)
        self.assertAlmostEqual(r.ratio("churn", "kmsfs", "gocryptfs"), 2.0 / 3.0)

    def test_ratio_is_missing_without_both_systems_or_with_a_zero_divisor(self):
        r = Results()
        r.add(1, "kmsfs", "churn", 1.0)
        self.assertIsNone(r.ratio("churn", "kmsfs", "gocryptfs"))
        r.add(1, "gocryptfs", "churn", 0.0)
        self.assertIsNone(r.ratio("churn", "kmsfs", "gocryptfs"))

    def test_missing_values_are_not_recorded(self):
        r = Results()
        r.add(1, "kmsfs", "rss_idle", None)
        self.assertFalse(r.has("kmsfs", "rss_idle"))

    def test_tsv_round_trip_keeps_every_value_exactly(self):
        r = Results()
        r.add(1, "kmsfs", "seq_write", 812.123456789)
        r.add(2, "kmsd", "cpu_untar", 0.1)
        back = Results.from_tsv(r.to_tsv())
        self.assertEqual(back.values("kmsfs", "seq_write"), [812.123456789])
        self.assertEqual(back.values("kmsd", "cpu_untar"), [0.1])
        self.assertEqual(back.to_tsv(), r.to_tsv())


if __name__ == "__main__":
    unittest.main()
