#!/usr/bin/env python3
"""Turns the raw results of scripts/bench.sh into Markdown tables.

  report.py RESULTS.tsv LATENCY_MS

RESULTS.tsv has one measurement a line: repetition, system, metric, value.
Each cell of the tables is the median over the repetitions; "±N%" is half the
range (max - min) relative to the median, a plain measure of the run's noise.
Ratios are always kmsfs divided by the other system, so for rates (MB/s, IOPS)
higher is better and for times (s) lower is better, matching the wording of
the goals.
"""
import collections
import statistics
import sys

SYSTEMS = ["native", "passthrough", "gocryptfs", "kmsfs"]
LATENCY_SYSTEM = "kmsfs-latency"

# metric -> (label, unit, higher_is_better)
METRICS = collections.OrderedDict([
    ("seq_write", ("sequential write + fsync", "MB/s", True)),
    ("seq_read", ("sequential read, caches dropped", "MB/s", True)),
    ("rand_read", ("random 4 KiB read, psync", "IOPS", True)),
    ("rand_write", ("random 4 KiB write, psync", "IOPS", True)),
    ("small_create", ("small files: create", "s", False)),
    ("small_ls", ("small files: ls -lR, caches dropped", "s", False)),
    ("small_read", ("small files: read all, caches dropped", "s", False)),
    ("small_read_remount", ("small files: read all after remount", "s", False)),
    ("small_delete", ("small files: delete (rm -rf)", "s", False)),
    ("untar", ("untar header tree", "s", False)),
    ("tar", ("tar header tree, caches dropped", "s", False)),
])

CPU_METRICS = ["seq_write", "seq_read", "rand_read", "rand_write", "small_create", "small_ls",
               "small_read", "small_delete", "untar", "tar"]


def load(path):
    values = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            _, system, metric, value = parts
            try:
                values[(system, metric)].append(float(value))
            except ValueError:
                continue
    return values


def med(values, system, metric):
    v = values.get((system, metric))
    return statistics.median(v) if v else None


def spread(values, system, metric):
    v = values.get((system, metric))
    if not v or len(v) < 2:
        return None
    m = statistics.median(v)
    return None if m == 0 else (max(v) - min(v)) / 2 / m * 100


def fmt(x, unit=""):
    if x is None:
        return "—"
    if unit in ("IOPS", "KiB") or abs(x) >= 1000:
        return "{:,.0f}".format(x).replace(",", " ")
    if abs(x) >= 100:
        return "{:.0f}".format(x)
    if abs(x) >= 10:
        return "{:.1f}".format(x)
    return "{:.2f}".format(x)


def cell(values, system, metric, unit):
    m = med(values, system, metric)
    s = spread(values, system, metric)
    if m is None:
        return "—"
    return fmt(m, unit) + ("" if s is None else " ±{:.0f}%".format(s))


def ratio(values, metric, other):
    a, b = med(values, "kmsfs", metric), med(values, other, metric)
    if a is None or b is None or b == 0:
        return None
    return a / b


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    values = load(argv[1])
    latency_ms = argv[2]
    present = [s for s in SYSTEMS if any(k[0] == s for k in values)]
    out = []

    others = [o for o in ("gocryptfs", "passthrough") if o in present and "kmsfs" in present]
    out.append("| workload | unit | " + " | ".join(present) + " |" + "".join(" kmsfs/%s |" % o for o in others))
    out.append("|---|---|" + "---:|" * (len(present) + len(others)))
    for metric, (label, unit, _) in METRICS.items():
        if not any((s, metric) in values for s in present):
            continue
        row = [label, unit] + [cell(values, s, metric, unit) for s in present]
        for other in others:
            r = ratio(values, metric, other)
            row.append("—" if r is None else "{:.2f}×".format(r))
        out.append("| " + " | ".join(row) + " |")
    out.append("")

    # Daemon memory and disk use.
    extra = []
    for metric, label, unit in (("rss_untar", "daemon VmRSS after untar", "MiB"),
                                ("du_small", "du -s of the small-file tree in the backing dir", "KiB")):
        if any((s, metric) in values for s in present):
            extra.append("| " + label + " | " + unit + " | " +
                         " | ".join(cell(values, s, metric, unit) for s in present) + " |")
    if extra:
        out.append("| measure | unit | " + " | ".join(present) + " |")
        out.append("|---|---|" + "---:|" * len(present))
        out.extend(extra)
        out.append("")

    # CPU time the FUSE daemon spent per workload.
    fuse_systems = [s for s in present if s != "native"]
    cpu_rows = []
    for metric in CPU_METRICS:
        if any((s, "cpu_" + metric) in values for s in fuse_systems):
            cpu_rows.append("| " + METRICS[metric][0] + " | " +
                            " | ".join(cell(values, s, "cpu_" + metric, "s") for s in fuse_systems) + " |")
    if cpu_rows:
        out.append("Daemon CPU time (user + system, all threads) per workload, seconds:")
        out.append("")
        out.append("| workload | " + " | ".join(fuse_systems) + " |")
        out.append("|---|" + "---:|" * len(fuse_systems))
        out.extend(cpu_rows)
        out.append("")

    # KMS latency hiding.
    lat_create = med(values, LATENCY_SYSTEM, "small_create")
    base_create = med(values, "kmsfs", "small_create")
    nfiles = med(values, "kmsfs", "small_files") or med(values, LATENCY_SYSTEM, "small_files")
    if lat_create is not None:
        out.append("| kmsfs, KMS latency | small-file create (s) | files/s | read all after remount (s) |")
        out.append("|---|---:|---:|---:|")
        for name, system in (("0 ms", "kmsfs"), (latency_ms + " ms", LATENCY_SYSTEM)):
            c = med(values, system, "small_create")
            rate = None if c is None or not nfiles else nfiles / c
            out.append("| {} | {} | {} | {} |".format(name, cell(values, system, "small_create", "s"),
                                                     fmt(rate), cell(values, system, "small_read_remount", "s")))
        out.append("")

    # Goals of the issue.
    goals = []

    def goal(text, value, target, higher, strict=False):
        if value is None:
            return  # not measured in this run
        if higher:
            ok = value > target if strict else value >= target
        else:
            ok = value < target if strict else value <= target
        goals.append((text, "{:.2f}".format(value), "met" if ok else "**not met**"))

    for metric in ("seq_write", "seq_read"):
        goal(METRICS[metric][0] + " ≥ 1.3× gocryptfs", ratio(values, metric, "gocryptfs"), 1.3, True)
        goal(METRICS[metric][0] + " ≥ 0.85× passthrough", ratio(values, metric, "passthrough"), 0.85, True)
    goal("random read ≥ 1.0× gocryptfs", ratio(values, "rand_read", "gocryptfs"), 1.0, True)
    goal("random write ≥ 1.5× gocryptfs", ratio(values, "rand_write", "gocryptfs"), 1.5, True)
    for metric in ("small_create", "small_ls", "small_read", "small_delete", "untar"):
        goal(METRICS[metric][0] + " time ≤ 0.8× gocryptfs", ratio(values, metric, "gocryptfs"), 0.8, False)
    goal("create rate at {} ms ≥ 0.5× rate at 0 ms".format(latency_ms),
         None if lat_create is None or base_create is None else base_create / lat_create, 0.5, True)
    goal("daemon VmRSS after untar < 64 MiB", med(values, "kmsfs", "rss_untar"), 64, False, strict=True)
    if goals:
        out.append("| goal | value | verdict |")
        out.append("|---|---:|---|")
    for text, value, verdict in goals:
        out.append("| {} | {} | {} |".format(text, value, verdict))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
