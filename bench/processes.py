"""Processes a benchmark watches: a process with its descendants, and the CPU time such trees take while it runs,
sampled often enough to cut a window out of the run (a job's steady batches, say)."""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

TICK = os.sysconf("SC_CLK_TCK")


def children() -> dict[int, list[int]]:
    """Every live process's children, by pid: one pass over /proc."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found.setdefault(parent, []).append(int(entry.name))
    return found


def tree(root: int, family: dict[int, list[int]] | None = None) -> list[int]:
    """A process and all its descendants (Spark's Python workers are forked by a daemon that leaves the job's
    process group, so the group alone would miss them); ``family`` is ``children()`` when taken already."""
    family = children() if family is None else family
    found, frontier = [root], [root]
    while frontier:
        below = family.get(frontier.pop(), [])
        found += below
        frontier += below
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of the processes: each live one's own, and what the children it has reaped
    took (0 for a process that ended)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


def thread_seconds(pids: list[int]) -> dict[tuple[int, int], tuple[str, float]]:
    """Each live thread of the processes: (pid, tid) -> (its name, the CPU seconds it took so far)."""
    found = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            except OSError:
                continue
            name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat.rsplit(")", 1)[1].split()
            found[(pid, int(tid))] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return found


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per name, the median of the runs' seconds (rounded to 0.01)."""
    return {name: round(statistics.median(run[name] for run in runs), 2) for name in runs[0]}


def thread_kind(name: str) -> str:
    """A thread's name without its number (``C2 CompilerThre``, ``Executor task launch worker``, ``Thread``)."""
    return re.sub(r"[\s#-]*\d+$", "", name).strip().rstrip("-") or name


class CpuSampler(threading.Thread):
    """CPU seconds of named process trees every ``every`` seconds while it runs (a ``with`` block). A root is a
    pid, or a callable giving it (None while there is none yet). The tree named ``threads`` is also sampled thread
    by thread (``by_thread``: the JIT compilers, the task threads, the garbage collector of a JVM).

    >>> with CpuSampler({"me": os.getpid()}) as cpu:
    ...     start = time.time(); sum(range(10**6)); end = time.time()  # doctest: +SKIP
    >>> cpu.between(start, end)["me"] > 0  # doctest: +SKIP
    True
    """

    def __init__(self, roots: dict[str, int | Callable[[], int | None]], every: float = 0.1,
                 threads: str | None = None) -> None:
        super().__init__(daemon=True, name="kos-bench-cpu")
        self.roots, self.every, self.threads = roots, every, threads
        self.samples: list[tuple[float, dict[str, float]]] = []  # (time.time(), cumulative seconds per name)
        self._threads: dict[tuple[int, int], tuple[str, float]] = {}  # of the root named by ``threads``
        self._done = threading.Event()

    def sample(self) -> None:
        found = {}
        before = self.samples[-1][1] if self.samples else {}
        family = children()
        for name, root in self.roots.items():
            pid = root() if callable(root) else root
            pids = tree(pid, family) if pid else []
            # A tree that ended keeps what it took: the time a process took does not go back.
            found[name] = max(cpu_seconds(pids), before.get(name, 0.0))
            if pids and name == self.threads:
                self._threads.update(thread_seconds(pids))
        self.samples.append((time.time(), found))

    def by_thread(self) -> dict[str, float]:
        """CPU seconds of the tree named by ``threads`` over the whole run, by kind of thread (``thread_kind``),
        as last sampled (a thread's last 0.1 s may be missing), most first."""
        kinds: dict[str, float] = {}
        for name, seconds in self._threads.values():
            kinds[thread_kind(name)] = kinds.get(thread_kind(name), 0.0) + seconds
        return dict(sorted(((k, round(v, 2)) for k, v in kinds.items()), key=lambda kv: -kv[1]))

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
