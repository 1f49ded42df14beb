"""The local Kafka: a KRaft broker (broker + controller in one JVM) from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kos.config import Config
from kosctl.stack.process import (
    StackError,
    describe,
    port_open,
    running_pid,
    secret_file,
    spawn,
    terminate,
    wait_until,
)
from kosctl.stack.tls import LocalCA

__all__ = ["BROKER_POM", "KafkaStack"]

log = logging.getLogger(__name__)

BROKER_POM = "conf/maven/kafka-broker.pom.xml"


@dataclass(frozen=True)
class Node:
    """One broker process (broker and controller in one JVM) of the local cluster."""

    id: int
    port: int
    controller_port: int
    sasl_ssl_port: int
    ssl_port: int
    home: Path
    pid_file: Path
    log_file: Path


class KafkaStack:
    """Install, start, stop and inspect the local Kafka: one broker (the default), or a cluster of
    ``brokers`` on loopback whose node i listens on the configured ports + 100 * (i - 1), with
    replicated internal topics and ``min.insync.replicas=2`` from three brokers on."""

    def __init__(self, config: Config, brokers: int | None = None) -> None:
        self.config = config
        self.brokers = brokers or config.stack.kafka_brokers
        self.lib = config.state_dir / "lib" / "kafka"
        self.host = config.stack.host
        self.tls = LocalCA(config.state_dir / "tls")
        stack, state = config.stack, config.state_dir
        single = self.brokers == 1
        self.home = state / "kafka" if single else state / "kafka-cluster"
        self.nodes = [
            Node(
                id=i,
                port=stack.kafka_port + 100 * (i - 1),
                controller_port=stack.kafka_controller_port + 100 * (i - 1),
                sasl_ssl_port=stack.kafka_sasl_ssl_port + 100 * (i - 1),
                ssl_port=stack.kafka_ssl_port + 100 * (i - 1),
                home=self.home if single else self.home / f"node-{i}",
                pid_file=state / "run" / ("kafka.pid" if single else f"kafka-node-{i}.pid"),
                log_file=state / "logs" / ("kafka.out" if single else f"kafka-node-{i}.out"),
            )
            for i in range(1, self.brokers + 1)
        ]
        self.port = self.nodes[0].port
        self.pid_file = self.nodes[0].pid_file

    @property
    def bootstrap_servers(self) -> tuple[str, ...]:
        return tuple(f"{self.host}:{n.port}" for n in self.nodes)

    def install(self) -> None:
        """Copy the broker's jars from the local Maven repository (fetching them once)."""
        if self.lib.is_dir() and any(self.lib.glob("kafka_2.13-*.jar")):
            return
        if shutil.which("mvn") is None:
            raise StackError("Maven (mvn) is needed to fetch the Kafka broker: apt-get install maven")
        log.info("fetching the Kafka broker jars with Maven into %s", self.lib)
        subprocess.run(
            [
                "mvn", "-B", "-q", "-f", str(self.config.project_dir / BROKER_POM),
                "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
                "-DincludeScope=runtime", f"-DoutputDirectory={self.lib}",
            ],
            check=True,
        )

    def _java(self, node: Node, main: str, *args: str) -> list[str]:
        log4j = self.config.project_dir / "conf" / "kafka" / "log4j2.properties"
        return [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkos.log.file={node.log_file.with_suffix('.log')}",
            "-cp", f"{self.lib}/*", main, *args,
        ]

    def _render_properties(self, node: Node) -> Path:
        template = (self.config.project_dir / "conf" / "kafka" / "server.properties").read_text()
        keystore = self.tls.issue("broker", self.host, hosts=(self.host, "localhost"))
        replication = min(self.brokers, 3)
        text = template.format(
            node_id=node.id,
            quorum_voters=",".join(f"{n.id}@{self.host}:{n.controller_port}" for n in self.nodes),
            host=self.host,
            port=node.port,
            controller_port=node.controller_port,
            sasl_ssl_port=node.sasl_ssl_port,
            ssl_port=node.ssl_port,
            keystore=keystore.pem,
            key_password=keystore.password.read_text().strip(),
            truststore=self.tls.cert,
            log_dir=node.home / "data",
            replication_factor=replication,
            min_insync=2 if replication >= 3 else 1,
        )
        path = node.home / "server.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # it holds the broker key's password
        path.write_text(text)
        return path

    def _cluster_id(self) -> str:
        """One id for all nodes of this shape, kept beside their data."""
        path = self.home / "cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_kafka_uuid() + "\n")
        return path.read_text().strip()

    def start(self) -> None:
        """Start every node that is not running (formatting its storage the first time), then make
        sure the SASL user and client certificate exist."""
        missing = [n for n in self.nodes if running_pid(n.pid_file) is None]
        for node in missing:
            if port_open(self.host, node.port):
                raise StackError(f"port {self.host}:{node.port} is taken by another program (another shape of "
                                 "the local Kafka? `kos stack stop`); stop it or set KOS_STACK_KAFKA_PORT")
        if missing:
            self.install()
        for node in missing:
            props = self._render_properties(node)
            if not (node.home / "data" / "meta.properties").exists():
                subprocess.run(
                    self._java(node, "kafka.tools.StorageTool", "format", f"--cluster-id={self._cluster_id()}",
                               "-c", str(props), "--ignore-formatted"),
                    check=True, stdout=subprocess.DEVNULL,
                )
            spawn(self._java(node, "kafka.Kafka", str(props)), node.pid_file, node.log_file)
        for node in missing:
            wait_until(
                lambda node=node: port_open(self.host, node.port),  # type: ignore[misc]
                timeout=120, what=f"Kafka node {node.id} (log: {node.log_file})",
                alive=lambda node=node: running_pid(node.pid_file) is not None,  # type: ignore[misc]
            )
            log.info("Kafka node %d started on %s:%d", node.id, self.host, node.port)
        if not missing:
            log.info("Kafka already running on %s", ", ".join(self.bootstrap_servers))
        self.ensure_users()

    def ensure_users(self) -> None:
        """The SCRAM user of [kafka] sasl_username, with the configured (or a generated) password, and a
        client certificate for the SSL listener; both made again each start, so a changed password applies."""
        from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion

        k = self.config.kafka
        self.tls.issue("client", k.sasl_username)
        password = k.sasl_password.get_secret_value() or secret_file(self.config.path(k.sasl_password_file))
        admin = KafkaAdminClient(bootstrap_servers=list(self.bootstrap_servers), client_id="kos-stack")
        try:
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):  # one request each: Kafka's rule
                error = admin.alter_user_scram_credentials(
                    [UserScramCredentialUpsertion(k.sasl_username, mechanism, password)]).get(k.sasl_username)
                if error:
                    raise StackError(f"Kafka refused the SCRAM user {k.sasl_username}: {error}")
        finally:
            admin.close()

    def stop(self) -> None:
        """Every node at once: one by one, the last nodes would wait for a controller quorum that is gone."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            stopped = list(pool.map(lambda node: terminate(node.pid_file, timeout=60), self.nodes))
        for node, was_running in zip(self.nodes, stopped, strict=True):
            if was_running:
                log.info("Kafka node %d stopped", node.id)

    def status(self) -> str:
        if self.brokers == 1:
            return describe("kafka", self.pid_file, self.host, self.port, f"data {self.home / 'data'}")
        return "\n".join(describe(f"kafka node {n.id}", n.pid_file, self.host, n.port, f"data {n.home / 'data'}")
                         for n in self.nodes)


def _kafka_uuid() -> str:
    """A cluster id in Kafka's format: 16 random bytes, URL-safe base64 without padding, never starting with "-"
    (Kafka's own Uuid.randomUuid draws again too: its tools would read such an id as an option)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text
