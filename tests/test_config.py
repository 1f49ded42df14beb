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
                                         "KOS_SHIPPER_LINES_PER_RECORD": "8", "KOS_MYSQL_PASSWORD": "s3cret"})
    assert cfg.kafka.partitions == 5
    assert cfg.kafka.bootstrap_servers == ("h1:9092", "h2:9092")
    assert cfg.shipper.paths == ("/a", "/b/*.log")
    assert cfg.shipper.lines_per_record == 8
    assert cfg.mysql_password() == "s3cret"
    assert "s3cret" not in repr(cfg)
    assert cfg.path(".kos") == tmp_path / ".kos"


def test_the_committed_config_loads():
    cfg = kos_config.load(kos_config.DEFAULT_CONFIG, environ={})
    assert cfg.kafka.raw_topic == "kos-raw-os-log"
    assert cfg.shipper.paths == ("/var/log/syslog",)


def test_the_committed_file_says_every_default_the_code_has():
    """conf/kos.toml documents each key with the value the code uses when the key is left out: the two agree, key
    for key (secrets, which have no file value, aside)."""
    import dataclasses
    import tomllib

    written = tomllib.loads(kos_config.DEFAULT_CONFIG.read_text())
    defaults = kos_config.Config()
    for section, keys in written.items():
        fields = {f.name: f for f in dataclasses.fields(getattr(defaults, section))}
        for key, value in keys.items():
            default = getattr(getattr(defaults, section), key)
            assert (list(default) if isinstance(default, tuple) else default) == value, f"{section}.{key}"
        unwritten = {name for name, f in fields.items() if f.repr} - set(keys)
        assert not unwritten, f"[{section}] keys the file does not show: {sorted(unwritten)}"
    assert set(written) == {f.name for f in dataclasses.fields(defaults) if f.name != "project_dir"}


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
