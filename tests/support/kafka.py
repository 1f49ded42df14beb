"""Reading back what a test's stages wrote to Kafka, and writing records as a producer that is not KOS's."""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobs import messages
from kos.config import Config
from kosproto.descriptors import message_class
from tests.support.submit import CHECKED_IN

# kos.v1.DeadLetter from the checked-in descriptor set: what the dead-letter topic's values decode as.
DeadLetter = message_class(CHECKED_IN.read_bytes(), messages.DEAD_LETTER)


@dataclass(frozen=True)
class ShippedLine:
    source: str
    path: str
    file: str
    offset: int
    line: bytes


def produce(cfg: Config, topic: str, records: list[tuple[bytes | None, list[tuple[str, bytes]]]]) -> None:
    """Write ``records`` (value, headers) to partition 0 of ``topic`` as a producer that is not KOS's would, each
    acknowledged by every replica."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=list(cfg.kafka.bootstrap_servers), acks="all")
    for value, headers in records:
        producer.send(topic, value=value, key=b"k", headers=headers, partition=0)
    producer.flush()
    producer.close()


def read_topic(bootstrap: tuple[str, ...], topic: str, security: dict | None = None) -> list:
    """Every record of ``topic`` from the beginning to its current end, partition by partition, in order.

    ``security``: kafka-python settings (kos.kafka_client.python_settings) for a TLS or SASL listener.
    """
    from kos.kafka_client import read_to_end

    return list(read_to_end({"bootstrap_servers": list(bootstrap), **(security or {})}, topic))


def shipped_lines(records: list) -> list[ShippedLine]:
    """Expand records (one line or a newline-joined run) into lines with their origins."""
    out = []
    for rec in records:
        headers = {k: os.fsdecode(v) for k, v in rec.headers}  # a path need not be UTF-8
        offset = int(headers["kos.offset"])
        for line in rec.value.split(b"\n"):
            out.append(ShippedLine(headers["kos.source"], headers["kos.path"], headers["kos.file"], offset, line))
            offset += len(line) + 1
    return out


def over(cfg: Config, protocol: str, **extra: str) -> dict[str, str]:
    """KOS_* settings for one of the local broker's secured listeners."""
    port = cfg.stack.kafka_sasl_ssl_port if protocol == "SASL_SSL" else cfg.stack.kafka_ssl_port
    env = {"KOS_KAFKA_SECURITY_PROTOCOL": protocol, "KOS_KAFKA_BOOTSTRAP_SERVERS": f"{cfg.stack.host}:{port}",
           "KOS_SHIPPER_REQUEST_TIMEOUT_MS": "5000"}
    if protocol == "SSL":
        env.update(KOS_KAFKA_SSL_KEYSTORE=".kos/tls/client.pem",
                   KOS_KAFKA_SSL_KEY_PASSWORD_FILE=".kos/tls/client.password")
    env.update(extra)
    return env
