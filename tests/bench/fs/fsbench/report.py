"""Turns a run's Results into the Markdown report, goals included.

Ratios are always kmsfs divided by the other system, so for rates (MB/s,
IOPS) higher is better and for times (s) lower is better, as the goals are
worded (docs/BENCHMARKS.md).
"""
import dataclasses

from fsbench.options import SYSTEMS

KMSD = "kmsd"                  # kmsfs's KMS: its CPU, memory and threads
LATENCY_SYSTEM = "kmsfs-latency"  # kmsfs against a kmsd with --latency-ms
FUSE_SYSTEMS = tuple(s for s in SYSTEMS if s != "native")


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    higher_is_better: bool


# Every timed or rated measurement, in the report's order. The daemons' CPU
# for each is recorded as "cpu_" + name.
METRICS = (
    Metric("seq_write", "sequential write + fsync", "MB/s", True),
    Metric("seq_read", "sequential read, caches dropped", "MB/s", True),
    Metric("rand_read", "random 4 KiB read, psync", "IOPS", True),
    Metric("rand_write", "random 4 KiB write, psync", "IOPS", True),
    Metric("small_create", "small files: create", "s", False),
    Metric("small_ls", "small files: ls -lR, caches dropped", "s", False),
    Metric("small_read", "small files: read all, caches dropped", "s", False),
    Metric("small_read_remount", "small files: read all after remount", "s", False),
    Metric("small_delete", "small files: delete (rm -rf)", "s", False),
    Metric("spread_create", "spread: create, each file in another directory", "s", False),
    Metric("spread_ls", "spread: ls -lR, caches dropped", "s", False),
    Metric("spread_delete", "spread: delete (rm -rf)", "s", False),
    Metric("churn", "churn: creates with deletes interleaved", "s", False),
    Metric("shuffle_read", "shuffle: read all in random order, caches dropped", "s", False),
    Metric("shuffle_read_remount", "shuffle: read all in random order after remount", "s", False),
    Metric("untar", "untar header tree", "s", False),
    Metric("tar", "tar header tree, caches dropped", "s", False),
)
_BY_NAME = {m.name: m for m in METRICS}

# Measures that are not workloads: (name, label, unit).
MEMORY = (
    ("rss_idle", "VmRSS, idle mount", "MiB"),
    ("threads_idle", "threads, idle mount", ""),
    ("rss_untar", "VmRSS after untar", "MiB"),
    ("threads_untar", "threads after untar", ""),
)
DISK = (("du_small", "du -s of the small-file tree in the backing dir", "KiB"),)

RSS_LIMIT_MIB = 64


def metric(name):
    return _BY_NAME[name]


@dataclasses.dataclass(frozen=True)
class Goal:
    text: str
    value: float | None   # None: not measured in this run
    target: float
    higher: bool          # the value must be at least (True) or at most (False) the target
    strict: bool = False  # ... or strictly above/below it

    @property
    def met(self):
        if self.value is None:
            return None
        if self.higher:
            return self.value > self.target if self.strict else self.value >= self.target
        return self.value < self.target if self.strict else self.value <= self.target

    @property
    def verdict(self):
        return {None: "not measured", True: "met", False: "**not met**"}[self.met]


# Workloads whose time must be at most 0.8x gocryptfs's: the issue's, then
# the patterns the code was not tuned to.
TIME_GOALS = ("small_create", "small_ls", "small_read", "small_delete", "untar",
              "spread_create", "spread_ls", "spread_delete", "churn", "shuffle_read")


def goals(results, latency_ms):
    """The issue's goals, each with this run's value (None when not measured)."""
    g = []
    for name in ("seq_write", "seq_read"):
        label = metric(name).label
        g.append(Goal(label + " ≥ 1.3× gocryptfs", results.ratio(name, "kmsfs", "gocryptfs"), 1.3, True))
        g.append(Goal(label + " ≥ 0.85× passthrough", results.ratio(name, "kmsfs", "passthrough"), 0.85, True))
    g.append(Goal("random read ≥ 1.0× gocryptfs", results.ratio("rand_read", "kmsfs", "gocryptfs"), 1.0, True))
    g.append(Goal("random write ≥ 1.5× gocryptfs", results.ratio("rand_write", "kmsfs", "gocryptfs"), 1.5, True))
    for name in TIME_GOALS:
        g.append(Goal(metric(name).label + " time ≤ 0.8× gocryptfs", results.ratio(name, "kmsfs", "gocryptfs"),
                      0.8, False))
    # Rates: files per second is files / time, so the rate ratio is the inverse time ratio.
    slow = results.ratio("small_create", "kmsfs", LATENCY_SYSTEM)
    g.append(Goal("create rate at %d ms KMS latency ≥ 0.5× the rate at 0 ms" % latency_ms, slow, 0.5, True))
    for name, label in (("rss_idle", "idle"), ("rss_untar", "after untar")):
        g.append(Goal("kmsfs daemon VmRSS %s < %d MiB" % (label, RSS_LIMIT_MIB), results.median("kmsfs", name),
                      RSS_LIMIT_MIB, False, strict=True))
    return g


def fmt(x, unit=""):
    if x is None:
        return "—"
    if unit in ("IOPS", "KiB") or abs(x) >= 1000:
        return "{:,.0f}".format(x).replace(",", " ")
    if unit == "" and float(x).is_integer():
        return "%d" % x
    if abs(x) >= 100:
        return "{:.0f}".format(x)
    if abs(x) >= 10:
        return "{:.1f}".format(x)
    return "{:.2f}".format(x)


def _cell(results, system, name, unit):
    m = results.median(system, name)
    if m is None:
        return "—"
    s = results.spread(system, name)
    return fmt(m, unit) + ("" if s is None else " ±{:.0f}%".format(s))


def _table(header, rows, align=None):
    """A Markdown table; `align` has one letter per column, l or r (default: two l, then r)."""
    align = align or "ll" + "r" * (len(header) - 2)
    out = ["| " + " | ".join(header) + " |",
           "|" + "".join("---|" if a == "l" else "---:|" for a in align)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


def render(results, header_lines, latency_ms):
    """The report: `header_lines` (Markdown, describing the run), then the tables."""
    present = [s for s in SYSTEMS if s in results.systems()]
    others = [o for o in ("gocryptfs", "passthrough") if o in present and "kmsfs" in present]
    out = list(header_lines)
    if out:
        out.append("")

    rows = []
    for m in METRICS:
        if not any(results.has(s, m.name) for s in present):
            continue
        row = [m.label, m.unit] + [_cell(results, s, m.name, m.unit) for s in present]
        for o in others:
            r = results.ratio(m.name, "kmsfs", o)
            row.append("—" if r is None else "{:.2f}×".format(r))
        rows.append(row)
    if rows:
        out += _table(["workload", "unit"] + present + ["kmsfs/%s" % o for o in others], rows)

    daemons = [s for s in FUSE_SYSTEMS if s in present] + ([KMSD] if KMSD in results.systems() else [])
    mem_rows = [[label, unit or "count"] + [_cell(results, s, name, unit) for s in daemons]
                for name, label, unit in MEMORY if any(results.has(s, name) for s in daemons)]
    if mem_rows:
        out.append("Daemons' memory and threads (kmsd: kmsfs's KMS, at the same moments):")
        out.append("")
        out += _table(["measure", "unit"] + daemons, mem_rows)

    disk_rows = [[label, unit] + [_cell(results, s, name, unit) for s in present]
                 for name, label, unit in DISK if any(results.has(s, name) for s in present)]
    if disk_rows:
        out += _table(["measure", "unit"] + present, disk_rows)

    cpu_rows = [[m.label, "s"] + [_cell(results, s, "cpu_" + m.name, "s") for s in daemons]
                for m in METRICS if any(results.has(s, "cpu_" + m.name) for s in daemons)]
    if cpu_rows:
        out.append("Daemon CPU time (user + system, all threads) per workload (kmsd: while kmsfs ran it):")
        out.append("")
        out += _table(["workload", "unit"] + daemons, cpu_rows)

    if results.has(LATENCY_SYSTEM, "small_create"):
        files = results.median(LATENCY_SYSTEM, "small_files") or results.median("kmsfs", "small_files")
        lat_rows = []
        for label, system in (("0 ms", "kmsfs"), ("%d ms" % latency_ms, LATENCY_SYSTEM)):
            t = results.median(system, "small_create")
            rate = None if t is None or not files else files / t
            lat_rows.append([label, _cell(results, system, "small_create", "s"), fmt(rate, "IOPS"),
                             _cell(results, system, "small_read_remount", "s")])
        out += _table(["kmsfs, KMS latency", "small-file create (s)", "files/s", "read all after remount (s)"],
                      lat_rows, align="lrrr")

    goal_rows = [[g.text, "—" if g.value is None else "{:.2f}".format(g.value), g.verdict]
                 for g in goals(results, latency_ms)]
    out += _table(["goal", "value", "verdict"], goal_rows, align="lrl")
    return "\n".join(out).rstrip("\n") + "\n"


def summary(sections, latency_ms):
    """One table over every backing: kmsfs's ratios to gocryptfs and to
    passthrough per workload, then every goal with its value on each backing
    and a verdict that holds only when it is met on all of them.
    `sections` is [(backing name, Results)]."""
    if not sections:
        return ""
    names = [b for b, _ in sections]
    header = ["workload", "unit"]
    for b in names:
        header += ["%s: kmsfs" % b, "%s: kmsfs/gocryptfs" % b, "%s: kmsfs/passthrough" % b]
    rows = []
    for m in METRICS:
        if not any(r.has("kmsfs", m.name) for _, r in sections):
            continue
        row = [m.label, m.unit]
        for _, r in sections:
            row.append(_cell(r, "kmsfs", m.name, m.unit))
            for other in ("gocryptfs", "passthrough"):
                x = r.ratio(m.name, "kmsfs", other)
                row.append("—" if x is None else "{:.2f}×".format(x))
        rows.append(row)
    out = ["## Summary over %s" % " and ".join(names), ""]
    if rows:
        out += _table(header, rows)
    per_backing = [goals(r, latency_ms) for _, r in sections]
    goal_rows = []
    for i, g in enumerate(per_backing[0]):
        same = [gs[i] for gs in per_backing]
        verdicts = {x.met for x in same if x.met is not None}
        verdict = ("not measured" if not verdicts else "met" if verdicts == {True}
                   else "**not met**" if verdicts == {False} else "**not met** on " +
                   ", ".join(b for b, x in zip(names, same) if x.met is False))
        goal_rows.append([g.text] + ["—" if x.value is None else "{:.2f}".format(x.value) for x in same] + [verdict])
    out += _table(["goal"] + names + ["verdict"], goal_rows, align="l" + "r" * len(names) + "l")
    return "\n".join(out).rstrip("\n") + "\n"
