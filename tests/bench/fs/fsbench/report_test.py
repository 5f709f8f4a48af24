import unittest

from fsbench import report
from fsbench.results import Results


def results(**cells):
    """Results from cells named SYSTEM__METRIC=[values per repetition]."""
    r = Results()
    for key, values in cells.items():
        system, metric = key.split("__")
        system = system.replace("_", "-")
        for rep, v in enumerate(values, 1):
            r.add(rep, system, metric, v)
    return r


def goal(goals, start):
    matches = [g for g in goals if g.text.startswith(start)]
    assert len(matches) == 1, [g.text for g in goals]
    return matches[0]


class GoalTest(unittest.TestCase):
    def test_at_least_goal_is_met_at_exactly_its_target(self):
        g = report.Goal("x", 1.3, 1.3, higher=True)
        self.assertTrue(g.met)
        self.assertEqual(g.verdict, "met")

    def test_strict_goal_is_not_met_at_exactly_its_target(self):
        g = report.Goal("x", 64.0, 64, higher=False, strict=True)
        self.assertFalse(g.met)
        self.assertEqual(g.verdict, "**not met**")

    def test_unmeasured_goal_says_so(self):
        self.assertEqual(report.Goal("x", None, 1.0, higher=True).verdict, "not measured")

    def test_sequential_goal_compares_kmsfs_rate_with_gocryptfs_and_passthrough(self):
        r = results(kmsfs__seq_write=[130.0], gocryptfs__seq_write=[100.0], passthrough__seq_write=[160.0])
        goals = report.goals(r, 20)
        self.assertTrue(goal(goals, "sequential write + fsync ≥ 1.3× gocryptfs").met)
        against_passthrough = goal(goals, "sequential write + fsync ≥ 0.85× passthrough")
        self.assertAlmostEqual(against_passthrough.value, 130 / 160)
        self.assertFalse(against_passthrough.met)

    def test_time_goal_fails_when_kmsfs_takes_more_than_0_8_of_gocryptfs_time(self):
        r = results(kmsfs__churn=[0.9], gocryptfs__churn=[1.0], kmsfs__untar=[0.8], gocryptfs__untar=[1.0])
        goals = report.goals(r, 20)
        self.assertFalse(goal(goals, "churn:").met)
        self.assertTrue(goal(goals, "untar header tree time").met)

    def test_every_new_access_pattern_has_a_time_goal(self):
        texts = [g.text for g in report.goals(Results(), 20)]
        for label in ("spread: create", "spread: ls -lR", "spread: delete", "churn:", "shuffle: read all in random "
                      "order, caches dropped"):
            self.assertTrue(any(t.startswith(label) for t in texts), label)

    def test_latency_goal_is_the_create_rate_ratio(self):
        # 1 s at 0 ms and 2.5 s at 20 ms: the rate at 20 ms is 0.4x.
        r = results(kmsfs__small_create=[1.0], kmsfs_latency__small_create=[2.5])
        g = goal(report.goals(r, 20), "create rate at 20 ms")
        self.assertAlmostEqual(g.value, 0.4)
        self.assertFalse(g.met)

    def test_rss_goals_need_strictly_less_than_64_mib(self):
        r = results(kmsfs__rss_idle=[20.0], kmsfs__rss_untar=[64.0])
        goals = report.goals(r, 20)
        self.assertTrue(goal(goals, "kmsfs daemon VmRSS idle").met)
        self.assertFalse(goal(goals, "kmsfs daemon VmRSS after untar").met)

    def test_goals_without_data_are_listed_as_not_measured(self):
        goals = report.goals(Results(), 20)
        self.assertTrue(goals)
        self.assertTrue(all(g.value is None for g in goals))


class RenderTest(unittest.TestCase):
    def render(self, r):
        return report.render(r, ["## run"], 20)

    def test_table_has_present_systems_in_canonical_order_and_kmsfs_ratios(self):
        r = results(kmsfs__small_create=[1.0], native__small_create=[0.5], gocryptfs__small_create=[2.0])
        text = self.render(r)
        self.assertIn("| workload | unit | native | gocryptfs | kmsfs | kmsfs/gocryptfs |", text)
        self.assertIn("| small files: create | s | 0.50 | 2.00 | 1.00 | 0.50× |", text)
        self.assertNotIn("passthrough", text.split("| goal |")[0])

    def test_cells_carry_the_spread_of_the_repetitions(self):
        text = self.render(results(kmsfs__untar=[1.0, 2.0, 3.0]))
        self.assertIn("| untar header tree | s | 2.00 ±50% |", text)

    def test_memory_table_has_thread_counts_and_a_kmsd_column(self):
        r = results(kmsfs__rss_idle=[30.0], kmsfs__threads_idle=[9.0], kmsd__rss_idle=[12.0], kmsd__threads_idle=[5.0],
                    kmsfs__small_create=[1.0])
        text = self.render(r)
        self.assertIn("| measure | unit | kmsfs | kmsd |", text)
        self.assertIn("| threads, idle mount | count | 9 | 5 |", text)
        self.assertIn("| VmRSS, idle mount | MiB | 30.0 | 12.0 |", text)

    def test_cpu_table_lists_the_daemons_not_native(self):
        r = results(native__small_create=[0.5], kmsfs__small_create=[1.0], kmsfs__cpu_small_create=[0.7],
                    kmsd__cpu_small_create=[0.2])
        text = self.render(r)
        self.assertIn("| workload | unit | kmsfs | kmsd |", text)
        self.assertIn("| small files: create | s | 0.70 | 0.20 |", text)

    def test_latency_table_gives_files_per_second(self):
        r = results(kmsfs__small_create=[1.0], kmsfs__small_files=[5000], kmsfs_latency__small_create=[2.0],
                    kmsfs_latency__small_files=[5000], kmsfs_latency__small_read_remount=[7.5])
        text = self.render(r)
        self.assertIn("| 0 ms | 1.00 | 5 000 |", text)
        self.assertIn("| 20 ms | 2.00 | 2 500 | 7.50 |", text)

    def test_goal_table_ends_the_report(self):
        text = self.render(results(kmsfs__untar=[1.0], gocryptfs__untar=[2.0]))
        self.assertTrue(text.startswith("## run\n"))
        self.assertIn("| untar header tree time ≤ 0.8× gocryptfs | 0.50 | met |", text)
        self.assertTrue(text.rstrip().endswith("|"))



class SummaryTest(unittest.TestCase):
    def sections(self):
        disk = results(kmsfs__small_create=[0.7], gocryptfs__small_create=[1.0], passthrough__small_create=[0.5],
                       kmsfs__untar=[0.7], gocryptfs__untar=[1.0])
        tmpfs = results(kmsfs__small_create=[0.9], gocryptfs__small_create=[1.0], passthrough__small_create=[0.6],
                        kmsfs__untar=[0.5], gocryptfs__untar=[1.0])
        return [("disk", disk), ("tmpfs", tmpfs)]

    def test_one_row_per_workload_with_each_backings_ratios(self):
        text = report.summary(self.sections(), 20)
        self.assertIn("| small files: create | s | 0.70 | 0.70× | 1.40× | 0.90 | 0.90× | 1.50× |", text)

    def test_a_goal_holds_only_when_met_on_every_backing(self):
        text = report.summary(self.sections(), 20)
        create = next(ln for ln in text.splitlines() if ln.startswith("| small files: create time"))
        self.assertTrue(create.endswith("| 0.70 | 0.90 | **not met** on tmpfs |"), create)
        untar = next(ln for ln in text.splitlines() if ln.startswith("| untar header tree time"))
        self.assertTrue(untar.endswith("| 0.70 | 0.50 | met |"), untar)
        unmeasured = next(ln for ln in text.splitlines() if ln.startswith("| random read"))
        self.assertTrue(unmeasured.endswith("| — | — | not measured |"), unmeasured)


if __name__ == "__main__":
    unittest.main()
