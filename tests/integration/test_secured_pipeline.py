"""The pipeline over secured connections: Kafka over SASL_SSL and over TLS with client certificates, MySQL over TLS
with verification, the load job as kos_load and the metrics job as kos_metrics. The same rows as in the clear, and
no secret in the jobs' output, the Spark UI's environment page (read while the load runs), the event logs or the
checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from kos import config as kos_config
from kos.kafka_client import spark_options
from kosctl.commands import spark_submit as spark_submit_command
from tests.support.kafka import over
from tests.support.pipeline import rows, table
from tests.support.ports import free_port
from tests.support.submit import BIN, PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEC = PROJECT / "tests" / "data" / "spec.syslog"


def secrets(cfg: kos_config.Config) -> dict[str, str]:
    """Every secret of the config: the Kafka SCRAM password, the client key's password, the three MySQL passwords
    and the MySQL trust store's."""
    k, m = cfg.kafka, cfg.mysql
    found = {role: cfg.mysql_account(role)[1] for role in ("owner", "load", "metrics", "live")}
    found["kafka sasl"] = cfg.secret(k.sasl_password, k.sasl_password_file, "KOS_KAFKA_SASL_PASSWORD")
    found["kafka key"] = cfg.secret(SecretStr(""), ".kos/tls/client.password", "KOS_KAFKA_SSL_KEY_PASSWORD")
    found["truststore"] = cfg.secret(m.ssl_truststore_password, m.ssl_truststore_password_file,
                                     "KOS_MYSQL_SSL_TRUSTSTORE_PASSWORD")
    return found


def leaks(found: dict[str, str], paths: list[Path], texts: dict[str, str]) -> list[str]:
    files = [f for root in paths for f in ([root] if root.is_file() else root.rglob("*")) if f.is_file()]
    out = [f"{name} in {f}" for f in files for name, secret in found.items() if secret.encode() in f.read_bytes()]
    return out + [f"{name} in {where}" for where, text in texts.items() for name, secret in found.items()
                  if secret in text]


def environment_page(port: int) -> str:
    """The Spark UI's environment page of the application on ``port`` (its JSON, what the tab shows); "" until it
    answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/applications", timeout=2) as response:
            app = json.load(response)[0]["id"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/applications/{app}/environment",
                                    timeout=5) as response:
            return response.read().decode()
    except (OSError, IndexError, ValueError):
        return ""


EXPECTED_ROWS = [
    ("dell-Inspiron-15-3567", "systemd", 1, "Locale Service", "STARTED"),
    ("user", "systemd", 1, "Clean php session files", "STARTED"),
    ("vm-alarm", "dbus-daemon", 838, "org.freedesktop.hostname1", "ACTIVATED"),
    ("vm-alarm", "dbus-daemon", 1526, "org.gtk.vfs.Metadata", "ACTIVATED"),
    ("localhost", "systemd", 1, "ssh.service - OpenBSD Secure Shell server", "STARTED"),
    ("host.lab.example.com", "systemd", None, "Hardware RNG Entropy Gatherer Daemon", "STARTED")]


@pytest.fixture
def secured_env(cfg, kafka, db, tmp_path, request) -> dict[str, str]:
    """KOS_* settings for fresh topics and state over one secured Kafka listener, MySQL over verified TLS."""
    from kosctl.stack.topics import ensure_topics

    run = uuid.uuid4().hex[:10]
    topics = {k: f"kos-test-{k.lower()}-{run}" for k in ("RAW", "PARSED", "DEAD_LETTER")}
    ensure_topics(cfg, list(topics.values()))
    env = {**os.environ, **over(cfg, request.param), "KOS_MYSQL_TLS": "true", "PYSPARK_PYTHON": sys.executable,
           "KOS_SHIPPER_SOURCE_ID": "tls", "KOS_SHIPPER_CHECKPOINT_DIR": str(tmp_path / "shipper"),
           "KOS_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
           "KOS_SPARK_EVENT_LOG_DIR": str(tmp_path / "events"),
           **{f"KOS_KAFKA_{k}_TOPIC": v for k, v in topics.items()}}
    assert spark_options(kos_config.load(environ=env))["kafka.security.protocol"] == request.param
    return env


def planted_secret_is_found(found: dict[str, str], tmp_path: Path) -> None:
    """The check finds a secret where there is one, in a file and in an output."""
    planted = tmp_path / "planted"
    planted.write_text(f"x{found['kafka sasl']}y")
    assert leaks(found, [planted], {"load": "...password=" + found["load"]}) == [
        f"kafka sasl in {planted}", "load in load"]


@pytest.mark.parametrize("secured_env", ["SSL"], indirect=True)
def test_the_jobs_over_mutual_tls_give_the_same_rows_and_show_no_secret_even_in_the_spark_ui(
        cfg, secured_env, db, tmp_path):
    """Each stage by hand, the load kept running (processing-time) while the test reads its Spark UI's environment
    page."""
    env, outputs = secured_env, {}

    def step(name: str, argv: list[str]) -> str:
        done = subprocess.run(argv, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=600)
        outputs[name] = done.stdout + done.stderr
        assert done.returncode == 0, outputs[name][-3000:]
        return done.stdout

    def submit(job: str, *args: str) -> list[str]:
        return spark_submit_command(cfg, job, *args)

    step("ship", [sys.executable, "-m", "shipper", "--once", "--no-progress", "--path", str(SPEC)])
    assert "6 events, 1 dead letters" in step("transform", submit("transform", "--year", "2026"))
    ui = free_port()  # the load's own UI, not another test's job on 4040
    argv = submit("load", "--processing-time", "2 seconds")
    argv[1:1] = ["--conf", f"spark.ui.port={ui}"]
    load = subprocess.Popen(argv, env=env, cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        page = ""
        while not page or rows(db)[0] < 6:
            assert time.monotonic() < deadline and load.poll() is None, "the load did not get going"
            page = page or environment_page(ui)
            time.sleep(1)
        outputs["spark ui environment"] = page
        assert "spark.kos.protobuf.implementation" in page  # it is the job's page
    finally:
        os.killpg(load.pid, signal.SIGTERM)
        outputs["load"] = load.communicate(timeout=120)[0]
    step("metrics", submit("metrics", "--tables-only"))

    assert table(db, "SELECT host, process, pid, service, action FROM process_events ORDER BY origin_offset") \
        == EXPECTED_ROWS
    assert table(db, "SELECT `rank`, process, starts FROM metrics_top_processes ORDER BY `rank`") == [
        (1, "systemd", 4), (2, "dbus-daemon", 2)]
    found = secrets(kos_config.load(environ=env))
    assert leaks(found, [tmp_path / "events", tmp_path / "checkpoints"], outputs) == []
    planted_secret_is_found(found, tmp_path)


@pytest.mark.parametrize("secured_env", ["SASL_SSL"], indirect=True)
def test_kos_pipeline_and_the_dag_over_sasl_ssl_give_the_same_rows_and_log_no_secret(
        cfg, secured_env, airflow_env, db, tmp_path):
    """`kos pipeline --once`, then the pipeline DAG on a second file (its task logs read for secrets)."""
    from tests.unit.kosctl.test_dags import airflow

    done = subprocess.run([str(BIN / "kos"), "pipeline", "--once", "--path", str(SPEC), "--year", "2026",
                           "--out", str(tmp_path / "report")], cwd=PROJECT, env=secured_env, capture_output=True,
                          text=True, timeout=900)
    outputs = {"kos pipeline": done.stdout + done.stderr}
    assert done.returncode == 0, outputs["kos pipeline"][-3000:]
    assert table(db, "SELECT host, process, pid, service, action FROM process_events ORDER BY origin_offset") \
        == EXPECTED_ROWS

    log = tmp_path / "syslog"
    log.write_text("2026-05-01T08:45:00Z web systemd[1]: Started Locale Service.\n")
    env = {**airflow_env, **{k: v for k, v in secured_env.items() if k.startswith("KOS_")},
           "KOS_SHIPPER_PATHS": str(log)}
    assert airflow(env, "db", "migrate").returncode == 0
    done = airflow(env, "dags", "test", "kos_pipeline", "2026-05-01T09:00:00+00:00", timeout=1200)
    outputs["airflow"] = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in outputs["airflow"], outputs["airflow"][-5000:]
    assert table(db, "SELECT host, service FROM process_events WHERE event_time = '2026-05-01 08:45:00'") == [
        ("web", "Locale Service")]
    assert table(db, "SELECT `rank`, service, starts FROM metrics_top_services "
                     "WHERE period_start = '2026-05-01 08:45:00' ORDER BY `rank`") == [(1, "Locale Service", 1)]

    found = secrets(kos_config.load(environ=secured_env))
    state = [tmp_path / "events", tmp_path / "checkpoints", Path(airflow_env["AIRFLOW_HOME"])]
    assert leaks(found, [p for p in state if p.exists()], outputs) == []
    planted_secret_is_found(found, tmp_path)
