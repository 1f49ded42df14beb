"""The config loader: file values, environment overrides, errors that name the key."""

import re

import pytest

from kos import config as kos_config


def write(tmp_path, text):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "kos.toml"
    path.write_text(text)
    return path


def test_file_values_and_environment_overrides(tmp_path):
    path = write(tmp_path, '[kafka]\npartitions = 5\n[shipper]\npaths = ["/a", "/b/*.log"]\n')
    cfg = kos_config.load(path, environ={"KOS_KAFKA_BOOTSTRAP_SERVERS": "h1:9092, h2:9092",
                                         "KOS_SHIPPER_LINES_PER_RECORD": "8", "KOS_MYSQL_OWNER_PASSWORD": "s3cret",
                                         "KOS_MYSQL_LOAD_USER": "loader"})
    assert cfg.kafka.partitions == 5
    assert cfg.kafka.bootstrap_servers == ("h1:9092", "h2:9092")
    assert cfg.shipper.paths == ("/a", "/b/*.log")
    assert cfg.shipper.lines_per_record == 8
    assert cfg.mysql_account("owner") == ("kos", "s3cret")
    assert cfg.mysql.load.user == "loader"
    assert cfg.mysql.load.password_file == ".kos/secrets/mysql-kos_load-password"  # the account's other keys stay
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg.model_dump(mode="json"))
    assert cfg.path(".kos") == tmp_path / ".kos"


def test_the_committed_config_loads():
    cfg = kos_config.load(kos_config.DEFAULT_CONFIG, environ={})
    assert cfg.kafka.raw_topic == "kos-raw-os-log"
    assert cfg.shipper.paths == ("/var/log/syslog",)


def test_the_committed_file_says_every_default_the_code_has():
    """conf/kos.toml documents each key with the value the code uses when the key is left out: the two agree, key
    for key, nested tables too (secrets, which have no file value, aside)."""
    import tomllib

    from pydantic import BaseModel, SecretStr

    def check(written: dict, model: BaseModel, where: str) -> None:
        for name, field in type(model).model_fields.items():
            if name == "project_dir" or field.annotation is SecretStr:
                continue
            assert name in written, f"[{where}] does not show {name}"
            default = getattr(model, name)
            if isinstance(default, BaseModel):
                check(written[name], default, f"{where}.{name}".strip("."))
            else:
                assert (list(default) if isinstance(default, tuple) else default) == written[name], f"{where}.{name}"
        assert not set(written) - set(type(model).model_fields), f"[{where}] shows keys the code lacks"

    check(tomllib.loads(kos_config.DEFAULT_CONFIG.read_text()), kos_config.Config(), "")


@pytest.mark.parametrize(("text", "env", "message"), [
    ("[kafka]\npartitons = 3\n", {}, "unknown config key kafka.partitons"),
    ("[kafka]\npartitions = \"three\"\n", {}, "kafka.partitions must be of type int"),
    ("[kafak]\n", {}, "unknown section [kafak]"),
    ("[shipper]\npaths = \"/var/log/syslog\"\n", {}, "shipper.paths must be a list of strings"),
    ("", {"KOS_SHIPPER_ROUND_BYTES": "lots"}, "KOS_SHIPPER_ROUND_BYTES must be of type int"),
    ("[shipper]\nstart_from = \"middle\"\n", {}, "shipper.start_from must be 'beginning' or 'end'"),
    ("", {"KOS_SHIPPER_LINES_PER_RECORD": "0"},
     "KOS_SHIPPER_LINES_PER_RECORD (shipper.lines_per_record) must be at least 1, not 0"),
    ("[shipper]\nmetrics_port = 99999\n", {}, "config key shipper.metrics_port must be from 0 to 65535, not 99999"),
    ("[stack]\nkafka_port = 0\n", {}, "config key stack.kafka_port must be from 1 to 65535, not 0"),
    ("[shipper]\npoll_seconds = nan\n", {}, "config key shipper.poll_seconds must be a finite number, not nan"),
    ("[kafka]\nraw_topic = \"a/b\"\n", {}, "config key kafka.raw_topic must be a Kafka topic name"),
    ("", {"KOS_KAFKA_BOOTSTRAP_SERVERS": " , "}, "KOS_KAFKA_BOOTSTRAP_SERVERS (kafka.bootstrap_servers) must not "
                                                 "be empty"),
    ("", {"KOS_MYSQL_TLS": "maybe"}, "environment variable KOS_MYSQL_TLS must be true or false (also 1/0, yes/no), "
                                     "not 'maybe'"),
    ("[mysql.load]\nuser = 5\n", {}, "config key mysql.load.user must be of type str"),
    ("[mysql.load]\nname = \"x\"\n", {}, "unknown config key mysql.load.name"),
    ("[shipper]\ndelivery_timeout_ms = 30000\n", {}, "config key shipper.delivery_timeout_ms must be more than "
                                                      "linger_ms + request_timeout_ms (30005), not 30000"),
    ("", {"KOS_RUN_TRIGGER": "soon"}, "KOS_RUN_TRIGGER (run.trigger) must be a duration such as '30 seconds'"),
    ("[kafka]\nbootstrap_servers = [\"nope\"]\n", {}, "config key kafka.bootstrap_servers must be HOST:PORT, not "
                                                       "'nope'"),
])
def test_bad_config_is_rejected_with_the_key_name(tmp_path, text, env, message):
    with pytest.raises(kos_config.ConfigError, match=re.escape(message)):
        kos_config.load(write(tmp_path, text), environ=env)


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False),
])
def test_booleans_from_the_environment_mean_what_they_say(text, value):
    assert kos_config.load(environ={"KOS_MYSQL_TLS": text}).mysql.tls is value


def test_command_line_values_pass_the_same_rules():
    cfg = kos_config.load(environ={})
    assert kos_config.override(cfg, "shipper", {"lines_per_record": (8, "--lines-per-record"),
                                                "metrics_port": (None, "--metrics-port")}).shipper.lines_per_record == 8
    with pytest.raises(kos_config.ConfigError, match=r"^--lines-per-record \(shipper.lines_per_record\) must be at "
                                                     r"least 1, not 0$"):
        kos_config.override(cfg, "shipper", {"lines_per_record": (0, "--lines-per-record")})
