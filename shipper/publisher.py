"""Where shipped records go: a ``Publisher`` protocol, its Kafka implementation and an in-memory one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError, KafkaTimeoutError

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


class Delivery(Protocol):
    def error(self) -> BaseException | None: ...


class Publisher(Protocol):
    """Sends records to one topic; ``flush`` waits until each sent record is acknowledged or failed."""

    def send(self, key: bytes, value: bytes, headers: Headers) -> Delivery: ...
    def flush(self, stop: threading.Event) -> None: ...
    def close(self) -> None: ...


class PublishError(RuntimeError):
    """Kafka could not be reached or did not take a record; the shipper retries from its file."""


@dataclass
class _KafkaDelivery:
    future: object

    def error(self) -> BaseException | None:
        fut = self.future
        if not fut.is_done:  # type: ignore[attr-defined]
            return PublishError("not acknowledged before shutdown")
        return fut.exception if fut.failed() else None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProducerSettings:
    bootstrap_servers: Sequence[str]
    topic: str
    compression: str = "lz4"
    linger_ms: int = 5
    batch_size: int = 1024 * 1024
    max_request_size: int = 4 * 1024 * 1024
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    max_block_ms: int = 10_000


def available_compression(requested: str) -> str:
    """``requested`` if this Python has its codec, else the best one it has (zstd, lz4, then gzip)."""
    from kafka import codec

    have = {"none": True, "gzip": codec.has_gzip(), "lz4": codec.has_lz4(), "zstd": codec.has_zstd(),
            "snappy": codec.has_snappy()}
    if have.get(requested):
        return requested
    fallback = next(c for c in ("zstd", "lz4", "gzip") if have[c])
    log.warning("compression %s is not available here; using %s", requested, fallback)
    return fallback


class KafkaPublisher:
    """kafka-python producer with ``acks=all`` and idempotence: no record written twice by its own retries."""

    def __init__(self, settings: ProducerSettings) -> None:
        self.settings = settings
        self.topic = settings.topic
        self.producer: KafkaProducer | None = None

    def connect(self) -> None:
        """Create the producer (kafka-python bootstraps at once); PublishError if no broker answers."""
        if self.producer is not None:
            return
        s = self.settings
        compression = available_compression(s.compression)
        try:
            self.producer = KafkaProducer(
                bootstrap_servers=list(s.bootstrap_servers),
                client_id="kos-shipper",
                acks="all",
                enable_idempotence=True,
                max_in_flight_requests_per_connection=5,
                compression_type=None if compression == "none" else compression,
                linger_ms=s.linger_ms,
                batch_size=s.batch_size,
                max_request_size=s.max_request_size,
                delivery_timeout_ms=s.delivery_timeout_ms,
                request_timeout_ms=s.request_timeout_ms,
                max_block_ms=s.max_block_ms,
                retry_backoff_ms=200,
                reconnect_backoff_max_ms=2000,
            )
        except KafkaConfigurationError as exc:
            raise PublishError(f"invalid Kafka producer settings: {exc}") from None
        except KafkaError:
            raise PublishError(f"no Kafka broker answers at {', '.join(s.bootstrap_servers)}: start it "
                               "(`kos stack start`) or set KOS_KAFKA_BOOTSTRAP_SERVERS") from None

    def send(self, key: bytes, value: bytes, headers: Headers) -> Delivery:
        self.connect()
        assert self.producer is not None
        try:
            return _KafkaDelivery(self.producer.send(self.topic, value=value, key=key, headers=headers))
        except KafkaTimeoutError as exc:
            raise PublishError(f"Kafka did not take the record in time ({exc})") from None
        except KafkaError as exc:
            raise PublishError(str(exc)) from None

    def flush(self, stop: threading.Event) -> None:
        """Wait for every sent record's outcome; give up (leaving them unacknowledged) if ``stop`` is set."""
        while self.producer is not None:
            try:
                self.producer.flush(timeout=1.0)
                return
            except KafkaTimeoutError:
                if stop.is_set():
                    return

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)


@dataclass
class _Done:
    exc: BaseException | None = None

    def error(self) -> BaseException | None:
        return self.exc


@dataclass
class MemoryPublisher:
    """Keeps what was sent in a list; ``down_for`` fails every send of the next flush cycles, as an outage would."""

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
