"""Processes a benchmark watches: a process with its descendants, and the CPU time such trees take while it runs,
sampled often enough to cut a window out of the run (a job's steady batches, say)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

TICK = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """A process and all its descendants (Spark's Python workers are forked by a daemon that leaves the job's
    process group, so the group alone would miss them)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def cpu_seconds(root: int) -> float:
    """User and system CPU seconds of ``root`` and its descendants: each live process's own, and what the
    children it has reaped took (0 for a process that ended)."""
    total = 0
    for pid in tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


class CpuSampler(threading.Thread):
    """CPU seconds of named process trees every ``every`` seconds while it runs (a ``with`` block). A root is a
    pid, or a callable giving it (None while there is none yet).

    >>> with CpuSampler({"me": os.getpid()}) as cpu:
    ...     start = time.time(); sum(range(10**6)); end = time.time()  # doctest: +SKIP
    >>> cpu.between(start, end)["me"] > 0  # doctest: +SKIP
    True
    """

    def __init__(self, roots: dict[str, int | Callable[[], int | None]], every: float = 0.1) -> None:
        super().__init__(daemon=True, name="kos-bench-cpu")
        self.roots, self.every = roots, every
        self.samples: list[tuple[float, dict[str, float]]] = []  # (time.time(), cumulative seconds per name)
        self._done = threading.Event()

    def sample(self) -> None:
        found = {}
        for name, root in self.roots.items():
            pid = root() if callable(root) else root
            found[name] = cpu_seconds(pid) if pid else 0.0
        self.samples.append((time.time(), found))

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.sample()

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds each tree took from ``start`` to ``end`` (wall-clock, ``time.time()``), from the samples
        nearest inside the window."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return {name: 0.0 for name in self.roots}
        first, last = inside[0][1], inside[-1][1]
        scale = (end - start) / (inside[-1][0] - inside[0][0])
        return {name: max(0.0, (last[name] - first[name]) * scale) for name in self.roots}

    def __enter__(self) -> CpuSampler:
        self.sample()
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()
        self.join()
        self.sample()
