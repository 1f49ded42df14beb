"""The shipping loop: read a batch per watched file, send it, wait for Kafka, then checkpoint.

Only acknowledged bytes move a checkpoint. A batch that Kafka did not take in
full is read again from its first unacknowledged record after a back-off, so an
outage of any length loses nothing: the file is the buffer, and memory holds at
most one batch plus the producer's buffer.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kos.text import show_path
from shipper.checkpoint import CheckpointStore
from shipper.errors import ShipperError
from shipper.publisher import Publisher, PublishError
from shipper.records import record_headers, record_key
from shipper.tail import Batch, FileTail, TailOptions

__all__ = ["ShipOptions", "Shipper", "Summary", "expand"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShipOptions:
    paths: Sequence[str]
    rotated: Sequence[str]
    source_id: str
    start_from: str = "beginning"
    round_bytes: int = 4 * 1024 * 1024
    poll_seconds: float = 0.2
    tail: TailOptions = field(default_factory=TailOptions)
    rescan_seconds: float = 10.0
    # Shipping up to the end (not following): stop with PublishError once Kafka took nothing for this long.
    give_up_seconds: float = 120.0


@dataclass
class Summary:
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    retries: int = 0

    def seconds(self) -> float:
        return time.monotonic() - self.started


def expand(pattern: str) -> tuple[list[str], bool]:
    """The names ``pattern`` stands for, and whether it was taken as a glob.

    A name that exists is that file, whatever characters it holds (``app[1].log``); only a
    name that does not exist and has glob characters is a pattern.
    """
    if os.path.lexists(pattern) or not glob.has_magic(pattern):
        return [pattern], False
    return sorted(glob.glob(pattern)), True


class Shipper:
    """Ships every file matched by ``options.paths`` through ``publisher``, checkpointing in ``store``.

    A path named explicitly that cannot be shipped (a directory, unreadable) is an error at
    start. A glob's match that cannot be shipped, or any file that turns unshippable later, is
    skipped with one warning and listed in ``problems``; the other files go on.
    """

    def __init__(self, options: ShipOptions, publisher: Publisher, store: CheckpointStore,
                 on_progress: Callable[[Shipper], None] | None = None) -> None:
        self.options = options
        self.publisher = publisher
        self.store = store
        self.tails: dict[str, FileTail] = {}
        self.summary = Summary()
        self.on_progress = on_progress
        self.problems: dict[str, str] = {}  # file name -> why it is not being shipped
        self.unmatched: dict[str, str] = {}  # path or pattern -> why nothing is shipped from it (at the last scan)
        self._announced: set[str] = set()
        self._backoff = 0.0
        self._failing_since: float | None = None
        self._last_failure = ""
        self._last_scan = 0.0
        self._scan(first=True)

    def _scan(self, first: bool = False) -> None:
        """Pick up files newly matched by the globs; rotated names are followed by their path's tail instead."""
        self._last_scan = time.monotonic()
        watched: list[tuple[str, bool]] = []
        unmatched = {}
        for pattern in self.options.paths:
            names, is_glob = expand(pattern)
            watched += [(name, is_glob) for name in names]
            if is_glob and not names:
                unmatched[pattern] = "no file matches it"
            elif not is_glob and not os.path.lexists(pattern):
                unmatched[pattern] = "no such file"
        self.unmatched = unmatched
        rotated = {r.format(path=name) for name, _ in watched for r in self.options.rotated}
        for name, is_glob in watched:
            if name in self.tails or name in rotated:
                continue
            try:
                self.tails[name] = FileTail(name, self.options.rotated, self.store, self.options.tail,
                                            self.options.start_from)
                self.problems.pop(name, None)
            except ShipperError as exc:
                if first and not is_glob:
                    raise
                self._skip(name, str(exc))

    def _skip(self, name: str, why: str) -> None:
        """Leave ``name`` aside, saying so once (again only if the reason changes)."""
        if self.problems.get(name) != why:
            log.warning("%s; skipping it", why)
        self.problems[name] = why

    def announce_unmatched(self) -> None:
        """Following: say once of each path or pattern that it names no file yet."""
        for pattern, why in self.unmatched.items():
            if pattern not in self._announced:
                self._announced.add(pattern)
                log.warning("%s: %s (yet); shipping it once it appears", show_path(pattern), why)

    def run(self, follow: bool, stop: threading.Event) -> None:
        """Ship until caught up (``follow=False``) or until ``stop`` is set.

        Shipping up to the end, PublishError once Kafka took nothing for ``give_up_seconds``.
        """
        if follow:
            self.announce_unmatched()
        while not stop.is_set():
            if follow and time.monotonic() - self._last_scan > self.options.rescan_seconds:
                self._scan()
                self.announce_unmatched()
            progressed = False
            for name, tail in list(self.tails.items()):
                if stop.is_set():
                    break
                if name in self.problems and not follow:
                    continue  # following, it is tried again: it may be a file again
                try:
                    batch = tail.next_batch(self.options.round_bytes, follow)
                    self.problems.pop(name, None)
                    if batch is not None:
                        progressed = self._deliver(tail, batch, stop) or progressed
                except ShipperError as exc:
                    self._skip(name, str(exc))
            if self.on_progress is not None:
                self.on_progress(self)
            if self._backoff:
                if not follow and self._failing_since is not None and \
                        time.monotonic() - self._failing_since > self.options.give_up_seconds:
                    raise PublishError(f"Kafka took no record for {self.options.give_up_seconds:.0f} s "
                                       f"(the delivery timeout); last error: {self._last_failure}")
                stop.wait(self._backoff)
            elif not progressed:
                if not follow:
                    return
                stop.wait(self.options.poll_seconds)

    def _deliver(self, tail: FileTail, batch: Batch, stop: threading.Event) -> bool:
        """Send one batch and wait for Kafka; True if all of it was acknowledged."""
        key = record_key(self.options.source_id, tail.path)
        file_key = batch.identity.key
        deliveries = []
        failure: BaseException | None = None
        for record in batch.records:
            try:
                deliveries.append(self.publisher.send(
                    key, record.value,
                    record_headers(self.options.source_id, tail.path, file_key, record.offset, record.cut)))
            except PublishError as exc:
                failure = exc
                break
        self.summary.in_flight = len(deliveries)
        self.publisher.flush(stop)
        self.summary.in_flight = 0
        acked = 0
        for delivery in deliveries:
            error = delivery.error()
            if error is not None:
                failure = error
                break
            acked += 1
        if failure is None:
            tail.acknowledged(batch)
            if self._backoff:
                log.info("Kafka takes records again; shipping resumed")
            self._backoff = 0.0
            self._failing_since = None
            return True
        tail.acknowledged(batch, acked)
        self.summary.retries += 1
        self._backoff = min(max(self._backoff * 2, 0.5), 5.0)
        if acked or self._failing_since is None:
            self._failing_since = time.monotonic()
        self._last_failure = str(failure)
        log.warning("Kafka did not acknowledge records of %s (%s); holding at the last acknowledged byte and "
                    "retrying in %.1f s", show_path(tail.path), failure, self._backoff)
        return False

    def totals(self) -> dict[str, int]:
        keys = ("lines", "bytes", "records", "rotations", "truncations", "cut_lines")
        return {k: sum(getattr(t.stats, k) for t in self.tails.values()) for k in keys}

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()
