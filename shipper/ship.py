"""The shipping loop: read a batch per watched file, send it, wait for Kafka, then checkpoint.

Only acknowledged bytes move a checkpoint. A batch that Kafka did not take in
full is read again from its first unacknowledged record after a back-off, so an
outage of any length loses nothing: the file is the buffer, and memory holds at
most one batch plus the producer's buffer.
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shipper.checkpoint import CheckpointStore
from shipper.publisher import Headers, Publisher, PublishError
from shipper.tail import Batch, FileTail, TailOptions

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


@dataclass
class Summary:
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    retries: int = 0

    def seconds(self) -> float:
        return time.monotonic() - self.started


def record_headers(source_id: str, path: str, file_key: str, offset: int, cut: int) -> Headers:
    """The origin of a record's first line: which machine, which path, which file, which byte."""
    headers = [
        ("kos.source", source_id.encode()),
        ("kos.path", path.encode()),
        ("kos.file", file_key.encode()),
        ("kos.offset", str(offset).encode()),
    ]
    if cut:
        headers.append(("kos.cut", str(cut).encode()))
    return headers


class Shipper:
    """Ships every file matched by ``options.paths`` through ``publisher``, checkpointing in ``store``."""

    def __init__(self, options: ShipOptions, publisher: Publisher, store: CheckpointStore,
                 on_progress: Callable[[Shipper], None] | None = None) -> None:
        self.options = options
        self.publisher = publisher
        self.store = store
        self.tails: dict[str, FileTail] = {}
        self.summary = Summary()
        self.on_progress = on_progress
        self._backoff = 0.0
        self._last_scan = 0.0
        self._scan()

    def _scan(self) -> None:
        """Pick up files newly matched by the globs; rotated names are followed by their path's tail instead."""
        self._last_scan = time.monotonic()
        watched: list[str] = []
        for pattern in self.options.paths:
            watched += sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        rotated = {r.format(path=name) for name in watched for r in self.options.rotated}
        for name in watched:
            if name not in self.tails and name not in rotated:
                self.tails[name] = FileTail(name, self.options.rotated, self.store, self.options.tail,
                                            self.options.start_from)

    def run(self, follow: bool, stop: threading.Event) -> None:
        """Ship until caught up (``follow=False``) or until ``stop`` is set."""
        while not stop.is_set():
            if follow and time.monotonic() - self._last_scan > self.options.rescan_seconds:
                self._scan()
            progressed = False
            for tail in list(self.tails.values()):
                if stop.is_set():
                    break
                batch = tail.next_batch(self.options.round_bytes, follow)
                if batch is not None:
                    progressed = self._deliver(tail, batch, stop) or progressed
            if self.on_progress is not None:
                self.on_progress(self)
            if self._backoff:
                stop.wait(self._backoff)
            elif not progressed:
                if not follow:
                    return
                stop.wait(self.options.poll_seconds)

    def _deliver(self, tail: FileTail, batch: Batch, stop: threading.Event) -> bool:
        """Send one batch and wait for Kafka; True if all of it was acknowledged."""
        key = f"{self.options.source_id}:{tail.path}".encode()
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
            return True
        tail.acknowledged(batch, acked)
        self.summary.retries += 1
        self._backoff = min(max(self._backoff * 2, 0.5), 5.0)
        log.warning("Kafka did not acknowledge records of %s (%s); holding at the last acknowledged byte and "
                    "retrying in %.1f s", tail.path, failure, self._backoff)
        return False

    def totals(self) -> dict[str, int]:
        keys = ("lines", "bytes", "records", "rotations", "truncations", "cut_lines")
        return {k: sum(getattr(t.stats, k) for t in self.tails.values()) for k in keys}

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()
