"""Kafka over SASL_SSL (SCRAM-SHA-512) and over TLS with client certificates, on the real local broker:
the shipper and Spark's Kafka source with the same settings, and clear refusals for wrong credentials."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobs.recipes import KAFKA
from kos import config as kos_config
from kos.kafka_client import python_settings
from kosctl.stack.tls import LocalCA
from tests.support.kafka import over, read_topic
from tests.support.submit import BIN, PROJECT

pytestmark = pytest.mark.integration

LINES = [f"Nov 28 08:00:{i:02d} host systemd[1]: Started Unit {i}." for i in range(40)]


def ship(tmp_path, topic: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    log = tmp_path / "syslog"
    log.write_text("".join(line + "\n" for line in LINES))
    return subprocess.run([str(BIN / "kos-shipper"), "--once", "--no-progress", "--path", str(log), "--topic", topic,
                           "--checkpoint-dir", str(tmp_path / "checkpoints")],
                          env={**os.environ, **env}, cwd=PROJECT, capture_output=True, text=True, timeout=120)


def lines_of(records) -> list[str]:
    return [line for r in records for line in r.value.decode().split("\n")]


def test_shipper_over_sasl_ssl_read_back_over_mutual_tls(cfg, kafka, topic, tmp_path):
    done = ship(tmp_path, topic, over(cfg, "SASL_SSL"))
    assert done.returncode == 0, done.stderr
    tls = kos_config.load(environ=over(cfg, "SSL"))
    security = python_settings(tls)
    assert sorted(lines_of(read_topic(tuple(security.pop("bootstrap_servers")), topic, security))) == sorted(LINES)


def test_spark_reads_over_sasl_ssl_with_the_jobs_options_and_logs_no_password(cfg, kafka, topic, tmp_path):
    assert ship(tmp_path, topic, over(cfg, "SASL_SSL")).returncode == 0
    env = {**os.environ, **over(cfg, "SASL_SSL"), "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([str(BIN / "spark-submit"), "--master", "local[2]", "--packages", KAFKA,
                           "tests/support/scripts/count_kafka.py", topic],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "records=1 lines=40"
    secret = cfg.secret(cfg.kafka.sasl_password, cfg.kafka.sasl_password_file, "").encode()
    events = cfg.path(cfg.spark.event_log_dir)
    assert [f.name for f in events.rglob("*") if f.is_file() and secret in f.read_bytes()] == []
    assert secret.decode() not in done.stdout + done.stderr


def test_a_wrong_password_is_refused_in_one_line(cfg, kafka, topic, tmp_path):
    done = ship(tmp_path, topic, over(cfg, "SASL_SSL", KOS_KAFKA_SASL_PASSWORD="not-the-password"))
    assert (done.returncode, done.stderr) == (1, (
        f"kos-shipper: Kafka at {cfg.stack.host}:{cfg.stack.kafka_sasl_ssl_port} did not accept the SASL login: "
        "check kafka.sasl_username and the password (KOS_KAFKA_SASL_PASSWORD or kafka.sasl_password_file)\n"))
    assert "not-the-password" not in done.stdout + done.stderr


def test_a_client_certificate_from_another_ca_is_refused(cfg, kafka, topic, tmp_path):
    rogue = LocalCA(tmp_path / "rogue", "Rogue CA").issue("client", cfg.kafka.sasl_username)
    done = ship(tmp_path, topic, over(cfg, "SSL", KOS_KAFKA_SSL_KEYSTORE=str(rogue.pem),
                                      KOS_KAFKA_SSL_KEY_PASSWORD_FILE=str(rogue.password)))
    assert (done.returncode, done.stderr) == (1, (
        f"kos-shipper: Kafka at {cfg.stack.host}:{cfg.stack.kafka_ssl_port} refused this client's TLS certificate: "
        "kafka.ssl_keystore must hold a key and certificate signed by a CA the broker trusts\n"))


def test_a_broker_certificate_from_an_unknown_ca_is_not_trusted(cfg, kafka, topic, tmp_path):
    other = LocalCA(tmp_path / "other", "Other CA").ensure()
    done = ship(tmp_path, topic, over(cfg, "SASL_SSL", KOS_KAFKA_SSL_CAFILE=str(other.cert)))
    assert (done.returncode, done.stderr) == (1, (
        f"kos-shipper: the certificate of Kafka at {cfg.stack.host}:{cfg.stack.kafka_sasl_ssl_port} is not trusted: "
        "kafka.ssl_cafile must hold the CA that signed it (and the broker's name must match it)\n"))
