"""The DAGs run for real: `airflow dags test` of kos_metrics on the real stack, and no secret in what it leaves."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from kos import config as kos_config
from tests.support.events import event, store_events
from tests.unit.kosctl.test_dags import airflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_metrics_dag(env: dict[str, str], spark, loader, logical_date: str) -> str:
    """Load events of 2026-05-01 07:xx and 08:xx, run the DAG for the 08:00-09:00 interval once."""
    rows = [event(datetime(2026, 5, 1, 7, 59, 59), "web", "systemd", "before the interval", 1),
            event(datetime(2026, 5, 1, 8, 0, 0), "web", "systemd", "Locale Service", 2),
            event(datetime(2026, 5, 1, 8, 0, 30), "db", "systemd", "Locale Service", 3),
            event(datetime(2026, 5, 1, 8, 59, 59, 999999), "db", "dbus-daemon", "org.freedesktop.hostname1", 4),
            event(datetime(2026, 5, 1, 9, 0, 0), "web", "systemd", "after the interval", 5)]
    store_events(loader, rows)
    migrated = airflow(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    done = airflow(env, "dags", "test", "kos_metrics", logical_date)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    assert "state=success" in done.stdout + done.stderr
    return done.stdout + done.stderr


def assert_metrics_of_the_interval(env: dict[str, str], db) -> None:
    period = (datetime(2026, 5, 1, 8), datetime(2026, 5, 1, 9))
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT period_start, period_end, bucket, events FROM metrics_runs")
        assert cur.fetchall() == [(*period, "minute", 3)]
        cur.execute("SELECT `rank`, service, starts FROM metrics_top_services ORDER BY `rank`")
        assert cur.fetchall() == [(1, "Locale Service", 2), (2, "org.freedesktop.hostname1", 1)]
        cur.execute("SELECT bucket_start, host, starts FROM metrics_starts_per_bucket ORDER BY bucket_start, host")
        assert cur.fetchall() == [(datetime(2026, 5, 1, 8, 0), "", 2), (datetime(2026, 5, 1, 8, 0), "db", 1),
                                  (datetime(2026, 5, 1, 8, 0), "web", 1), (datetime(2026, 5, 1, 8, 59), "", 1),
                                  (datetime(2026, 5, 1, 8, 59), "db", 1)]
    report = Path(env["KOS_AIRFLOW_REPORTS_DIR"]) / "20260501T080000"
    assert sorted(p.name for p in report.iterdir()) == [
        "report.html", "starts_heat_map.png", "starts_over_time.png", "starts_per_minute.csv", "top_processes.csv",
        "top_processes.png", "top_services.csv", "top_services.png"]
    assert (report / "top_processes.csv").read_text().splitlines() == [
        "rank,process,starts", "1,systemd,2", "2,dbus-daemon,1"]


def test_metrics_dag_runs_once_for_real(airflow_env, spark, db, loader):
    """`airflow dags test` runs metrics (spark-submit through SparkSubmitOperator) and report for the
    interval the logical date closes, on the local master of the spark_default connection."""
    run_metrics_dag(airflow_env, spark, loader, "2026-05-01T09:00:00+00:00")
    assert_metrics_of_the_interval(airflow_env, db)


def secrets_in(cfg: kos_config.Config, paths: list[Path], texts: tuple[str, ...] = ()) -> list[str]:
    """Where any of the three MySQL passwords shows up: files under ``paths`` and the ``texts``."""
    secrets = {role: cfg.mysql_account(role)[1] for role in ("owner", "load", "metrics")}
    files = [f for root in paths for f in ([root] if root.is_file() else root.rglob("*")) if f.is_file()]
    found = []
    for f in files:
        data = f.read_bytes()
        found += [f"{role} password in {f}" for role, secret in secrets.items() if secret.encode() in data]
    found += [f"{role} password in output" for role, secret in secrets.items() for text in texts if secret in text]
    return found


def test_no_secret_in_task_logs_event_logs_or_tool_output(cfg, airflow_env, spark, db, loader):
    """After a full DAG run: Airflow's task logs (`dags test` prints them), its log folder, the Spark
    event logs (what the history server's environment and SQL tabs show), `kos stack status` and
    `kos config` hold no password."""
    from tests.support.submit import kos

    task_logs = run_metrics_dag(airflow_env, spark, loader, "2026-05-01T09:00:00+00:00")
    assert "Spark-Submit cmd: spark-submit --master local[2]" in task_logs
    assert "Running command: ['/usr/bin/bash', '-c', 'kos report --from 2026-05-01T08:00:00+00:00" in task_logs
    outputs = (task_logs, kos("stack", "status").stdout, kos("config").stdout)
    logs = Path(airflow_env["AIRFLOW_HOME"]) / "logs"
    assert secrets_in(cfg, [logs, cfg.path(cfg.spark.event_log_dir)], outputs) == []
    # The check itself finds a password where there is one.
    leak = logs / "leak.log"
    leak.write_text(cfg.mysql_account("metrics")[1])
    assert secrets_in(cfg, [leak]) == [f"metrics password in {leak}"]
