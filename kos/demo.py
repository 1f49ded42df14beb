"""`make demo`: ship the machine's syslog (or the bundled sample) into the local Kafka and show what arrived.

Transform, load and metrics join the demo when the Spark protobuf connector is available
(see README, "Status").
"""

from __future__ import annotations

import os
import sys

from kos import config as kos_config
from kos.kafka_client import python_settings
from shipper import cli as shipper_cli

SAMPLE = kos_config.PROJECT_DIR / "tests" / "data" / "sample.syslog"


def pick_source(preferred: str = "/var/log/syslog") -> str:
    """The real syslog when this user can read it, else the bundled sample."""
    return preferred if os.access(preferred, os.R_OK) and os.path.isfile(preferred) else str(SAMPLE)


def main() -> int:
    cfg = kos_config.load()
    source = pick_source()
    print(f"== shipping {source} into {cfg.kafka.raw_topic} ({', '.join(cfg.kafka.bootstrap_servers)})")
    checkpoints = cfg.state_dir / "demo" / "shipper"
    status = shipper_cli.main(["--once", "--path", source, "--checkpoint-dir", str(checkpoints)])
    if status:
        return status
    from shipper.checkpoint import CheckpointStore

    done = CheckpointStore(checkpoints).load(source)
    print(f"== {source}: {done.offset if done else 0} of {os.path.getsize(source)} bytes shipped in all "
          f"(checkpoint in {checkpoints}); a second run sends only what was appended since")

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**python_settings(cfg), group_id=None)
    parts = [TopicPartition(cfg.kafka.raw_topic, p) for p in consumer.partitions_for_topic(cfg.kafka.raw_topic) or []]
    ends = consumer.end_offsets(parts)
    consumer.close()
    print(f"== {cfg.kafka.raw_topic}: {sum(ends.values())} records over {len(parts)} partitions")

    print("== transform, load and metrics wait for the Spark protobuf connector: see README, 'Status'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
