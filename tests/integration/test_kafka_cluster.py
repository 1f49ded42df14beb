"""A 3-broker KRaft cluster on loopback (`kos stack start --brokers 3`): the shipper rides out the
`kill -9` of the broker leading its partition, and every line arrives exactly once, in order; transform
and load ride it out too, every event one row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kos import config as kos_config
from kosctl.cli import cluster_config
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.process import running_pid
from kosctl.stack.topics import ensure_topics
from tests.support.kafka import read_topic
from tests.support.pipeline import RunningJobs, rows, ship, write_log
from tests.support.submit import BIN, PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The cluster's shape and ports, away from the session's single broker on 9092.
CLUSTER = {"KOS_STACK_KAFKA_BROKERS": "3", "KOS_STACK_KAFKA_PORT": "19092", "KOS_STACK_KAFKA_CONTROLLER_PORT": "19093",
           "KOS_STACK_KAFKA_SASL_SSL_PORT": "19094", "KOS_STACK_KAFKA_SSL_PORT": "19095"}


@pytest.fixture(scope="module")
def cluster(cfg: kos_config.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[kos_config.Config]:
    """Three brokers on ports 19092, 19192, 19292 (controllers +1), state in a fresh folder."""
    state = tmp_path_factory.mktemp("cluster")
    (state / "lib").symlink_to(cfg.state_dir / "lib")  # the broker jars, fetched once by `make setup`
    three = kos_config.load(environ={**CLUSTER, "KOS_STACK_STATE_DIR": str(state)})
    stack = KafkaStack(three)
    stack.start()
    try:
        yield cluster_config(three, stack)
    finally:
        stack.stop()


def describe(cfg: kos_config.Config, topic: str) -> list[dict]:
    """The topic's partitions (leader, replicas, in-sync replicas) as a live broker reports them, read
    with kcat: librdkafka moves on to another bootstrap server when one is dead."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = subprocess.run(["kcat", "-b", ",".join(cfg.kafka.bootstrap_servers), "-L", "-t", topic, "-J",
                               "-m", "5"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            (found,) = json.loads(done.stdout)["topics"]
            if found.get("partitions"):
                return [{"partition_index": p["partition"], "leader_id": p["leader"],
                         "replica_nodes": [r["id"] for r in p["replicas"]],
                         "isr_nodes": [r["id"] for r in p["isrs"]]} for p in found["partitions"]]
        time.sleep(0.5)
    raise AssertionError(f"no broker of the cluster describes {topic}")


def leader_of(cfg: kos_config.Config, topic: str, partition: int) -> int:
    return next(p["leader_id"] for p in describe(cfg, topic) if p["partition_index"] == partition)


def test_the_cluster_replicates_three_times(cluster):
    ensure_topics(cluster, ["kos-cluster-check"])
    partitions = describe(cluster, "kos-cluster-check")
    assert len(partitions) == cluster.kafka.partitions
    assert all(sorted(p["replica_nodes"]) == [1, 2, 3] and sorted(p["isr_nodes"]) == [1, 2, 3] for p in partitions)


def test_shipper_survives_kill_9_of_the_leader(cluster, tmp_path):
    topic = "kos-cluster-kill"
    ensure_topics(cluster, [topic])
    log = tmp_path / "syslog"
    log.write_bytes(b"")
    lines: list[bytes] = []
    done_writing = threading.Event()

    def write() -> None:
        with open(log, "ab") as f:
            for batch in range(120):
                chunk = [f"Nov 28 10:{batch // 60:02d}:{batch % 60:02d} host systemd[1]: Started Unit {batch}-{i}."
                         .encode() for i in range(2000)]
                lines.extend(chunk)
                f.write(b"\n".join(chunk) + b"\n")
                f.flush()
                time.sleep(0.1)
        done_writing.set()

    env = {**os.environ, "KOS_KAFKA_BOOTSTRAP_SERVERS": ",".join(cluster.kafka.bootstrap_servers),
           "KOS_SHIPPER_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "KOS_SHIPPER_REQUEST_TIMEOUT_MS": "5000"}
    shipper = subprocess.Popen([str(BIN / "kos-shipper"), "--no-progress", "--path", str(log), "--topic", topic],
                               env=env, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Once records flow, kill the broker that leads the partition they go to.
        stack = KafkaStack(kos_config.load(environ=_stack_env(cluster)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _partition_with_data(cluster, topic):
            time.sleep(0.2)
        partition = _partition_with_data(cluster, topic)
        assert partition is not None, "no record reached the cluster"
        leader = leader_of(cluster, topic, partition)
        victim = stack.nodes[leader - 1]
        pid = running_pid(victim.pid_file)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # The controllers fence the dead broker after its session times out; another replica leads.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and leader_of(cluster, topic, partition) in (leader, -1):
            time.sleep(0.5)
        assert leader_of(cluster, topic, partition) not in (leader, -1)
        stack.start()  # the killed node comes back and catches up
        writer.join(60)
        assert done_writing.is_set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _lines_in(cluster, topic) < len(lines):
            time.sleep(1)
    finally:
        shipper.send_signal(signal.SIGTERM)
        output = shipper.communicate(timeout=60)[0]
        writer.join(60)
    shipped = [line for r in read_topic(cluster.kafka.bootstrap_servers, topic) for line in r.value.split(b"\n")]
    assert len(shipped) == len(lines) == 240_000, output[-3000:]
    assert shipped == lines  # one partition for the file: exactly once, in order
    # The restarted broker caught up: every partition is fully in sync again.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(sorted(p["isr_nodes"]) != [1, 2, 3] for p in describe(cluster, topic)):
        time.sleep(1)
    assert [sorted(p["isr_nodes"]) for p in describe(cluster, topic)] == [[1, 2, 3]] * cluster.kafka.partitions


def _stack_env(cluster: kos_config.Config) -> dict[str, str]:
    return {**CLUSTER, "KOS_STACK_STATE_DIR": cluster.stack.state_dir}


def _end_offsets(cluster: kos_config.Config, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=list(cluster.kafka.bootstrap_servers), group_id=None)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return {tp.partition: end for tp, end in consumer.end_offsets(parts).items()}
    finally:
        consumer.close()


def _partition_with_data(cluster: kos_config.Config, topic: str) -> int | None:
    return next((p for p, end in _end_offsets(cluster, topic).items() if end > 0), None)


def _lines_in(cluster: kos_config.Config, topic: str) -> int:
    return sum(len(r.value.split(b"\n")) for r in read_topic(cluster.kafka.bootstrap_servers, topic))


def test_status_and_stop_cover_every_node(cluster):
    out = subprocess.run([str(BIN / "kos"), "stack", "status"], env={**os.environ, **_stack_env(cluster)},
                         cwd=PROJECT, capture_output=True, text=True, timeout=60).stdout
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("kafka")] == [
        "kafka node 1", "kafka node 2", "kafka node 3"]
    assert all("accepting connections" in line for line in out.splitlines() if line.startswith("kafka"))
    assert Path(cluster.stack.state_dir).is_dir()


def test_transform_and_load_ride_out_kill_9_of_the_leader(cluster, db, tmp_path):
    """Shipped lines flow through transform and load (processing-time) while the broker leading the parsed topic's
    first partition is killed with SIGKILL and comes back: each event is one row in the end."""
    run = uuid.uuid4().hex[:10]
    topics = {k: f"kos-cluster-{k.lower()}-{run}" for k in ("RAW", "PARSED", "DEAD_LETTER")}
    ensure_topics(cluster, list(topics.values()))
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_SHIPPER_SOURCE_ID="cluster",
               KOS_KAFKA_BOOTSTRAP_SERVERS=",".join(cluster.kafka.bootstrap_servers),
               KOS_SHIPPER_CHECKPOINT_DIR=str(tmp_path / "shipper"), KOS_SPARK_CHECKPOINT_DIR=str(tmp_path / "spark"),
               **{f"KOS_KAFKA_{k}_TOPIC": v for k, v in topics.items()})
    first = write_log(tmp_path / "syslog", 200_000, seed=21)
    ship(env, tmp_path / "syslog")
    stack = KafkaStack(kos_config.load(environ=_stack_env(cluster)))
    with RunningJobs(env, tmp_path) as jobs:
        jobs.wait_for_rows(db, 1)
        assert rows(db)[0] < first  # still flowing
        leader = leader_of(cluster, topics["PARSED"], 0)
        pid = running_pid(stack.nodes[leader - 1].pid_file)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and leader_of(cluster, topics["PARSED"], 0) in (leader, -1):
            time.sleep(0.5)
        assert leader_of(cluster, topics["PARSED"], 0) not in (leader, -1)
        second = write_log(tmp_path / "more", 20_000, seed=22)
        ship(env, tmp_path / "more")
        stack.start()  # the killed node comes back and catches up
        jobs.wait_for_rows(db, first + second)
    assert rows(db) == (first + second, first + second)
    print(jobs.restarts)


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch):
    """Kafka's storage tool reads `-t -C1Mt...` as an option (the CI failure of 2026-12-04): an id whose base64
    starts with "-" (first byte 0xf8-0xfb) is drawn again, as Kafka's Uuid.randomUuid does."""
    import base64
    import uuid

    from kosctl.stack import kafka as stack_kafka

    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(stack_kafka.uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(b"\xf8" + bytes(15)).decode().startswith("-")
    assert stack_kafka._kafka_uuid() == "AQEBAQEBAQEBAQEBAQEBAQ"
