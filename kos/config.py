"""KOS configuration: one immutable value built once, at the entry point, from a declarative schema.

Values come from ``conf/kos.toml`` (or the file named by ``KOS_CONFIG``), each overridable by an environment
variable ``KOS_<SECTION>_<KEY>`` (``KOS_MYSQL_LOAD_PASSWORD`` for ``[mysql.load] password``) and, for some, a
command-line option (``override``): all three pass the same rules, and a broken value is named as it was given.
Unknown keys are errors; secrets are masked when printed. Relative paths hang off the project folder (the
parent of the config file's folder). conf/kos.toml says what each key means.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError

from kos.schema import ConfigError, Section, like, read, replaced, rule

__all__ = ["DEFAULT_CONFIG", "PROJECT_DIR", "Bucket", "Config", "Role", "ConfigError", "load", "override", "seconds"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "conf" / "kos.toml"


Port = Annotated[int, rule(lambda v: 1 <= v <= 65535, "must be from 1 to 65535")]
Positive = Annotated[int, rule(lambda v: v >= 1, "must be at least 1")]
NotNegative = Annotated[int, rule(lambda v: v >= 0, "must be at least 0")]
Duration = Annotated[str, like(r"[1-9][0-9]* (millisecond|second|minute|hour|day)s?",
                                "a duration such as '30 seconds' or '10 minutes'")]
Topic = Annotated[str, like(r"[A-Za-z0-9._-]{1,249}", "a Kafka topic name (letters, digits, '.', '_', '-')")]
Bucket = Literal["minute", "hour", "day"]
Role = Literal["owner", "load", "metrics", "live"]  # the MySQL accounts


class Account(Section):
    """A MySQL account: its password from the environment (``KOS_MYSQL_<ROLE>_PASSWORD``), else from its file."""

    user: str
    password_file: str
    password: SecretStr = SecretStr("")


class Kafka(Section):
    bootstrap_servers: Annotated[tuple[Annotated[str, like(r"[^\s,]+:\d{1,5}", "HOST:PORT")], ...],
                                 rule(len, "must not be empty")] = ("127.0.0.1:9092",)
    raw_topic: Topic = "kos-raw-os-log"
    parsed_topic: Topic = "kos-parsed-os-log"
    dead_letter_topic: Topic = "kos-dead-letter"
    alerts_topic: Topic = "kos-alerts"
    partitions: Positive = 3
    replication_factor: Positive = 1
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str = "kos"
    sasl_password_file: str = ".kos/secrets/kafka-password"
    sasl_password: SecretStr = SecretStr("")
    ssl_cafile: str = ".kos/tls/ca.pem"
    ssl_keystore: str = ""
    ssl_key_password_file: str = ""
    ssl_key_password: SecretStr = SecretStr("")
    descriptor_set: str = "descriptors/kos.desc"


class Stack(Section):
    state_dir: str = ".kos"
    host: str = "127.0.0.1"
    kafka_port: Port = 9092
    kafka_controller_port: Port = 9093
    kafka_brokers: Positive = 1
    kafka_sasl_ssl_port: Port = 9094
    kafka_ssl_port: Port = 9095
    mariadb_port: Port = 3306
    spark_master_port: Port = 7077
    spark_master_ui_port: Port = 8090
    spark_worker_ui_port: Port = 8091
    spark_history_port: Port = 18080
    airflow_port: Port = 8080


class Mysql(Section):
    host: str = "127.0.0.1"
    port: Port = 3306
    database: str = "kos"
    owner: Account = Account(user="kos", password_file=".kos/secrets/mysql-password")
    load: Account = Account(user="kos_load", password_file=".kos/secrets/mysql-kos_load-password")
    metrics: Account = Account(user="kos_metrics", password_file=".kos/secrets/mysql-kos_metrics-password")
    live: Account = Account(user="kos_live", password_file=".kos/secrets/mysql-kos_live-password")
    tls: bool = False
    ssl_ca: str = ".kos/tls/ca.pem"
    ssl_truststore: str = ".kos/tls/ca.p12"
    ssl_truststore_password_file: str = ".kos/tls/ca.p12.password"
    ssl_truststore_password: SecretStr = SecretStr("")


class Shipper(Section):
    paths: tuple[str, ...] = ("/var/log/syslog",)
    rotated: tuple[str, ...] = ("{path}.1",)
    checkpoint_dir: str = ".kos/shipper"
    start_from: Literal["beginning", "end"] = "beginning"
    source_id: str = ""
    fingerprint_bytes: Positive = 1024
    max_line_bytes: Positive = 1024 * 1024
    lines_per_record: Positive = 256
    round_bytes: Positive = 4 * 1024 * 1024
    poll_seconds: Annotated[float, rule(lambda v: v > 0, "must be more than 0")] = 0.2
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    linger_ms: NotNegative = 5
    batch_size: Positive = 1024 * 1024
    delivery_timeout_ms: Positive = 120_000
    request_timeout_ms: Positive = 30_000
    metrics_port: Annotated[int, rule(lambda v: 0 <= v <= 65535, "must be from 0 to 65535")] = 0
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _delivery_outlasts_a_request(self) -> Shipper:
        floor = self.linger_ms + self.request_timeout_ms  # the producer's own rule
        if self.delivery_timeout_ms <= floor:
            raise PydanticCustomError("kos", "must be more than linger_ms + request_timeout_ms ({floor}), not {value}",
                                      {"key": "delivery_timeout_ms", "floor": floor, "value": self.delivery_timeout_ms})
        return self


class Spark(Section):
    master: str = "local[2]"
    protobuf_package: str = ""
    protobuf: Literal["auto", "spark", "kos"] = "auto"
    event_log_dir: str = ".kos/spark-events"
    checkpoint_dir: str = ".kos/checkpoints"
    max_offsets_per_trigger: NotNegative = 250_000


class Run(Section):
    real_time: Annotated[str, like(r"|[1-9][0-9]* (second|minute|hour)s?", "'' or a duration such as '1 minute'")] \
        = "1 minute"
    trigger: Duration = "250 milliseconds"
    driver_memory: Annotated[str, like(r"[1-9][0-9]*[kmg]", "a JVM size such as '768m' or '1g'")] = "768m"
    max_restarts: NotNegative = 5
    restart_window: Duration = "10 minutes"
    metrics_port: Annotated[int, rule(lambda v: 0 <= v <= 65535, "must be from 0 to 65535")] = 0
    metrics_host: str = "127.0.0.1"


class Live(Section):
    trigger: Duration = "1 second"
    watermark: Duration = "2 minutes"
    partitions: Positive = 2


class Alerts(Section):
    storm_starts: Annotated[int, rule(lambda v: v >= 2, "must be at least 2")] = 5
    storm_window: Duration = "10 minutes"
    alertmanager_url: Annotated[str, like(r"|https?://[^\s/]+(/\S*)?", "'' or an http(s) URL")] = ""


class Airflow(Section):
    home: str = ".kos/airflow"
    pipeline_schedule: str = "*/15 * * * *"
    metrics_schedule: str = "@hourly"
    metrics_bucket: Bucket = "minute"
    metrics_top: Positive = 10
    reports_dir: str = "out/reports"
    retries: NotNegative = 3
    retry_delay_seconds: NotNegative = 30


class Config(Section):
    kafka: Kafka = Kafka()
    stack: Stack = Stack()
    mysql: Mysql = Mysql()
    shipper: Shipper = Shipper()
    spark: Spark = Spark()
    run: Run = Run()
    live: Live = Live()
    alerts: Alerts = Alerts()
    airflow: Airflow = Airflow()
    project_dir: Path = Field(default=PROJECT_DIR, exclude=True)

    def path(self, value: str) -> Path:
        """An absolute path for a configured one (relative ones hang off the project folder)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.stack.state_dir)

    def secret(self, value: SecretStr, file: str, variable: str) -> str:
        """A secret given directly (from the environment) or read from ``file``; ConfigError if neither."""
        if value.get_secret_value():
            return value.get_secret_value()
        if not file:
            raise ConfigError(f"no secret configured: set {variable}")
        try:
            return self.path(file).read_text().strip()
        except FileNotFoundError:
            raise ConfigError(f"set {variable} or create {self.path(file)} (`kos stack start` generates it "
                              "locally)") from None

    def mysql_account(self, role: Role = "owner") -> tuple[str, str]:
        """User and password of a MySQL account."""
        account: Account = getattr(self.mysql, role)
        return account.user, self.secret(account.password, account.password_file,
                                         f"KOS_MYSQL_{role.upper()}_PASSWORD")


_UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400}


def seconds(duration: str) -> float:
    """The seconds of a duration as the config holds one ("10 minutes")."""
    count, unit = duration.split()
    return int(count) * _UNIT_SECONDS[unit.rstrip("s")]


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file and apply ``KOS_*`` overrides from ``environ``."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("KOS_CONFIG") or DEFAULT_CONFIG)
    return read(Config, path, environ, "KOS", project_dir=path.resolve().parent.parent)


def override(cfg: Config, section: str, values: Mapping[str, tuple[object, str]]) -> Config:
    """``cfg`` with keys of ``section`` given on the command line: ``{key: (value, option)}``, None left out."""
    return replaced(cfg, section, values)
