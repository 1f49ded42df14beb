"""KOS configuration: one immutable value built once, at the entry point.

Values come from ``conf/kos.toml`` (or the file named by ``KOS_CONFIG``), each
overridable by an environment variable ``KOS_<SECTION>_<KEY>``. Unknown keys and
values of the wrong type are rejected with the key's name. Relative paths are
resolved against the project folder (the parent of the config file's folder).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "conf" / "kos.toml"


# The MySQL accounts and the prefix of their keys in [mysql].
MYSQL_ROLES = {"owner": "", "load": "load_", "metrics": "metrics_"}


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    raw_topic: str = "kos-raw-os-log"
    parsed_topic: str = "kos-parsed-os-log"
    dead_letter_topic: str = "kos-dead-letter"
    partitions: int = 3
    replication_factor: int = 1
    # PLAINTEXT, SSL (TLS, with a client certificate when ssl_keystore is set) or SASL_SSL.
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str = "kos"
    sasl_password_file: str = ".kos/secrets/kafka-password"
    sasl_password: str = field(default="", repr=False)
    # PEM files: the CA that signed the brokers' certificates; the client's key and certificate chain.
    ssl_cafile: str = ".kos/tls/ca.pem"
    ssl_keystore: str = ""
    ssl_key_password_file: str = ""
    ssl_key_password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.security_protocol not in ("PLAINTEXT", "SSL", "SASL_SSL"):
            raise ConfigError(f"config key kafka.security_protocol must be PLAINTEXT, SSL or SASL_SSL, "
                              f"not {self.security_protocol!r}")
        if self.sasl_mechanism not in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ConfigError(f"config key kafka.sasl_mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512, "
                              f"not {self.sasl_mechanism!r}")


@dataclass(frozen=True)
class StackConfig:
    state_dir: str = ".kos"
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    # 1: a single broker. More: a cluster on loopback, node i on each Kafka port + 100 * (i - 1).
    kafka_brokers: int = 1
    kafka_sasl_ssl_port: int = 9094
    kafka_ssl_port: int = 9095
    mariadb_port: int = 3306
    spark_master_port: int = 7077
    spark_master_ui_port: int = 8090
    spark_worker_ui_port: int = 8091
    spark_history_port: int = 18080
    airflow_port: int = 8080


@dataclass(frozen=True)
class MysqlConfig:
    host: str = "127.0.0.1"
    port: int = 3306
    database: str = "kos"
    user: str = "kos"
    password_file: str = ".kos/secrets/mysql-password"
    password: str = field(default="", repr=False)
    # Staging tables of the load job's batches live in their own database.
    stage_database: str = "kos_stage"
    # Least privilege: the load job may only add events, the metrics job only read them.
    load_user: str = "kos_load"
    load_password_file: str = ".kos/secrets/mysql-kos_load-password"
    load_password: str = field(default="", repr=False)
    metrics_user: str = "kos_metrics"
    metrics_password_file: str = ".kos/secrets/mysql-kos_metrics-password"
    metrics_password: str = field(default="", repr=False)
    # TLS to MySQL: every client verifies the server against ssl_ca (PEM; Java reads the same CA from
    # a PKCS#12 trust store), and the local stack's accounts require it.
    tls: bool = False
    ssl_ca: str = ".kos/tls/ca.pem"
    ssl_truststore: str = ".kos/tls/ca.p12"
    ssl_truststore_password_file: str = ".kos/tls/ca.p12.password"
    ssl_truststore_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class ShipperConfig:
    paths: tuple[str, ...] = ("/var/log/syslog",)
    rotated: tuple[str, ...] = ("{path}.1",)
    checkpoint_dir: str = ".kos/shipper"
    start_from: str = "beginning"
    source_id: str = ""
    fingerprint_bytes: int = 1024
    max_line_bytes: int = 1024 * 1024
    lines_per_record: int = 256
    round_bytes: int = 4 * 1024 * 1024
    poll_seconds: float = 0.2
    compression: str = "lz4"
    linger_ms: int = 5
    batch_size: int = 1024 * 1024
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if self.start_from not in ("beginning", "end"):
            raise ConfigError(f"config key shipper.start_from must be 'beginning' or 'end', not {self.start_from!r}")
        if self.compression not in ("none", "gzip", "snappy", "lz4", "zstd"):
            raise ConfigError(f"config key shipper.compression must be none, gzip, snappy, lz4 or zstd, "
                              f"not {self.compression!r}")
        for name in ("fingerprint_bytes", "max_line_bytes", "lines_per_record", "round_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"config key shipper.{name} must be at least 1")


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[2]"
    packages: tuple[str, ...] = ("com.mysql:mysql-connector-j:9.5.0",)
    event_log_dir: str = ".kos/spark-events"


@dataclass(frozen=True)
class AirflowConfig:
    home: str = ".kos/airflow"
    metrics_schedule: str = "@hourly"
    metrics_bucket: str = "minute"
    metrics_top: int = 10
    reports_dir: str = "out/reports"
    retries: int = 3
    retry_delay_seconds: int = 30


@dataclass(frozen=True)
class Config:
    kafka: KafkaConfig = KafkaConfig()
    stack: StackConfig = StackConfig()
    mysql: MysqlConfig = MysqlConfig()
    shipper: ShipperConfig = ShipperConfig()
    spark: SparkConfig = SparkConfig()
    airflow: AirflowConfig = AirflowConfig()
    project_dir: Path = PROJECT_DIR

    def path(self, value: str) -> Path:
        """An absolute path for a configured one (relative ones hang off the project folder)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.stack.state_dir)

    def mysql_settings(self, role: str) -> tuple[str, str, str]:
        """User, password given in the environment ('' if none) and password file of a MySQL account:
        ``owner`` (schema and tooling), ``load`` or ``metrics``."""
        prefix, m = MYSQL_ROLES[role], self.mysql
        return getattr(m, f"{prefix}user"), getattr(m, f"{prefix}password"), getattr(m, f"{prefix}password_file")

    def mysql_account(self, role: str = "owner") -> tuple[str, str]:
        """User and password of a MySQL account: the environment (KOS_MYSQL_PASSWORD,
        KOS_MYSQL_LOAD_PASSWORD, KOS_MYSQL_METRICS_PASSWORD) first, then the account's secrets file."""
        user, password, password_file = self.mysql_settings(role)
        return user, self.secret(password, password_file, f"KOS_MYSQL_{MYSQL_ROLES[role].upper()}PASSWORD")

    def secret(self, value: str, file: str, variable: str) -> str:
        """A secret given directly (from the environment) or read from ``file``; ConfigError if neither."""
        if value:
            return value
        if not file:
            raise ConfigError(f"no secret configured: set {variable}")
        path = self.path(file)
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise ConfigError(f"set {variable} or create {path} (`kos stack start` generates it locally)") from None

    def mysql_password(self) -> str:
        """The owner account's password."""
        return self.mysql_account("owner")[1]


_SECTIONS: dict[str, type] = {
    "kafka": KafkaConfig,
    "stack": StackConfig,
    "mysql": MysqlConfig,
    "shipper": ShipperConfig,
    "spark": SparkConfig,
    "airflow": AirflowConfig,
}


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file and apply ``KOS_*`` overrides from ``environ``."""
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("KOS_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None

    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{path}: unknown section [{sorted(unknown)[0]}]")
    sections: dict[str, typing.Any] = {}
    for name, cls in _SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        sections[name] = _build(cls, name, table, environ)
    return Config(**sections, project_dir=path.resolve().parent.parent)


def _build(cls: type, section: str, table: dict[str, object], environ: Mapping[str, str]) -> object:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"unknown config key {section}.{key}")
        values[key] = _check(f"{section}.{key}", hints[key], value)
    for key in names:
        env_name = f"KOS_{section}_{key}".upper()
        if env_name in environ:
            values[key] = _from_env(env_name, hints[key], environ[env_name])
    return cls(**values)


def _check(name: str, hint: object, value: object) -> object:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"config key {name} must be a list of strings")
        return tuple(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):  # type: ignore[arg-type]
        raise ConfigError(f"config key {name} must be of type {getattr(hint, '__name__', hint)}")
    return value


def _from_env(name: str, hint: object, text: str) -> object:
    if typing.get_origin(hint) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    try:
        return hint(text)  # type: ignore[operator]
    except ValueError:
        raise ConfigError(f"environment variable {name} must be of type {getattr(hint, '__name__', hint)}") from None
