"""KOS configuration: one immutable value built once, at the entry point, from a declarative schema.

Values come from ``conf/kos.toml`` (or the file named by ``KOS_CONFIG``), each overridable by an environment
variable ``KOS_<SECTION>_<KEY>`` (``KOS_MYSQL_LOAD_PASSWORD`` for ``[mysql.load] password``) and, for some, a
command-line option (``override``): all three pass the same rules, and a broken value is named as it was given.
Unknown keys are errors; secrets are masked when printed. Relative paths hang off the project folder (the
parent of the config file's folder). conf/kos.toml says what each key means.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from kos.errors import KosError

__all__ = ["DEFAULT_CONFIG", "PROJECT_DIR", "Bucket", "Config", "ConfigError", "load", "override", "seconds"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "conf" / "kos.toml"


class ConfigError(KosError, ValueError):
    """A configuration value is missing, unknown or not what its key allows; the message names the key."""


def _rule(pattern: str, what: str) -> Any:
    return Field(pattern=f"^(?:{pattern})$", json_schema_extra={"what": what})


Port = Annotated[int, Field(ge=1, le=65535)]
Positive = Annotated[int, Field(ge=1)]
NotNegative = Annotated[int, Field(ge=0)]
Duration = Annotated[str, _rule(r"[1-9][0-9]* (millisecond|second|minute|hour|day)s?",
                                "a duration such as '30 seconds' or '10 minutes'")]
Topic = Annotated[str, _rule(r"[A-Za-z0-9._-]{1,249}", "a Kafka topic name (letters, digits, '.', '_', '-')")]
Bucket = Literal["minute", "hour", "day"]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Account(Section):
    """A MySQL account: its password from the environment (``KOS_MYSQL_<ROLE>_PASSWORD``), else from its file."""

    user: str
    password_file: str
    password: SecretStr = SecretStr("")


class Kafka(Section):
    bootstrap_servers: Annotated[tuple[Annotated[str, _rule(r"[^\s,]+:\d{1,5}", "HOST:PORT")], ...],
                                 Field(min_length=1)] = ("127.0.0.1:9092",)
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
    poll_seconds: Annotated[float, Field(gt=0)] = 0.2
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    linger_ms: NotNegative = 5
    batch_size: Positive = 1024 * 1024
    delivery_timeout_ms: Positive = 120_000
    request_timeout_ms: Positive = 30_000
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _delivery_outlasts_a_request(self) -> Shipper:
        floor = self.linger_ms + self.request_timeout_ms  # the producer's own rule
        if self.delivery_timeout_ms <= floor:
            raise PydanticCustomError("together", "must be more than linger_ms + request_timeout_ms ({floor}), not "
                                                  "{value}", {"key": "delivery_timeout_ms", "floor": floor,
                                                              "value": self.delivery_timeout_ms})
        return self


class Spark(Section):
    master: str = "local[2]"
    protobuf_package: str = ""
    protobuf: Literal["auto", "spark", "kos"] = "auto"
    event_log_dir: str = ".kos/spark-events"
    checkpoint_dir: str = ".kos/checkpoints"
    max_offsets_per_trigger: NotNegative = 250_000


class Run(Section):
    real_time: Annotated[str, _rule(r"|[1-9][0-9]* (second|minute|hour)s?", "'' or a duration such as '1 minute'")] \
        = "1 minute"
    trigger: Duration = "250 milliseconds"
    max_restarts: NotNegative = 5
    restart_window: Duration = "10 minutes"


class Live(Section):
    trigger: Duration = "1 second"
    watermark: Duration = "2 minutes"
    partitions: Positive = 2


class Alerts(Section):
    storm_starts: Annotated[int, Field(ge=2)] = 5
    storm_window: Duration = "10 minutes"


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

    def mysql_account(self, role: str = "owner") -> tuple[str, str]:
        """User and password of a MySQL account (``owner``, ``load``, ``metrics``, ``live``)."""
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
    unknown = sorted(set(raw) - set(Config.model_fields) - {"project_dir"})
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]")
    raw = _merged(Config().model_dump(), _tuples(raw))
    names: dict[tuple[str, ...], str] = {}
    for keys, hint in _keys(Config):
        variable = "KOS_" + "_".join(keys).upper()
        if variable in environ:
            _set(raw, keys, _from_text(variable, hint, environ[variable]))
            names[keys] = variable
    return _built({**raw, "project_dir": path.resolve().parent.parent}, names, path)


def override(cfg: Config, section: str, values: Mapping[str, tuple[object, str]]) -> Config:
    """``cfg`` with keys of ``section`` replaced by values given elsewhere (the command line): ``{key: (value,
    name)}``, values None left out. The same rules as for the file apply; a broken one is reported under its
    ``name`` (``--lines-per-record``)."""
    given = {key: value for key, (value, _) in values.items() if value is not None}
    if not given:
        return cfg
    data = cfg.model_dump()
    data[section].update(given)
    names = {(section, key): name for key, (_, name) in values.items()}
    return _built({**data, "project_dir": cfg.project_dir}, names, None)


def _built(data: dict[str, Any], names: Mapping[tuple[str, ...], str], path: Path | None) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_said(exc.errors()[0], names, path)) from None


def _said(error: Any, names: Mapping[tuple[str, ...], str], path: Path | None) -> str:
    """One ValidationError entry as a sentence naming the key (under the name it was given by)."""
    loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
    ctx = error.get("ctx") or {}
    if error["type"] == "together":
        loc = (*loc, ctx["key"])
    key = ".".join(loc)
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown config key {key}"
    if kind in ("model_type", "dict_type") and len(loc) == 1:
        return f"{path}: [{key}] must be a table"
    problem = {
        "greater_than_equal": f"must be at least {ctx.get('ge')}, not {value!r}",
        "greater_than": f"must be more than {ctx.get('gt')}, not {value!r}",
        "less_than_equal": f"must be at most {ctx.get('le')}, not {value!r}",
        "literal_error": f"must be {ctx.get('expected')}, not {value!r}",
        "finite_number": f"must be a finite number, not {value!r}",
        "too_short": "must not be empty",
        "together": error["msg"],
    }.get(kind)
    if kind == "string_pattern_mismatch":
        problem = f"must be {_what(loc)}, not {value!r}"
    field = _field(loc)
    if kind in ("greater_than_equal", "less_than_equal") and field is not None:
        low, high = _bound(field, "ge"), _bound(field, "le")
        if low is not None and high is not None:
            problem = f"must be from {low} to {high}, not {value!r}"
    if problem is None:
        hint = field.annotation if field is not None else None
        shown = "a list of strings" if get_origin(hint) is tuple else f"of type {getattr(hint, '__name__', hint)}"
        problem = f"must be {shown}" if loc not in names else f"must be {shown}, not {value!r}"
    name = names.get(loc)
    return f"{name} ({key}) {problem}" if name else f"config key {key} {problem}"


def _field(loc: tuple[str, ...]) -> Any:
    model: Any = Config
    found = None
    for part in loc:
        found = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if found is None:
            return None
        model = found.annotation
    return found


def _bound(field: Any, name: str) -> Any:
    return next((getattr(m, name) for m in field.metadata if getattr(m, name, None) is not None), None)


def _what(loc: tuple[str, ...]) -> str:
    """What a key's pattern stands for (its ``what``; a list's, its items')."""
    field = _field(loc)
    items = get_args(field.annotation) if field is not None else ()
    found = [field, *getattr(items[0] if items else None, "__metadata__", ())]
    return next((f.json_schema_extra["what"] for f in found if getattr(f, "json_schema_extra", None)), "valid")


def _keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every key of the schema (nested accounts too) and its type: what the environment may override."""
    found = []
    for name, field in model.model_fields.items():
        if name == "project_dir":
            continue
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += _keys(field.annotation, (*prefix, name))
        else:
            found.append(((*prefix, name), field.annotation))
    return found


def _merged(defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` over ``defaults``, table by table: a table that gives some keys keeps the others' defaults."""
    merged = dict(defaults)
    for key, value in given.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both else value
    return merged


def _tuples(value: Any) -> Any:
    """TOML's lists as the schema's tuples."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return tuple(value) if isinstance(value, list) else value


def _set(raw: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        raw = raw.setdefault(key, {})
    raw[keys[-1]] = value


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _from_text(name: str, hint: Any, text: str) -> Any:
    """An environment variable's text as the key's type (lists comma-separated)."""
    if get_origin(hint) is tuple:
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if hint is bool:
        word = text.strip().lower()
        if word in _TRUE + _FALSE:
            return word in _TRUE
        raise ConfigError(f"environment variable {name} must be true or false (also 1/0, yes/no), not {text!r}")
    base = get_args(hint)[0] if get_origin(hint) is Annotated else hint
    if base in (int, float):
        try:
            return base(text)
        except ValueError:
            raise ConfigError(f"environment variable {name} must be of type {base.__name__}, not {text!r}") from None
    return SecretStr(text) if base is SecretStr else text
