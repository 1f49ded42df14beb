"""KOS configuration: one immutable value built once, at the entry point.

Values come from ``conf/kos.toml`` (or the file named by ``KOS_CONFIG``), each
overridable by an environment variable ``KOS_<SECTION>_<KEY>``. Unknown keys and
values of the wrong type are rejected with the key's name. Relative paths are
resolved against the project folder (the parent of the config file's folder).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kos.errors import KosError

__all__ = ["BUCKETS", "BUCKET_STEPS", "DEFAULT_CONFIG", "MYSQL_ROLES", "PROJECT_DIR", "AirflowConfig", "AlertsConfig",
           "Config", "ConfigError", "InvalidValue", "KafkaConfig", "LiveConfig", "MysqlConfig", "RunConfig",
           "ShipperConfig", "SparkConfig", "SparkJob", "StackConfig", "load", "override", "seconds"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "conf" / "kos.toml"


# The time buckets the metrics count starts in, and how long each is.
BUCKET_STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
BUCKETS = tuple(BUCKET_STEPS)
# The MySQL accounts and the prefix of their keys in [mysql].
MYSQL_ROLES = {"owner": "", "load": "load_", "metrics": "metrics_", "live": "live_"}


class ConfigError(KosError, ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


class InvalidValue(ConfigError):
    """A value outside what its key allows; ``named`` says so under the name the user gave it by."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config key {key} {problem}")
        self.key = key
        self.problem = problem

    def named(self, name: str) -> ConfigError:
        """The same complaint about a value given as ``name`` (an environment variable, a CLI option)."""
        return ConfigError(f"{name} ({self.key}) {self.problem}")


# Constraints on a key, in its field's metadata: one check for the file, the environment and the CLI.
def _rule(**rule: object) -> dict[str, object]:
    return {"rule": rule}


PORT = _rule(low=1, high=65535)
POSITIVE = _rule(low=1)
NOT_NEGATIVE = _rule(low=0)
# A span of time as Spark writes one: "10 seconds", "2 minutes", "1 hour".
DURATION = _rule(pattern=r"[1-9][0-9]* (second|minute|hour|day)s?", what="a duration such as '30 seconds' or "
                 "'10 minutes'")
# Kafka's own rule for topic names.
TOPIC = _rule(pattern=r"[A-Za-z0-9._-]{1,249}", what="a Kafka topic name (letters, digits, '.', '_', '-')")


class _Section:
    """Checks every field against the rule in its metadata when a section is built or replaced."""

    section: typing.ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            rule = f.metadata.get("rule")
            if rule:
                problem = _broken(rule, getattr(self, f.name))
                if problem:
                    raise InvalidValue(f"{self.section}.{f.name}", problem)
        self._check_together()

    def _check_together(self) -> None:
        """Rules between keys of the section (InvalidValue naming one of them)."""


def _broken(rule: Mapping[str, object], value: object) -> str | None:
    """What is wrong with ``value`` under ``rule`` (None if nothing)."""
    shown = repr(value)
    if "choices" in rule and value not in rule["choices"]:  # type: ignore[operator]
        names = [repr(c) for c in rule["choices"]]  # type: ignore[attr-defined]
        return f"must be {', '.join(names[:-1])} or {names[-1]}, not {shown}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return f"must be a finite number, not {shown}"
        low, high = rule.get("low"), rule.get("high")
        if low is not None and high is not None and not low <= value <= high:  # type: ignore[operator]
            return f"must be from {low} to {high}, not {shown}"
        if low is not None and value < low:  # type: ignore[operator]
            return f"must be at least {low}, not {shown}"
        if rule.get("above") is not None and value <= rule["above"]:  # type: ignore[operator]
            return f"must be more than {rule['above']}, not {shown}"
    if "pattern" in rule:
        items = value if isinstance(value, tuple) else (value,)
        if not items and rule.get("nonempty"):
            return "must not be empty"
        for item in items:
            if not re.fullmatch(str(rule["pattern"]), str(item)):
                return f"must be {rule['what']}, not {item!r}"
    return None


@dataclass(frozen=True)
class KafkaConfig(_Section):
    section = "kafka"
    bootstrap_servers: tuple[str, ...] = field(default=("127.0.0.1:9092",), metadata=_rule(
        pattern=r"[^\s,]+:\d{1,5}", what="HOST:PORT", nonempty=True))
    raw_topic: str = field(default="kos-raw-os-log", metadata=TOPIC)
    parsed_topic: str = field(default="kos-parsed-os-log", metadata=TOPIC)
    dead_letter_topic: str = field(default="kos-dead-letter", metadata=TOPIC)
    alerts_topic: str = field(default="kos-alerts", metadata=TOPIC)
    partitions: int = field(default=3, metadata=POSITIVE)
    replication_factor: int = field(default=1, metadata=POSITIVE)
    # PLAINTEXT, SSL (TLS, with a client certificate when ssl_keystore is set) or SASL_SSL.
    security_protocol: str = field(default="PLAINTEXT", metadata=_rule(choices=("PLAINTEXT", "SSL", "SASL_SSL")))
    sasl_mechanism: str = field(default="SCRAM-SHA-512", metadata=_rule(choices=("SCRAM-SHA-256", "SCRAM-SHA-512")))
    sasl_username: str = "kos"
    sasl_password_file: str = ".kos/secrets/kafka-password"
    sasl_password: str = field(default="", repr=False)
    # PEM files: the CA that signed the brokers' certificates; the client's key and certificate chain.
    ssl_cafile: str = ".kos/tls/ca.pem"
    ssl_keystore: str = ""
    ssl_key_password_file: str = ""
    ssl_key_password: str = field(default="", repr=False)
    # The protobuf contract of the parsed and dead-letter topics (`make proto` builds it from proto/). A
    # schema change ships a new set: to the load first, then to the transform (README, "Schema changes").
    descriptor_set: str = "descriptors/kos.desc"


@dataclass(frozen=True)
class StackConfig(_Section):
    section = "stack"
    state_dir: str = ".kos"
    host: str = "127.0.0.1"
    kafka_port: int = field(default=9092, metadata=PORT)
    kafka_controller_port: int = field(default=9093, metadata=PORT)
    # 1: a single broker. More: a cluster on loopback, node i on each Kafka port + 100 * (i - 1).
    kafka_brokers: int = field(default=1, metadata=POSITIVE)
    kafka_sasl_ssl_port: int = field(default=9094, metadata=PORT)
    kafka_ssl_port: int = field(default=9095, metadata=PORT)
    mariadb_port: int = field(default=3306, metadata=PORT)
    spark_master_port: int = field(default=7077, metadata=PORT)
    spark_master_ui_port: int = field(default=8090, metadata=PORT)
    spark_worker_ui_port: int = field(default=8091, metadata=PORT)
    spark_history_port: int = field(default=18080, metadata=PORT)
    airflow_port: int = field(default=8080, metadata=PORT)


@dataclass(frozen=True)
class MysqlConfig(_Section):
    section = "mysql"
    host: str = "127.0.0.1"
    port: int = field(default=3306, metadata=PORT)
    database: str = "kos"
    user: str = "kos"
    password_file: str = ".kos/secrets/mysql-password"
    password: str = field(default="", repr=False)
    # Least privilege: the load job may only add events, the metrics job only read them.
    load_user: str = "kos_load"
    load_password_file: str = ".kos/secrets/mysql-kos_load-password"
    load_password: str = field(default="", repr=False)
    metrics_user: str = "kos_metrics"
    metrics_password_file: str = ".kos/secrets/mysql-kos_metrics-password"
    metrics_password: str = field(default="", repr=False)
    # The live query writes its own tables (live_*, process_alerts) and nothing else.
    live_user: str = "kos_live"
    live_password_file: str = ".kos/secrets/mysql-kos_live-password"
    live_password: str = field(default="", repr=False)
    # TLS to MySQL: every client verifies the server against ssl_ca (PEM; Java reads the same CA from
    # a PKCS#12 trust store), and the local stack's accounts require it.
    tls: bool = False
    ssl_ca: str = ".kos/tls/ca.pem"
    ssl_truststore: str = ".kos/tls/ca.p12"
    ssl_truststore_password_file: str = ".kos/tls/ca.p12.password"
    ssl_truststore_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class ShipperConfig(_Section):
    section = "shipper"
    paths: tuple[str, ...] = ("/var/log/syslog",)
    rotated: tuple[str, ...] = ("{path}.1",)
    checkpoint_dir: str = ".kos/shipper"
    start_from: str = field(default="beginning", metadata=_rule(choices=("beginning", "end")))
    source_id: str = ""
    fingerprint_bytes: int = field(default=1024, metadata=POSITIVE)
    max_line_bytes: int = field(default=1024 * 1024, metadata=POSITIVE)
    lines_per_record: int = field(default=256, metadata=POSITIVE)
    round_bytes: int = field(default=4 * 1024 * 1024, metadata=POSITIVE)
    poll_seconds: float = field(default=0.2, metadata=_rule(above=0))
    compression: str = field(default="lz4", metadata=_rule(choices=("none", "gzip", "snappy", "lz4", "zstd")))
    linger_ms: int = field(default=5, metadata=NOT_NEGATIVE)
    batch_size: int = field(default=1024 * 1024, metadata=POSITIVE)
    delivery_timeout_ms: int = field(default=120_000, metadata=POSITIVE)
    request_timeout_ms: int = field(default=30_000, metadata=POSITIVE)
    # 0: no metrics endpoint.
    metrics_port: int = field(default=0, metadata=_rule(low=0, high=65535))
    metrics_host: str = "127.0.0.1"

    def _check_together(self) -> None:
        # The producer's own rule: a record may wait linger_ms, then each request request_timeout_ms.
        floor = self.linger_ms + self.request_timeout_ms
        if self.delivery_timeout_ms <= floor:
            raise InvalidValue("shipper.delivery_timeout_ms", f"must be more than linger_ms + request_timeout_ms "
                                                               f"({floor}), not {self.delivery_timeout_ms}")


@dataclass(frozen=True)
class SparkConfig(_Section):
    section = "spark"
    master: str = "local[2]"
    # Maven coordinates of the connectors, resolved from ~/.m2 by spark-submit --packages: each job gets
    # those it needs (job_packages). protobuf_package: Spark's protobuf connector, where it can be had;
    # empty, the jobs use KOS's own from_protobuf / to_protobuf.
    kafka_package: str = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0"
    jdbc_package: str = "com.mysql:mysql-connector-j:9.5.0"
    protobuf_package: str = ""
    # auto: Spark's protobuf connector when it is on the class path, else KOS's; spark or kos force one.
    protobuf: str = field(default="auto", metadata=_rule(choices=("auto", "spark", "kos")))
    event_log_dir: str = ".kos/spark-events"
    # One folder per streaming query (transform, load) below this one.
    checkpoint_dir: str = ".kos/checkpoints"
    # Kafka records read per micro-batch and partition at most; 0: all that are there.
    max_offsets_per_trigger: int = field(default=250_000, metadata=NOT_NEGATIVE)

    def job_packages(self, job: str) -> tuple[str, ...]:
        """The --packages of a job: transform reads and writes Kafka, load and live also MySQL, metrics only MySQL."""
        kafka = (self.kafka_package, *([self.protobuf_package] if self.protobuf_package else []))
        with_mysql = (*kafka, self.jdbc_package)
        return {"transform": kafka, "load": with_mysql, "live": with_mysql, "metrics": (self.jdbc_package,)}[job]


@dataclass(frozen=True)
class SparkJob:
    """How a KOS job is submitted: its application file and the packages it needs (``spark-submit --packages``)."""

    name: str
    application: Path
    packages: tuple[str, ...]


@dataclass(frozen=True)
class RunConfig(_Section):
    section = "run"
    # The transform's and the load's processing-time trigger under `kos run`.
    trigger: str = field(default="1 second", metadata=DURATION)
    # A stage that exits more often than this within restart_window stops `kos run` (exit status 1).
    max_restarts: int = field(default=5, metadata=NOT_NEGATIVE)
    restart_window: str = field(default="10 minutes", metadata=DURATION)


@dataclass(frozen=True)
class LiveConfig(_Section):
    section = "live"
    # The live query's processing-time trigger.
    trigger: str = field(default="5 seconds", metadata=DURATION)
    # How far behind the latest event time seen a start may arrive and still be counted; later ones are
    # counted apart as late (live_late).
    watermark: str = field(default="2 minutes", metadata=DURATION)
    # The group state's partitions (tasks per batch); fixed when the query's checkpoint is made.
    partitions: int = field(default=4, metadata=POSITIVE)


@dataclass(frozen=True)
class AlertsConfig(_Section):
    section = "alerts"
    # A restart storm: a service started at least storm_starts times on one host within storm_window.
    storm_starts: int = field(default=5, metadata=_rule(low=2))
    storm_window: str = field(default="10 minutes", metadata=DURATION)


@dataclass(frozen=True)
class AirflowConfig(_Section):
    section = "airflow"
    home: str = ".kos/airflow"
    pipeline_schedule: str = "*/15 * * * *"
    metrics_schedule: str = "@hourly"
    metrics_bucket: str = field(default="minute", metadata=_rule(choices=BUCKETS))
    metrics_top: int = field(default=10, metadata=POSITIVE)
    reports_dir: str = "out/reports"
    retries: int = field(default=3, metadata=NOT_NEGATIVE)
    retry_delay_seconds: int = field(default=30, metadata=NOT_NEGATIVE)


@dataclass(frozen=True)
class Config:
    kafka: KafkaConfig = KafkaConfig()
    stack: StackConfig = StackConfig()
    mysql: MysqlConfig = MysqlConfig()
    shipper: ShipperConfig = ShipperConfig()
    spark: SparkConfig = SparkConfig()
    run: RunConfig = RunConfig()
    live: LiveConfig = LiveConfig()
    alerts: AlertsConfig = AlertsConfig()
    airflow: AirflowConfig = AirflowConfig()
    project_dir: Path = PROJECT_DIR

    def path(self, value: str) -> Path:
        """An absolute path for a configured one (relative ones hang off the project folder)."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    @property
    def state_dir(self) -> Path:
        return self.path(self.stack.state_dir)

    def spark_job(self, name: str) -> SparkJob:
        """The Spark job ``name`` (transform, load, metrics): ``jobs/<name>.py`` and its packages."""
        return SparkJob(name, self.project_dir / "jobs" / f"{name}.py", self.spark.job_packages(name))

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
    "run": RunConfig,
    "live": LiveConfig,
    "alerts": AlertsConfig,
    "airflow": AirflowConfig,
}


_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def seconds(duration: str) -> float:
    """The seconds of a duration as the config holds one ("10 minutes")."""
    count, unit = duration.split()
    return int(count) * _UNIT_SECONDS[unit.rstrip("s")]


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
    from_env: dict[str, str] = {}
    for key in names:
        env_name = f"KOS_{section}_{key}".upper()
        if env_name in environ:
            values[key] = _from_env(env_name, hints[key], environ[env_name])
            from_env[f"{section}.{key}"] = env_name
    try:
        return cls(**values)
    except InvalidValue as exc:
        raise exc.named(from_env[exc.key]) if exc.key in from_env else exc from None


def override(cfg: Config, section: str, values: Mapping[str, tuple[object, str]]) -> Config:
    """``cfg`` with keys of ``section`` replaced by values given elsewhere (the command line):
    ``{key: (value, name)}``, values None left out. The same rules as for the file apply; a broken
    one is reported under its ``name`` (``--lines-per-record``)."""
    given = {key: value for key, (value, _) in values.items() if value is not None}
    if not given:
        return cfg
    try:
        replaced = dataclasses.replace(getattr(cfg, section), **given)
    except InvalidValue as exc:
        names = {f"{section}.{key}": name for key, (_, name) in values.items()}
        raise exc.named(names[exc.key]) if exc.key in names else exc from None
    return dataclasses.replace(cfg, **{section: replaced})


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


_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _from_env(name: str, hint: object, text: str) -> object:
    if typing.get_origin(hint) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if hint is bool:
        word = text.strip().lower()
        if word in _TRUE + _FALSE:
            return word in _TRUE
        raise ConfigError(f"environment variable {name} must be true or false (also 1/0, yes/no), not {text!r}")
    try:
        return hint(text)  # type: ignore[operator]
    except ValueError:
        raise ConfigError(f"environment variable {name} must be of type {getattr(hint, '__name__', hint)}, "
                          f"not {text!r}") from None
