"""Starts over time as a reader takes them in at any span: regrouped at a step that suits the span, the busiest
hosts apart and the others together, and when in the day (or week) services start. Pure functions over a metrics
run's bucket rows ``(bucket start, host or "" for all hosts, starts)``; starts add up, so a coarser step is exact.

>>> rows = [(datetime(2026, 3, 2, 10, 5), "", 3), (datetime(2026, 3, 2, 10, 5), "web", 3),
...         (datetime(2026, 5, 20, 8, 0), "", 1), (datetime(2026, 5, 20, 8, 0), "db", 1)]
>>> step_for(datetime(2026, 3, 2, 10, 5), datetime(2026, 5, 20, 8, 0), "minute")
'day'
>>> grid = regroup(rows, "week", top=1)
>>> grid.hosts, grid.others, [(f"{t:%Y-%m-%d}", n) for t, n in grid.totals.items()]
(['web'], ['db'], [('2026-03-02', 3), ('2026-05-18', 1)])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["LENGTH", "STEPS", "Grid", "floor", "heat", "ranked", "regroup", "step_for"]

STEPS = ("minute", "hour", "day", "week", "month")

# The finest step that keeps a span's chart to at most about a hundred bars.
_SPANS = ((timedelta(hours=2), "minute"), (timedelta(days=4), "hour"), (timedelta(days=100), "day"),
          (timedelta(days=700), "week"))

Rows = Sequence[tuple[datetime, str, int]]

# How long a step is (a month's length varies: floor() finds the next one).
LENGTH = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
           "week": timedelta(days=7)}


def step_for(first: datetime, last: datetime, bucket: str) -> str:
    """The step to show a span at: by its length, never finer than the run's ``bucket``."""
    wanted = next((step for span, step in _SPANS if last - first <= span), "month")
    return max(wanted, bucket, key=STEPS.index)


def floor(moment: datetime, step: str) -> datetime:
    """The start of the step ``moment`` falls in (a week starts on Monday, as ISO 8601's)."""
    if step == "minute":
        return moment.replace(second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if step == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if step == "day":
        return day
    if step == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def ranked(rows: Rows) -> list[tuple[str, int]]:
    """Each host and its starts, the busiest first (ties by name)."""
    sums: dict[str, int] = defaultdict(int)
    for _, host, starts in rows:
        if host:
            sums[host] += starts
    return sorted(sums.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class Grid:
    """Starts per step: all hosts (``totals``), each of the ``hosts`` shown, and the ``others`` together; only
    steps with starts, in time order."""

    step: str
    totals: dict[datetime, int]
    per_host: dict[str, dict[datetime, int]]
    hosts: list[str]
    others: list[str]

    def other(self, start: datetime) -> int:
        return sum(self.per_host[h].get(start, 0) for h in self.others)

    def steps_in_span(self) -> int:
        """How many steps the span from the first to the last with starts holds, empty ones included."""
        if not self.totals:
            return 0
        first, last = min(self.totals), max(self.totals)
        count, moment = 1, first
        while moment < last and count <= 10_000:
            moment = floor(moment + timedelta(days=32) if self.step == "month" else moment + LENGTH[self.step],
                           self.step)
            count += 1
        return count


def regroup(rows: Rows, step: str, top: int) -> Grid:
    """``rows`` summed per ``step``, the ``top`` busiest hosts apart."""
    totals: dict[datetime, int] = defaultdict(int)
    per_host: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for start, host, starts in rows:
        at = floor(start, step)
        if host:
            per_host[host][at] += starts
        else:
            totals[at] += starts
    hosts = [h for h, _ in ranked(rows)]
    return Grid(step, dict(sorted(totals.items())), {h: dict(v) for h, v in per_host.items()}, hosts[:top],
                hosts[top:])


def heat(rows: Rows, bucket: str, top: int) -> tuple[str, list[str], list[str], list[list[int]]]:
    """When services start: starts per host (the ``top`` busiest, then the others together) and hour of day, or
    day of week when the run's buckets are days. Returns the columns' meaning, the rows' and columns' labels and
    the counts."""
    by_hour = bucket in ("minute", "hour")
    columns = [f"{h:02d}" for h in range(24)] if by_hour else ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    hosts = [h for h, _ in ranked(rows)]
    shown, rest = hosts[:top], set(hosts[top:])
    labels = shown + ([f"{len(rest)} other hosts"] if rest else [])
    index = {h: i for i, h in enumerate(shown)}
    counts = [[0] * len(columns) for _ in labels]
    for start, host, starts in rows:
        if not host:
            continue
        row = index.get(host, len(shown))
        counts[row][start.hour if by_hour else start.weekday()] += starts
    return ("hour of day (UTC)" if by_hour else "day of week (UTC)"), labels, columns, counts
