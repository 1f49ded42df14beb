"""When to start a failed thing again, and when to give up on it: one policy for `kos run`'s processes and for the
queries inside KOS's Spark application (jobs/continuous.py).

A thing that fails soon after it started waits longer each time (5, 10, 20, 40 seconds, at most a minute: the
five restarts allowed by default ride out a database or broker that is away for two minutes); one that ran for
more than two minutes before failing starts again at once. More than ``max_restarts`` failures within ``window``
seconds: give up.

>>> policy = Restarts(max_restarts=2, window=600)
>>> policy.failed(now=0, ran=1), policy.failed(now=10, ran=1), policy.failed(now=20, ran=1)
(5.0, 10.0, None)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Restarts"]

# Running longer than this before failing resets the back-off.
LONG_RUN = 120.0
FIRST_DELAY = 5.0
MAX_DELAY = 60.0


@dataclass
class Restarts:
    max_restarts: int
    window: float
    restarts: int = 0  # starts again so far
    _failures: deque[float] = field(default_factory=deque, repr=False)

    def failed(self, now: float, ran: float) -> float | None:
        """A failure at ``now`` after running ``ran`` seconds: the seconds to wait before starting again, or None
        when it failed more than ``max_restarts`` times within the window."""
        self._failures.append(now)
        while self._failures and self._failures[0] < now - self.window:
            self._failures.popleft()
        if len(self._failures) > self.max_restarts:
            return None
        self.restarts += 1
        quick = sum(1 for t in self._failures if t >= now - LONG_RUN)
        return 0.0 if ran > LONG_RUN else min(MAX_DELAY, FIRST_DELAY * 2.0 ** (quick - 1))

    @property
    def failures(self) -> int:
        """Failures within the window, as of the last one."""
        return len(self._failures)
