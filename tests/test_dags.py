"""The Airflow DAGs: they load, declare only, have the intended graph, and really run against the stack."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kos import config as kos_config
from tests.events import event, store_events
from tests.submit import PROJECT

DAGS = PROJECT / "dags"
FORBIDDEN = ("pyspark", "kafka", "matplotlib", "mysql", "jobs", "shipper")


def airflow(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], env=env, cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout)


def python(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, capture_output=True, text=True,
                          timeout=300)


DESCRIBE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags")
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {
    dag_id: {"timetable": repr(dag.timetable), "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
             "tags": sorted(dag.tags), "doc": bool(dag.doc_md),
             "tasks": {t.task_id: {"downstream": sorted(t.downstream_task_ids), "type": type(t).__name__,
                                   "retries": t.retries, "backoff": t.retry_exponential_backoff,
                                   "args": getattr(t, "application_args", None) or getattr(t, "bash_command", None),
                                   "packages": getattr(t, "packages", None), "conn": getattr(t, "_conn_id", None),
                                   "name": getattr(t, "name", None)}
                       for t in dag.tasks}}
    for dag_id, dag in bag.dags.items()}}))
"""


def describe(airflow_env: dict[str, str]) -> dict:
    done = python(airflow_env, DESCRIBE)
    assert done.returncode == 0, done.stderr[-3000:]
    bag = json.loads(done.stdout.splitlines()[-1])
    assert bag["errors"] == {}
    assert sorted(bag["dags"]) == ["kos_metrics", "kos_pipeline"]
    return bag["dags"]


INTERVAL = ["--from", "{{ data_interval_start | ts }}", "--to", "{{ data_interval_end | ts }}", "--bucket", "minute"]


def test_dagbag_loads_with_the_intended_graph(airflow_env):
    dag = describe(airflow_env)["kos_metrics"]
    assert (dag["timetable"], dag["catchup"], dag["max_active_runs"], dag["tags"], dag["doc"]) == (
        "CronDataIntervalTimetable(expression='0 * * * *', timezone='UTC')", False, 1, ["kos"], True)
    tasks = dag["tasks"]
    assert {t: (v["type"], v["downstream"], v["retries"], v["backoff"]) for t, v in tasks.items()} == {
        "metrics": ("SparkSubmitOperator", ["report"], 3, 2.0),
        "report": ("BashOperator", [], 3, 2.0),
    }
    assert tasks["metrics"]["args"] == [*INTERVAL, "--top", "10", "--tables-only"]
    assert (tasks["metrics"]["packages"], tasks["metrics"]["conn"], tasks["metrics"]["name"]) == (
        "com.mysql:mysql-connector-j:9.5.0", "spark_default", "kos-metrics")
    assert tasks["report"]["args"] == " ".join(["kos report", *INTERVAL, "--out",
                                                 airflow_env["KOS_AIRFLOW_REPORTS_DIR"]
                                                 + "/{{ data_interval_start | ts_nodash }}"])


def test_the_pipeline_dag_declares_every_stage_in_order_with_its_command(airflow_env):
    dag = describe(airflow_env)["kos_pipeline"]
    assert (dag["timetable"], dag["catchup"], dag["max_active_runs"], dag["tags"], dag["doc"]) == (
        "CronDataIntervalTimetable(expression='*/15 * * * *', timezone='UTC')", False, 1, ["kos"], True)
    tasks = dag["tasks"]
    kafka, jdbc = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0", "com.mysql:mysql-connector-j:9.5.0"
    assert {t: (v["type"], v["downstream"], v["retries"]) for t, v in tasks.items()} == {
        "ship": ("BashOperator", ["transform"], 3),
        "transform": ("SparkSubmitOperator", ["load"], 3),
        "load": ("SparkSubmitOperator", ["metrics"], 3),
        "metrics": ("SparkSubmitOperator", ["report"], 3),
        "report": ("BashOperator", [], 3),
    }
    assert tasks["ship"]["args"] == "kos-shipper --once --no-progress"
    assert {t: (tasks[t]["args"], tasks[t]["packages"], tasks[t]["name"]) for t in ("transform", "load", "metrics")} \
        == {"transform": (["--available-now"], kafka, "kos-transform"),
            "load": (["--available-now"], f"{kafka},{jdbc}", "kos-load"),
            "metrics": ([*INTERVAL, "--top", "10", "--tables-only"], jdbc, "kos-metrics")}


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_files_only_declare(airflow_env, dag_file):
    """Parsing a DAG file imports no Spark, Kafka, matplotlib, MySQL client or job code."""
    code = (f"import runpy, sys, json; runpy.run_path({str(DAGS / dag_file)!r}); "
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r}))))")
    done = python(airflow_env, code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []


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
        "report.html", "starts_per_minute.csv", "starts_per_minute.png", "top_processes.csv", "top_processes.png",
        "top_services.csv", "top_services.png"]
    assert (report / "top_processes.csv").read_text().splitlines() == [
        "rank,process,starts", "1,systemd,2", "2,dbus-daemon,1"]


@pytest.mark.integration
@pytest.mark.slow
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


@pytest.mark.integration
@pytest.mark.slow
def test_no_secret_in_task_logs_event_logs_or_tool_output(cfg, airflow_env, spark, db, loader):
    """After a full DAG run: Airflow's task logs (`dags test` prints them), its log folder, the Spark
    event logs (what the history server's environment and SQL tabs show), `kos stack status` and
    `kos config` hold no password."""
    from tests.submit import kos

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
