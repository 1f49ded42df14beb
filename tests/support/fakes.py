"""Fakes for pure tests: stand-ins that keep in memory what the real component would send."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from shipper.publisher import Delivery, PublishError
from shipper.records import Headers


@dataclass
class _Done:
    exc: BaseException | None = None

    def error(self) -> BaseException | None:
        return self.exc


@dataclass
class MemoryPublisher:
    """The shipper's Publisher keeping what was sent in a list; ``down_for`` fails every send of the next flush
    cycles, as an outage would."""

    sent: list[tuple[bytes, bytes, Headers]] = field(default_factory=list)
    down_for: int = 0

    def send(self, key: bytes, value: bytes, headers: Headers) -> Delivery:
        if self.down_for > 0:
            return _Done(PublishError("broker unreachable (simulated)"))
        self.sent.append((key, value, headers))
        return _Done()

    def flush(self, stop: threading.Event) -> None:
        self.down_for = max(self.down_for - 1, 0)

    def close(self) -> None:
        pass
