"""The whole pipeline on the real stack: files shipped into Kafka, transformed, loaded into MariaDB, measured and
reported, by `kos pipeline --once` and by the Airflow DAG; run twice, nothing changes."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from shipper.identity import identify
from tests.support.kafka import read_topic
from tests.support.pipeline import table
from tests.support.submit import BIN, PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA = PROJECT / "tests" / "data"
FILES = [DATA / "spec.syslog", DATA / "loghub" / "Linux_2k.log", DATA / "loghub" / "Mac_2k.log"]


def kos_pipeline(env: dict[str, str], out: Path) -> subprocess.CompletedProcess:
    args = [a for f in FILES for a in ("--path", str(f))]
    return subprocess.run([str(BIN / "kos"), "pipeline", "--once", *args, "--year", "2026", "--out", str(out)],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=900)


def line_offsets(path: Path) -> list[int]:
    data, offsets, at = path.read_bytes(), [], 0
    for line in data.split(b"\n")[:-1]:
        offsets.append(at)
        at += len(line) + 1
    return offsets


def protoc_decode(message: str, data: bytes) -> str:
    return subprocess.run(["protoc", f"--descriptor_set_in={PROJECT / 'descriptors' / 'kos.desc'}",
                           f"--decode={message}"], input=data, capture_output=True, check=True).stdout.decode()


def test_the_whole_pipeline_gives_the_exact_rows_and_answers_and_twice_changes_nothing(cfg, pipeline_env, db,
                                                                                     tmp_path):
    first = kos_pipeline(pipeline_env, tmp_path / "report")
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.splitlines()
    assert lines[1].startswith("   ship      4008 lines, 536625 bytes")
    assert lines[2].startswith("   transform 17 records, 10 candidate lines, 6 events, 1 dead letters")
    assert lines[3].startswith("   load      6 records, 6 rows added, 0 already present, 0 dead letters")
    assert lines[4] == ("   metrics   6 start events stored; top service 'Clean php session files' (1 starts), "
                        "top process 'systemd' (4)")
    assert lines[5] == f"   report    {tmp_path / 'report' / 'report.html'}"

    spec = DATA / "spec.syslog"
    fd = os.open(spec, os.O_RDONLY)
    file_key = identify(fd, cfg.shipper.fingerprint_bytes).key
    os.close(fd)
    at = line_offsets(spec)
    rows_sql = ("SELECT event_time, host, process, pid, service, action, origin_source, origin_file, origin_offset, "
                "kafka_topic FROM process_events ORDER BY origin_offset")
    raw_topic = pipeline_env["KOS_KAFKA_RAW_TOPIC"]
    expected = [
        (datetime(2026, 2, 24, 20, 29, 42), "dell-Inspiron-15-3567", "systemd", 1, "Locale Service", "STARTED", at[0]),
        (datetime(2026, 5, 3, 13, 39, 55), "user", "systemd", 1, "Clean php session files", "STARTED", at[1]),
        (datetime(2026, 9, 28, 12, 27, 14), "vm-alarm", "dbus-daemon", 838, "org.freedesktop.hostname1", "ACTIVATED",
         at[2]),
        (datetime(2026, 9, 28, 12, 28, 5), "vm-alarm", "dbus-daemon", 1526, "org.gtk.vfs.Metadata", "ACTIVATED",
         at[3]),
        (datetime(2020, 5, 30, 22, 0, 46, 599903), "localhost", "systemd", 1,
         "ssh.service - OpenBSD Secure Shell server", "STARTED", at[4]),
        (datetime(2026, 3, 15, 4, 42, 16), "host.lab.example.com", "systemd", None,
         "Hardware RNG Entropy Gatherer Daemon", "STARTED", at[5]),
    ]
    assert table(db, rows_sql) == [(*e[:6], "e2e-host", file_key, e[6], raw_topic) for e in expected]
    services = table(db, "SELECT `rank`, service, starts FROM metrics_top_services ORDER BY `rank`")
    assert services == [(1, "Clean php session files", 1), (2, "Hardware RNG Entropy Gatherer Daemon", 1),
                        (3, "Locale Service", 1), (4, "org.freedesktop.hostname1", 1), (5, "org.gtk.vfs.Metadata", 1),
                        (6, "ssh.service - OpenBSD Secure Shell server", 1)]
    processes = table(db, "SELECT `rank`, process, starts FROM metrics_top_processes ORDER BY `rank`")
    assert processes == [(1, "systemd", 4), (2, "dbus-daemon", 2)]
    assert table(db, "SELECT bucket, events, first_event, last_event FROM metrics_runs") == [
        ("hour", 6, datetime(2020, 5, 30, 22, 0, 46, 599903), datetime(2026, 9, 28, 12, 28, 5))]
    assert (tmp_path / "report" / "report.html").read_text().count("<tr>") > 6

    # One record of the parsed topic, read by protoc against the checked-in descriptor set.
    parsed = read_topic(cfg.kafka.bootstrap_servers, pipeline_env["KOS_KAFKA_PARSED_TOPIC"])
    assert len(parsed) == 6
    record = next(r for r in parsed if r.key == f"e2e-host:{file_key}:{at[3]}".encode())
    assert dict(record.headers) == {"kos.type": b"kos.v1.ProcessEvent"}
    text = protoc_decode("kos.v1.ProcessEvent", record.value)
    for field in ('host: "vm-alarm"', 'process: "dbus-daemon"', "pid: 1526", 'service: "org.gtk.vfs.Metadata"',
                  "action: ACTIVATED", 'source: "e2e-host"', f'file: "{file_key}"', f"offset: {at[3]}",
                  f'topic: "{raw_topic}"'):
        assert field in text, (field, text)
    assert re.search(r"event_time \{\n  seconds: 1790598485\n\}", text), text  # 2026-09-28T12:28:05Z

    # The invalid line, as a dead letter with its bytes, the reason and its origin.
    dead = read_topic(cfg.kafka.bootstrap_servers, pipeline_env["KOS_KAFKA_DEAD_LETTER_TOPIC"])
    assert len(dead) == 1
    letter = protoc_decode("kos.v1.DeadLetter", dead[0].value)
    reason = "reason: \"invalid timestamp \\'Feb 30 25:61:00\\'\""
    for field in ('data: "Feb 30 25:61:00 h systemd[1]: Started X."', reason, 'stage: "transform"', f"offset: {at[9]}",
                  'source: "e2e-host"'):
        assert field in letter, (field, letter)

    before = table(db, "SELECT * FROM process_events ORDER BY id")
    metrics_before = table(db, "SELECT * FROM metrics_top_services ORDER BY `rank`")
    again = kos_pipeline(pipeline_env, tmp_path / "report")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.splitlines()[1].startswith("   ship      0 lines")
    assert again.stdout.splitlines()[3].startswith("   load      0 records, 0 rows added")
    assert table(db, "SELECT * FROM process_events ORDER BY id") == before
    assert table(db, "SELECT * FROM metrics_top_services ORDER BY `rank`") == metrics_before
    assert len(read_topic(cfg.kafka.bootstrap_servers, pipeline_env["KOS_KAFKA_PARSED_TOPIC"])) == 6


def test_the_pipeline_dag_runs_every_stage_for_real(cfg, pipeline_env, airflow_env, db, tmp_path):
    """`airflow dags test kos_pipeline`: ship, transform and load (spark-submit through SparkSubmitOperator), then the
    metrics and the report of the 15 minutes the logical date closes."""
    from tests.unit.kosctl.test_dags import airflow

    log = tmp_path / "syslog"
    log.write_text("2026-05-01T08:44:59Z web systemd[1]: Started Before The Interval.\n"
                   "2026-05-01T08:45:00Z web systemd[1]: Started Locale Service.\n"
                   "2026-05-01T08:50:30.250000Z db dbus-daemon[77]: [system] Successfully activated service "
                   "'org.freedesktop.hostname1'\n"
                   "2026-05-01T08:59:59Z db systemd[1]: Started Locale Service.\n"
                   "2026-05-01T08:59:59Z db kernel: not a candidate\n"
                   "2026-05-01T09:00:00Z web systemd[1]: Started After The Interval.\n")
    env = {**airflow_env, **{k: v for k, v in pipeline_env.items() if k.startswith("KOS_")},
           "KOS_SHIPPER_PATHS": str(log)}
    assert airflow(env, "db", "migrate").returncode == 0
    done = airflow(env, "dags", "test", "kos_pipeline", "2026-05-01T09:00:00+00:00", timeout=1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in output, output[-5000:]
    assert table(db, "SELECT event_time, host, process, pid, service, action FROM process_events ORDER BY event_time") \
        == [(datetime(2026, 5, 1, 8, 44, 59), "web", "systemd", 1, "Before The Interval", "STARTED"),
            (datetime(2026, 5, 1, 8, 45), "web", "systemd", 1, "Locale Service", "STARTED"),
            (datetime(2026, 5, 1, 8, 50, 30, 250000), "db", "dbus-daemon", 77, "org.freedesktop.hostname1",
             "ACTIVATED"),
            (datetime(2026, 5, 1, 8, 59, 59), "db", "systemd", 1, "Locale Service", "STARTED"),
            (datetime(2026, 5, 1, 9), "web", "systemd", 1, "After The Interval", "STARTED")]
    interval = (datetime(2026, 5, 1, 8, 45), datetime(2026, 5, 1, 9))
    assert table(db, "SELECT period_start, period_end, bucket, events FROM metrics_runs") == [(*interval, "minute", 3)]
    assert table(db, "SELECT `rank`, service, starts FROM metrics_top_services ORDER BY `rank`") == [
        (1, "Locale Service", 2), (2, "org.freedesktop.hostname1", 1)]
    report = Path(airflow_env["KOS_AIRFLOW_REPORTS_DIR"]) / "20260501T084500"
    assert (report / "top_processes.csv").read_text().splitlines() == ["rank,process,starts", "1,systemd,2",
                                                                       "2,dbus-daemon,1"]


def test_the_readme_shows_what_make_demo_prints_for_the_sample(pipeline_env, db, tmp_path):
    """The README's `make demo` block is a real run's output over the bundled sample; only the seconds (and the
    absolute paths) may differ."""
    from kosctl.demo import SAMPLE

    done = subprocess.run([str(BIN / "kos"), "pipeline", "--once", "--path", str(SAMPLE), "--bucket", "hour",
                           "--out", str(tmp_path / "demo")], cwd=PROJECT, env=pipeline_env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    def plain(text: str) -> list[str]:
        text = text.replace(str(PROJECT) + "/", "").replace(str(tmp_path / "demo"), "out/demo")
        return [re.sub(r"\d+\.\d\d s\b", "N s", line) for line in text.strip().splitlines()]

    readme = (PROJECT / "README.md").read_text()
    block = re.search(r"<!-- demo -->\n```\n(.*?)```\n<!-- /demo -->", readme, re.S).group(1)
    assert plain(done.stdout) == plain(block)
