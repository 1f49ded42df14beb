"""The Airflow DAGs: they load, declare only, have the intended graph, and really run against the stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.submit import PROJECT

DAGS = PROJECT / "dags"
FORBIDDEN = ("pyspark", "kafka", "matplotlib", "mysql", "jobs", "shipper", "storage", "report", "kosproto")
# What a task is submitted with (packages, jars) is declaration, not job code.
ALLOWED = ("jobs", "jobs.recipes")


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
            "load": (["--available-now"], kafka, "kos-load"),
            "metrics": ([*INTERVAL, "--top", "10", "--tables-only"], jdbc, "kos-metrics")}


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_files_only_declare(airflow_env, dag_file):
    """Parsing a DAG file imports no Spark, Kafka, matplotlib, MySQL client or job code."""
    code = (f"import runpy, sys, json; runpy.run_path({str(DAGS / dag_file)!r}); "
            f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
            f"and m not in {ALLOWED!r})))")
    done = python(airflow_env, code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
