"""The local Kafka: a KRaft broker (broker + controller in one JVM) from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from pathlib import Path

from kos.config import Config
from kos.stack.process import (
    StackError,
    describe,
    port_open,
    running_pid,
    secret_file,
    spawn,
    terminate,
    wait_until,
)
from kos.stack.tls import LocalCA

log = logging.getLogger(__name__)

BROKER_POM = "conf/maven/kafka-broker.pom.xml"


class KafkaStack:
    """Install, start, stop and inspect the single local broker described by ``conf/kafka``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.home = config.state_dir / "kafka"
        self.lib = config.state_dir / "lib" / "kafka"
        self.pid_file = config.state_dir / "run" / "kafka.pid"
        self.log_file = config.state_dir / "logs" / "kafka.out"
        self.host = config.stack.host
        self.port = config.stack.kafka_port
        self.tls = LocalCA(config.state_dir / "tls")

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

    def _java(self, main: str, *args: str) -> list[str]:
        log4j = self.config.project_dir / "conf" / "kafka" / "log4j2.properties"
        return [
            "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkos.log.file={self.config.state_dir / 'logs' / 'kafka.log'}",
            "-cp", f"{self.lib}/*", main, *args,
        ]

    def _render_properties(self) -> Path:
        template = (self.config.project_dir / "conf" / "kafka" / "server.properties").read_text()
        stack = self.config.stack
        keystore = self.tls.issue("broker", stack.host, hosts=(stack.host, "localhost"))
        text = template.format(
            node_id=1,
            quorum_voters=f"1@{stack.host}:{stack.kafka_controller_port}",
            host=stack.host,
            port=stack.kafka_port,
            controller_port=stack.kafka_controller_port,
            sasl_ssl_port=stack.kafka_sasl_ssl_port,
            ssl_port=stack.kafka_ssl_port,
            keystore=keystore.pem,
            key_password=keystore.password.read_text().strip(),
            truststore=self.tls.cert,
            log_dir=self.home / "data",
            replication_factor=1,
        )
        path = self.home / "server.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)  # it holds the broker key's password
        path.write_text(text)
        return path

    def start(self) -> None:
        """Start the broker unless it runs already; format its storage on first start."""
        if running_pid(self.pid_file) is not None:
            log.info("Kafka already running on %s:%d", self.host, self.port)
            self.ensure_users()
            return
        if port_open(self.host, self.port):
            raise StackError(f"port {self.host}:{self.port} is taken by another program; "
                             "stop it or set KOS_STACK_KAFKA_PORT")
        self.install()
        props = self._render_properties()
        if not (self.home / "data" / "meta.properties").exists():
            cluster_id = _kafka_uuid()
            subprocess.run(
                self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                           "--ignore-formatted"),
                check=True, stdout=subprocess.DEVNULL,
            )
        spawn(self._java("kafka.Kafka", str(props)), self.pid_file, self.log_file)
        wait_until(
            lambda: port_open(self.host, self.port),
            timeout=90, what=f"Kafka (log: {self.log_file})",
            alive=lambda: running_pid(self.pid_file) is not None,
        )
        log.info("Kafka started on %s:%d", self.host, self.port)
        self.ensure_users()

    def ensure_users(self) -> None:
        """The SCRAM user of [kafka] sasl_username, with the configured (or a generated) password, and a
        client certificate for the SSL listener; both made again each start, so a changed password applies."""
        from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion

        k = self.config.kafka
        self.tls.issue("client", k.sasl_username)
        password = k.sasl_password or secret_file(self.config.path(k.sasl_password_file))
        admin = KafkaAdminClient(bootstrap_servers=[f"{self.host}:{self.port}"], client_id="kos-stack")
        try:
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):  # one request each: Kafka's rule
                error = admin.alter_user_scram_credentials(
                    [UserScramCredentialUpsertion(k.sasl_username, mechanism, password)]).get(k.sasl_username)
                if error:
                    raise StackError(f"Kafka refused the SCRAM user {k.sasl_username}: {error}")
        finally:
            admin.close()

    def stop(self) -> None:
        if terminate(self.pid_file, timeout=60):
            log.info("Kafka stopped")

    def status(self) -> str:
        return describe("kafka", self.pid_file, self.host, self.port, f"data {self.home / 'data'}")


def _kafka_uuid() -> str:
    """A cluster id in Kafka's format: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
