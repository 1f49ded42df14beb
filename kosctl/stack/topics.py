"""The pipeline's Kafka topics, created if missing with the partition counts from config."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from kos.config import Config, Kafka
from kos.kafka_client import python_settings

__all__ = ["delete_topics", "ensure_topics", "missing_topics", "topic_names"]

log = logging.getLogger(__name__)


def topic_names(kafka: Kafka) -> list[str]:
    return [kafka.raw_topic, kafka.parsed_topic, kafka.dead_letter_topic, kafka.alerts_topic]


def missing_topics(cfg: Config, names: list[str] | None = None) -> list[str]:
    """The pipeline's topics (or ``names``) the cluster does not have; kafka-python's error if it cannot be reached."""
    names = topic_names(cfg.kafka) if names is None else names
    admin = KafkaAdminClient(**python_settings(cfg), client_id="kos-stack")
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    return [n for n in names if n not in existing]


def ensure_topics(cfg: Config, names: list[str] | None = None) -> list[str]:
    """Create the missing topics; return the names that were created."""
    kafka = cfg.kafka
    missing = missing_topics(cfg, names)
    if not missing:
        return []
    admin = KafkaAdminClient(**python_settings(cfg), client_id="kos-stack")
    try:
        created = []
        for name in missing:
            try:
                admin.create_topics(
                    [NewTopic(name, num_partitions=kafka.partitions, replication_factor=kafka.replication_factor)]
                )
                created.append(name)
                log.info("created topic %s (%d partitions)", name, kafka.partitions)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def delete_topics(cfg: Config, names: list[str]) -> None:
    """Delete the named topics (those that exist)."""
    admin = KafkaAdminClient(**python_settings(cfg), client_id="kos-stack")
    try:
        existing = set(admin.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
