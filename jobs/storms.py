"""The live query's state for one (host, service, process): its starts per minute and its restart storms, as pure
functions over start times. jobs/live.py runs ``step`` as Spark's group state; tests call it directly.

    starts of a batch ──step(state, watermark)──▶ new state, and what changed: minute counts (absolute), late
                                                 events, storms (new or grown)

Times are microseconds since the epoch. A start is *late* when its time is before the watermark: it is not
counted, and said so. A start seen before (the same origin: a line shipped or transformed twice) is skipped.

A *storm*: a start is one of its qualifying starts when at least ``n`` starts fall in the ``window`` that ends
at it, (t - window, t]; consecutive qualifying starts whose windows overlap the storm's last start belong to
one storm. Its ``first`` is the first start of the window that made it one, ``last`` its latest qualifying
start, ``starts`` every start from ``first`` to ``last``. One storm is one alert, updated while it grows; it keeps
the first start it was opened with (a start that arrives out of order before it, within the watermark, counts
for its minute, not for the storm).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["MINUTE", "KeyState", "Storm", "Changes", "detect", "step"]

MINUTE = 60_000_000


@dataclass(frozen=True)
class Storm:
    first: int
    last: int
    starts: int


def detect(starts: Sequence[int], n: int, window: int) -> list[Storm]:
    """The storms among ``starts`` (sorted), in order.

    >>> detect([0, 10, 20, 30, 40, 900, 1000], n=5, window=100)
    [Storm(first=0, last=40, starts=5)]
    >>> detect([0, 10, 20, 30, 40, 60, 500, 510, 520, 530, 540], n=5, window=100)
    [Storm(first=0, last=60, starts=6), Storm(first=500, last=540, starts=5)]
    """
    storms: list[Storm] = []
    low = first_index = 0
    for i, t in enumerate(starts):
        while starts[low] <= t - window:
            low += 1
        if i - low + 1 < n:
            continue
        if storms and storms[-1].last > t - window:
            storms[-1] = Storm(storms[-1].first, t, i - first_index + 1)
        else:
            first_index = low
            storms.append(Storm(starts[low], t, i - low + 1))
    return storms


@dataclass
class KeyState:
    """What the live query keeps for one key between batches."""

    times: list[int] = field(default_factory=list)  # starts counted, sorted, back to the horizon
    origins: list[str] = field(default_factory=list)  # their origins, in the same order
    minutes: dict[int, int] = field(default_factory=dict)  # starts per minute, for minutes still open
    storm: Storm | None = None  # the latest storm, while a start could still extend it


@dataclass
class Changes:
    minutes: dict[int, int] = field(default_factory=dict)  # minute start -> its count now
    late: list[tuple[int, str]] = field(default_factory=list)  # (time, origin) of starts after the watermark
    storms: list[Storm] = field(default_factory=list)  # storms opened or grown


def _as_known(storm: Storm, known: Storm | None, times: list[int]) -> Storm:
    """A storm found again that reaches back before the known one's first start (a start that arrived out of
    order) is still that one: an alert keeps the first start it was opened with."""
    if known is None or not storm.first < known.first <= storm.last:
        return storm
    starts = bisect.bisect_right(times, storm.last) - bisect.bisect_left(times, known.first)
    return Storm(known.first, storm.last, starts)


def step(state: KeyState, starts: Sequence[tuple[int, str]], watermark: int, n: int, window: int
         ) -> tuple[KeyState, Changes]:
    """One batch's ``starts`` ((time, origin) pairs, any order) of one key, at ``watermark``.

    >>> state, changes = step(KeyState(), [(t * MINUTE, f"o{t}") for t in range(6)], 0, n=5, window=10 * MINUTE)
    >>> changes.storms
    [Storm(first=0, last=300000000, starts=6)]
    >>> _, later = step(state, [(0, "o0"), (30 * MINUTE, "x")], watermark=35 * MINUTE, n=5, window=10 * MINUTE)
    >>> later.late, later.storms, later.minutes
    ([(1800000000, 'x')], [], {})
    """
    times, origins = list(state.times), list(state.origins)
    seen = set(origins)
    minutes = dict(state.minutes)
    changes = Changes()
    for time, origin in sorted(starts):
        if origin in seen:
            continue
        seen.add(origin)
        if time < watermark:
            changes.late.append((time, origin))
            continue
        at = bisect.bisect_right(times, time)
        times.insert(at, time)
        origins.insert(at, origin)
        minute = time - time % MINUTE
        minutes[minute] = minutes.get(minute, 0) + 1
        changes.minutes[minute] = minutes[minute]
    # A storm's starts are all kept while it can grow, so detecting again from them finds it as it was, or grown;
    # storms that ended before the latest one known were reported when they grew.
    known = state.storm
    found = [_as_known(s, known, times) for s in detect(times, n, window)]
    changes.storms = [s for s in found if s != known and (known is None or s.last >= known.first)]
    latest = found[-1] if found else known
    open_storm = latest if latest is not None and latest.last > watermark - window else None
    horizon = watermark - window if open_storm is None else min(watermark - window, open_storm.first)
    keep = bisect.bisect_left(times, horizon)
    open_minutes = {m: c for m, c in minutes.items() if m + MINUTE > watermark}
    return KeyState(times[keep:], origins[keep:], open_minutes, open_storm), changes
