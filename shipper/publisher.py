"""Where shipped records go: a ``Publisher`` protocol, its Kafka implementation and an in-memory one."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaConfigurationError, KafkaError, KafkaTimeoutError

from kos import others
from kos.errors import KosError
from shipper.records import Headers

__all__ = ["Delivery", "KafkaPublisher", "ProducerSettings", "PublishError", "Publisher", "available_compression"]

log = logging.getLogger(__name__)


class Delivery(Protocol):
    def error(self) -> BaseException | None: ...


class Publisher(Protocol):
    """Sends records to one topic; ``flush`` waits until each sent record is acknowledged or failed."""

    def send(self, key: bytes, value: bytes, headers: Headers) -> Delivery: ...
    def flush(self, stop: threading.Event) -> None: ...
    def close(self) -> None: ...


class PublishError(KosError):
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
    # kafka-python's security settings (security_protocol, ssl_*, sasl_*), from kos.kafka_client.
    security: Mapping[str, Any] = field(default_factory=dict, repr=False)
    compression: str = "lz4"
    linger_ms: int = 5
    batch_size: int = 1024 * 1024
    max_request_size: int = 4 * 1024 * 1024
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    max_block_ms: int = 10_000


class _Heard(logging.Handler):
    """What kafka-python logs at WARNING and above while the producer bootstraps."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.messages and len(self.messages) < 200:
            self.messages.append(message)


@contextmanager
def _listening() -> Iterator[_Heard]:
    """Hear kafka-python's warnings, even where the shipper silences them (without printing them)."""
    heard = _Heard()
    kafka_log = logging.getLogger("kafka")
    level, propagate = kafka_log.level, kafka_log.propagate
    if kafka_log.getEffectiveLevel() > logging.WARNING:
        kafka_log.setLevel(logging.WARNING)
        kafka_log.propagate = False
    kafka_log.addHandler(heard)
    try:
        yield heard
    finally:
        kafka_log.removeHandler(heard)
        kafka_log.setLevel(level)
        kafka_log.propagate = propagate


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

    def connect(self, topic_wait_s: float = 0.0) -> None:
        """Create the producer (kafka-python bootstraps at once) and find the topic's partitions.

        PublishError if no broker answers, or if the topic is not known to the cluster within
        ``topic_wait_s`` (at least ``max_block_ms``): it does not exist, or this client may not see it.
        """
        if self.producer is not None:
            return
        s = self.settings
        compression = available_compression(s.compression)
        with _listening() as heard:
            try:
                producer = KafkaProducer(
                    **s.security,
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
                    bootstrap_timeout_ms=min(s.request_timeout_ms, 30_000),
                )
            except (KafkaConfigurationError, ValueError) as exc:
                raise PublishError(f"invalid Kafka producer settings: {exc}") from None
            except (OSError, ssl.SSLError) as exc:
                raise PublishError(f"cannot use the TLS files for Kafka: {exc}") from None
            except KafkaError:
                sasl = s.security.get("security_protocol") == "SASL_SSL"
                raise PublishError(others.kafka_connection(s.bootstrap_servers, heard.messages, sasl)) from None
            deadline = time.monotonic() + topic_wait_s
            while True:
                try:
                    producer.partitions_for(self.topic)
                    break
                except KafkaError:
                    if time.monotonic() < deadline:
                        continue
                    producer.close(timeout=0)
                    raise PublishError(others.kafka_topic(self.topic, s.bootstrap_servers, heard.messages)) from None
        self.producer = producer

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
