"""The live query on the real broker and MariaDB: its tables hold what jobs/metrics.py computes over the same
events (late ones inside the watermark counted, later ones counted apart, a restart mid-stream), and a crash loop
is one alert, raised before a restart and grown after it. The query runs in this test session's Spark, through its
own entry point."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from jobs import live
from kos import config as kos_config
from kosctl.stack.topics import delete_topics, ensure_topics
from kosproto.descriptors import message_class
from tests.support.events import event_records, store_events
from tests.support.kafka import read_topic
from tests.support.submit import CHECKED_IN, kos

SERVERS = kos_config.load().kafka.bootstrap_servers  # this worker's broker (tests/support/workers.py)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = datetime(2026, 6, 1, 10, 0, 0)


@pytest.fixture
def live_env(cfg, kafka, db, tmp_path, monkeypatch):
    """Fresh parsed and alerts topics and a fresh checkpoint; a watermark of 2 minutes, storms of 5 in 10 minutes."""
    run = uuid.uuid4().hex[:10]
    topics = {"PARSED": f"kos-test-parsed-{run}", "ALERTS": f"kos-test-alerts-{run}"}
    ensure_topics(cfg, list(topics.values()))
    for kind, name in topics.items():
        monkeypatch.setenv(f"KOS_KAFKA_{kind}_TOPIC", name)
    monkeypatch.setenv("KOS_SPARK_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("KOS_LIVE_WATERMARK", "2 minutes")
    monkeypatch.setenv("KOS_ALERTS_STORM_STARTS", "5")
    monkeypatch.setenv("KOS_ALERTS_STORM_WINDOW", "10 minutes")
    yield topics
    delete_topics(cfg, list(topics.values()))


def start(t: datetime, host: str, service: str, n: int, process: str = "systemd") -> tuple:
    """An event row (tests/events.py) whose origin is its number ``n``."""
    return (t, host, process, 1, service, "STARTED", "live-test", "file-1", n, "kos-raw-os-log", 0, n)


def produce(spark, topic: str, rows: list[tuple]) -> None:
    """The rows as parsed records, in order, on partition 0 (so that batches cut by record count are exact)."""
    (event_records(spark, rows, topic).coalesce(1).select("value", "headers", "partition")
     .write.format("kafka").option("kafka.bootstrap.servers", ",".join(SERVERS)).option("topic", topic).save())


def run_live(capsys) -> str:
    assert live.main(["--available-now"]) == 0, capsys.readouterr().err[-3000:]
    return capsys.readouterr().out


def table(db, sql: str) -> list[tuple]:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def test_the_live_tables_hold_what_the_metrics_job_computes(spark, db, live_env, capsys, tmp_path):
    from jobs.metrics import compute, read_events
    from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period

    hosts, services = ["web", "db", "cache"], ["Locale Service", "Hostname Service", "Clean php session files"]
    first = [start(T0 + timedelta(seconds=17 * i), hosts[i % 3], services[i % 3 if i % 7 else 0], i)
             for i in range(40)]  # 10:00:00 to 10:11:03
    produce(spark, live_env["PARSED"], first)
    run_live(capsys)
    # After the restart, a batch of newer starts moves the watermark to two minutes before the newest; the next
    # batch brings starts out of order inside it, starts behind it, and three lines sent again.
    second = [start(T0 + timedelta(minutes=12, seconds=10 * i), hosts[i % 3], services[i % 2], 200 + i)
              for i in range(15)]
    newest = max(r[0] for r in second)
    inside = [start(newest - timedelta(seconds=90), "web", "Locale Service", 100),
              start(newest - timedelta(seconds=30), "db", "Journal Service", 101)]
    late = [start(newest - timedelta(minutes=5), "web", "Locale Service", 102),
            start(T0 - timedelta(hours=1), "cache", "Hostname Service", 103)]
    produce(spark, live_env["PARSED"], [*second, *inside, *late, *first[:3]])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KOS_SPARK_MAX_OFFSETS_PER_TRIGGER", str(len(second)))
        summary = run_live(capsys)
    assert "2 late starts" in summary and " in 2 batches" in summary

    counted = first + inside + second
    store_events(db, counted)
    metrics = compute(read_events(spark, db, Period(UNBOUNDED_FROM, UNBOUNDED_TO)),
                      Period(UNBOUNDED_FROM, UNBOUNDED_TO), "minute", 10, datetime.now(UTC))
    live_minutes = table(db, "SELECT minute, host, SUM(starts) FROM live_starts GROUP BY minute, host "
                             "ORDER BY minute, host")
    assert live_minutes == [(t, h, n) for t, h, n in metrics.buckets if h != ""]
    # The model: every event that was not late, counted once by minute, host, service and process.
    expected = Counter((r[0].replace(second=0, microsecond=0), r[1], r[4], r[2]) for r in counted)
    assert sorted(table(db, "SELECT minute, host, service, process, starts FROM live_starts")) == sorted(
        (*k, n) for k, n in expected.items())
    assert sorted(table(db, "SELECT origin, event_time FROM live_late")) == sorted(
        (f"live-test:file-1:{r[8]}", r[0]) for r in late)

    report = kos("report", "--live", "--bucket", "minute", "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    services = lines[lines.index("Most frequent services:") + 1:][:len(metrics.services)]
    assert services == [f"  {rank:3d}. {starts:8d}  {service}" for rank, service, starts in metrics.services]
    assert lines[0].endswith("; 2 more arrived after the watermark and are not counted (live_late)")
    assert (tmp_path / "report" / "report.html").exists()


def test_a_crash_loop_is_one_alert_that_grows_across_a_restart(spark, db, live_env, capsys):
    """The first run raises the alert (five starts), the run after a restart grows it (seven): one alert, in
    process_alerts and on kos-alerts (one key, its records the alert as it opened and as it grew)."""
    loop = [start(T0 + timedelta(seconds=15 * i), "web", "Flaky Service", i) for i in range(7)]  # 7 in 90 s
    noise = ([start(T0 + timedelta(seconds=25 * i), "db", "Flaky Service", 50 + i) for i in range(4)]  # 4: below
             + [start(T0 + timedelta(seconds=30 * i), "web", "Other Service", 60 + i) for i in range(3)]
             + [start(T0 + timedelta(minutes=11 * i), "web", "Flaky Service", 70 + i) for i in range(1, 3)])
    produce(spark, live_env["PARSED"], loop[:5] + noise[:5])
    run_live(capsys)
    query = "SELECT host, service, process, first_start, last_start, starts FROM process_alerts"
    assert table(db, query) == [("web", "Flaky Service", "systemd", loop[0][0], loop[4][0], 5)]
    produce(spark, live_env["PARSED"], loop[5:] + noise[5:])
    run_live(capsys)  # the live query started again from its checkpoint: the same storm grows

    assert table(db, query) == [("web", "Flaky Service", "systemd", loop[0][0], loop[-1][0], 7)]
    records = read_topic(SERVERS, live_env["ALERTS"])
    storm = message_class(CHECKED_IN.read_bytes(), "kos.v1.RestartStorm")
    sent = [storm.FromString(r.value) for r in records]
    assert {r.key for r in records} == {f"web:Flaky Service:{loop[0][0].isoformat()}".encode()}
    assert [(m.host, m.service, m.starts, m.first_start.ToDatetime(), m.last_start.ToDatetime()) for m in sent] == [
        ("web", "Flaky Service", 5, loop[0][0], loop[4][0]), ("web", "Flaky Service", 7, loop[0][0], loop[-1][0])]

    listed = kos("alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [{k: v for k, v in a.items() if k != "updated_at"} for a in json.loads(listed.stdout)] == [
        {"host": "web", "service": "Flaky Service", "process": "systemd", "starts": 7,
         "first_start": loop[0][0].replace(tzinfo=UTC).isoformat(),
         "last_start": loop[-1][0].replace(tzinfo=UTC).isoformat()}]
