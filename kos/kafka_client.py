"""How every KOS client reaches Kafka, from one place in the config: kafka-python settings for the
shipper and the tooling, ``kafka.*`` options for the Spark jobs.

Both read the same PEM files: the CA that signed the brokers' certificates, and for TLS client
authentication one file with the client's encrypted private key and its certificate chain. On a
Spark cluster those paths must exist on every executor's machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kos.config import Config

__all__ = ["python_settings", "read_to_end", "spark_options"]


def _sasl_password(cfg: Config) -> str:
    k = cfg.kafka
    return cfg.secret(k.sasl_password, k.sasl_password_file, "KOS_KAFKA_SASL_PASSWORD")


def _key_password(cfg: Config) -> str:
    k = cfg.kafka
    return cfg.secret(k.ssl_key_password, k.ssl_key_password_file, "KOS_KAFKA_SSL_KEY_PASSWORD")


def python_settings(cfg: Config) -> dict[str, Any]:
    """Keyword arguments for kafka-python's clients: the brokers and how to authenticate to them."""
    k = cfg.kafka
    settings: dict[str, Any] = {"bootstrap_servers": list(k.bootstrap_servers),
                                "security_protocol": k.security_protocol}
    if k.security_protocol == "PLAINTEXT":
        return settings
    settings.update(ssl_cafile=str(cfg.path(k.ssl_cafile)), ssl_check_hostname=True)
    if k.ssl_keystore:
        keystore = str(cfg.path(k.ssl_keystore))
        settings.update(ssl_certfile=keystore, ssl_keyfile=keystore, ssl_password=_key_password(cfg))
    if k.security_protocol == "SASL_SSL":
        settings.update(sasl_mechanism=k.sasl_mechanism, sasl_plain_username=k.sasl_username,
                        sasl_plain_password=_sasl_password(cfg))
    return settings


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def spark_options(cfg: Config) -> dict[str, str]:
    """Options for Spark's Kafka source and sink (``kafka.`` + the Java client's settings).

    The SASL password sits inside ``kafka.sasl.jaas.config``; Spark's default redaction
    (``spark.redaction.regex`` matches "password") hides it in the UI and the event log.
    """
    k = cfg.kafka
    options = {"kafka.bootstrap.servers": ",".join(k.bootstrap_servers), "kafka.security.protocol": k.security_protocol}
    if k.security_protocol == "PLAINTEXT":
        return options
    options.update({
        "kafka.ssl.truststore.type": "PEM",
        "kafka.ssl.truststore.location": str(cfg.path(k.ssl_cafile)),
        "kafka.ssl.endpoint.identification.algorithm": "https",
    })
    if k.ssl_keystore:
        options.update({
            "kafka.ssl.keystore.type": "PEM",
            "kafka.ssl.keystore.location": str(cfg.path(k.ssl_keystore)),
            "kafka.ssl.key.password": _key_password(cfg),
        })
    if k.security_protocol == "SASL_SSL":
        options.update({
            "kafka.sasl.mechanism": k.sasl_mechanism,
            "kafka.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                                      f"username={_jaas_quote(k.sasl_username)} "
                                      f"password={_jaas_quote(_sasl_password(cfg))};",
        })
    return options


def read_to_end(settings: dict[str, Any], topic: str, wait_seconds: float = 30) -> Iterator[Any]:
    """Every record of ``topic`` from its beginning to its end as of now, partition by partition, each in order
    (kafka-python ``ConsumerRecord``s). ``settings``: ``python_settings`` of a config, or any kafka-python client
    settings. A topic created a moment ago may take a while to show in the client's metadata: up to
    ``wait_seconds``, then KeyError."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings, group_id=None, enable_auto_commit=False,
                             fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024)
    try:
        deadline = time.monotonic() + wait_seconds
        while not (known := consumer.partitions_for_topic(topic)):
            if time.monotonic() > deadline:
                raise KeyError(f"topic {topic} has no partitions")
            time.sleep(0.2)
        partitions = [TopicPartition(topic, p) for p in sorted(known)]
        for tp in partitions:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            while consumer.position(tp) < end:
                for batch in consumer.poll(timeout_ms=1000).values():
                    yield from (r for r in batch if r.offset < end)
    finally:
        consumer.close()
