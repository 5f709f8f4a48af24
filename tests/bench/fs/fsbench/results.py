"""The run's raw measurements, and their medians.

One value per (repetition, system, metric). A cell of the report is the
median over the repetitions; its noise is half the range (max - min)
relative to the median, a plain measure that needs no distribution.
"""
import collections
import statistics


class Results:
    def __init__(self):
        self._rows = []  # (rep, system, metric, value)
        self._by_key = collections.defaultdict(list)

    def add(self, rep, system, metric, value):
        if value is None:
            return
        value = float(value)
        self._rows.append((rep, system, metric, value))
        self._by_key[(system, metric)].append(value)

    def values(self, system, metric):
        return list(self._by_key.get((system, metric), ()))

    def has(self, system, metric):
        return (system, metric) in self._by_key

    def systems(self):
        return {s for s, _ in self._by_key}

    def median(self, system, metric):
        v = self._by_key.get((system, metric))
        return statistics.median(v) if v else None

    def spread(self, system, metric):
        """Half the range relative to the median, in percent; None below two values."""
        v = self._by_key.get((system, metric))
        if not v or len(v) < 2:
            return None
        m = statistics.median(v)
        return None if m == 0 else (max(v) - min(v)) / 2 / m * 100

    def ratio(self, metric, system, other):
        """median(system) / median(other), or None when either is missing or other's is 0."""
        a, b = self.median(system, metric), self.median(other, metric)
        if a is None or b is None or b == 0:
            return None
        return a / b

    def to_tsv(self):
        return "".join("%d\t%s\t%s\t%s\n" % (rep, s, m, repr(v)) for rep, s, m, v in self._rows)

    @classmethod
    def from_tsv(cls, text):
        r = cls()
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                r.add(int(parts[0]), parts[1], parts[2], float(parts[3]))
        return r
