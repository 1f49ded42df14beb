"""The jobs on a Spark standalone cluster (master and worker on loopback), seen by the history server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from jobs.recipes import KAFKA, MYSQL
from kos import config as kos_config
from kosctl.airflow import environment
from kosctl.stack.process import running_pid
from kosctl.stack.spark import SparkHistory, SparkMaster, SparkWorker
from tests.integration.test_dags_run import assert_metrics_of_the_interval, run_metrics_dag
from tests.support.events import event, store_events
from tests.support.submit import spark_submit

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(cfg: kos_config.Config) -> Iterator[SparkMaster]:
    """`kos stack start --only spark` and `--only history`; stopped afterwards unless they ran before."""
    master = SparkMaster(cfg)
    daemons = [master, SparkWorker(cfg, memory="2g"), SparkHistory(cfg)]
    started = [d for d in daemons if running_pid(d.pid_file) is None]
    for daemon in daemons:
        daemon.start()
    yield master
    for daemon in reversed(started):
        daemon.stop()


def history_apps(cfg: kos_config.Config) -> list[dict]:
    url = f"http://{cfg.stack.host}:{cfg.stack.spark_history_port}/api/v1/applications"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_for_new_apps(cfg: kos_config.Config, since: float, timeout: float = 60) -> list[dict]:
    """Applications the history server lists that started after ``since`` (epoch seconds), once all are complete
    (it rescans every 5 s; a server started a moment ago may still be listing older event logs)."""
    deadline = time.monotonic() + timeout
    new: list[dict] = []
    while time.monotonic() < deadline and not (new and all(a["attempts"][0]["completed"] for a in new)):
        time.sleep(1)
        new = [app for app in history_apps(cfg) if app["attempts"][0]["startTimeEpoch"] >= since * 1000]
    return new


def test_metrics_job_runs_on_the_cluster_and_shows_in_the_history(cfg, cluster, spark, db, loader, tmp_path):
    assert cluster.alive_workers() == 1
    rows = [event(datetime(2026, 4, 1, 8, m), "node-a" if m % 2 else "node-b", "systemd", f"unit {m % 3}", m)
            for m in range(30)]
    store_events(db, rows)
    since = time.time()

    done = spark_submit("--packages", MYSQL, "jobs/metrics.py", "--bucket", "hour", "--top", "3", "--out",
                        str(tmp_path), master=cluster.url)
    assert done.returncode == 0, done.stderr[-3000:]
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT `rank`, service, starts FROM metrics_top_services ORDER BY `rank`")
        assert cur.fetchall() == [(1, "unit 0", 10), (2, "unit 1", 10), (3, "unit 2", 10)]
        cur.execute("SELECT bucket_start, host, starts FROM metrics_starts_per_bucket ORDER BY host")
        assert cur.fetchall() == [(datetime(2026, 4, 1, 8), "", 30), (datetime(2026, 4, 1, 8), "node-a", 15),
                                  (datetime(2026, 4, 1, 8), "node-b", 15)]

    # The run's event log reaches the history server under the job's name, as a completed application.
    new = wait_for_new_apps(cfg, since)
    assert [app["name"] for app in new] == ["kos-metrics"]
    assert new[0]["id"].startswith("app-")  # a standalone application id, not local-...
    assert new[0]["attempts"][0]["completed"] is True


def test_the_metrics_dag_reaches_the_cluster_through_its_connection_only(cfg, cluster, airflow_env, spark, db,
                                                                        loader):
    """The same DAG, with spark_default built from KOS_SPARK_MASTER=spark://...: the run is a cluster application."""
    on_cluster = kos_config.load(environ={**os.environ, "KOS_SPARK_MASTER": cluster.url})
    airflow_env["AIRFLOW_CONN_SPARK_DEFAULT"] = environment(on_cluster)["AIRFLOW_CONN_SPARK_DEFAULT"]
    since = time.time()
    run_metrics_dag(airflow_env, spark, loader, "2026-05-01T09:00:00+00:00")
    assert_metrics_of_the_interval(airflow_env, db)
    assert [(app["name"], app["id"][:4]) for app in wait_for_new_apps(cfg, since)] == [("kos-metrics", "app-")]


def test_the_jobs_packages_reach_the_cluster_executors_and_the_transform_runs_there(cfg, cluster, kafka, tmp_path):
    """On a cluster the session ships `jobs` and `kos` as a zip, and the executors import them from it, before any
    installed copy; the transform then runs on the cluster like on local[2]."""
    from kosctl.stack.topics import ensure_topics

    done = spark_submit("tests/support/scripts/where_jobs.py", master=cluster.url)
    assert done.returncode == 0, done.stderr[-3000:]
    places = {line[len("jobs="):] for line in done.stdout.splitlines() if line.startswith("jobs=")}
    assert places and all(p.endswith("kos-jobs.zip/jobs/__init__.py") for p in places), done.stdout[-2000:]

    run = uuid.uuid4().hex[:10]
    topics = {k: f"kos-test-{k.lower()}-{run}" for k in ("RAW", "PARSED", "DEAD_LETTER")}
    ensure_topics(cfg, list(topics.values()))
    env = {**{f"KOS_KAFKA_{k}_TOPIC": v for k, v in topics.items()},
           "KOS_SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    shipped = subprocess.run([sys.executable, "-m", "shipper", "--once", "--no-progress", "--path",
                              "tests/data/spec.syslog", "--topic", topics["RAW"], "--checkpoint-dir",
                              str(tmp_path / "shipper")], cwd=str(cfg.project_dir), capture_output=True, text=True)
    assert shipped.returncode == 0, shipped.stderr
    done = spark_submit("--packages", KAFKA, "jobs/transform.py", "--year", "2026",
                        master=cluster.url, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "kos-transform: 1 records, 9 candidate lines, 6 events, 1 dead letters in 1 batches" in done.stdout
