"""Airflow's real scheduler retrying a killed task: the pipeline DAG scheduled by a scheduler, DAG processor and
API server (LocalExecutor), its load task's spark-submit killed with SIGKILL mid-run, the task retried by the
scheduler; the run ends in success with each event one row and the metrics of an unbroken run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.pipeline import rows, table
from tests.support.ports import free_port
from tests.support.submit import PROJECT
from tests.support.waiting import answers, wait_for
from tests.unit.kosctl.test_dags import airflow

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class AirflowServices:
    """The scheduler (LocalExecutor, no log server), the DAG processor and the API server the tasks report to,
    on a fresh metadata database in ``env``'s AIRFLOW_HOME; stopped with SIGTERM at the end."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self.env = {**env, "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": url,
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
                    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "2"}
        self.folder, self.url = folder, url
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> AirflowServices:
        done = airflow(self.env, "db", "migrate")
        assert done.returncode == 0, done.stderr[-3000:]
        # The API server first, healthy before any task can start: a task's supervisor gives up on an execution API
        # that does not answer within its ~30 s of retries, and the try then fails before the task has run.
        self.start("api-server")
        wait_for(lambda: answers(f"{self.url}/api/v2/monitor/health", timeout=5) or self.procs[0].poll() is not None,
                 180, "the Airflow API server to answer")
        assert self.procs[0].poll() is None, self.logs()
        self.start("scheduler", "--skip-serve-logs")
        self.start("dag-processor")
        return self

    def start(self, command: str, *args: str) -> None:
        output = open(self.folder / f"airflow-{command}.log", "w")  # noqa: SIM115 (the child holds it)
        self.procs.append(subprocess.Popen([str(Path(sys.executable).with_name("airflow")), command, *args],
                                           env=self.env, cwd=PROJECT, stdout=output, stderr=subprocess.STDOUT,
                                           start_new_session=True))

    def logs(self) -> str:
        return "\n".join(p.read_text()[-2000:] for p in sorted(self.folder.glob("airflow-*.log")))

    def cli_json(self, *args: str) -> list[dict]:
        """What an `airflow ... -o json` command answers ([] if it fails); its stdout may hold warnings first."""
        done = airflow(self.env, *args, "-o", "json")
        lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
        return json.loads(lines[-1]) if done.returncode == 0 and lines else []

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def job_processes(job: str, checkpoint_dir: str) -> list[int]:
    """The pids of a Spark job's processes (spark-submit's JVM, its Python driver) started with this test's
    checkpoint folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"jobs/{job}.py".encode() in cmdline and f"KOS_SPARK_CHECKPOINT_DIR={checkpoint_dir}\0".encode() in environ:
            found.append(int(pid))
    return found


def expected_metrics(log: Path, start: datetime, end: datetime) -> tuple[int, Counter]:
    """Events in [start, end) of a generated RFC 3339 log, and their services."""
    services: Counter = Counter()
    for line in log.read_text().splitlines():
        stamp = datetime.fromisoformat(line.split(" ", 1)[0]).replace(tzinfo=None)
        if start <= stamp < end:
            if "]: Started " in line:
                services[line.split("]: Started ", 1)[1].removesuffix(".")] += 1
            elif "Successfully activated service '" in line:
                services[line.split("service '", 1)[1].rstrip("'")] += 1
    return sum(services.values()), services


def test_a_killed_task_is_retried_by_the_scheduler_to_the_same_end_state(pipeline_env, airflow_env, db, tmp_path):
    # 25,000 lines, 4 in 10 of them start events, over the 33 minutes up to now: they hold the 15-minute interval the
    # run covers, and the transform reads them in 25 batches of the 1,000 records set below.
    log = tmp_path / "syslog"
    began = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=35)
    subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(log), "--lines", "25000", "--events", "0.4",
                    "--days", str(33 / 1440), "--seed", "17", "--rfc3339", "--start", began.isoformat()],
                   check=True, cwd=PROJECT)
    events = sum(expected_metrics(log, began, datetime.max)[1].values())
    dags = tmp_path / "dags"  # the pipeline DAG only, unpaused: the scheduler runs its latest 15-minute interval
    dags.mkdir()
    (dags / "kos_pipeline.py").symlink_to(PROJECT / "dags" / "kos_pipeline.py")
    env = {**airflow_env, **{k: v for k, v in pipeline_env.items() if k.startswith("KOS_")},
           "KOS_SHIPPER_PATHS": str(log), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
           "KOS_AIRFLOW_RETRY_DELAY_SECONDS": "1",
           # many small load batches, so that the kill lands among them (checked: 0 < killed_at < events)
           "KOS_SPARK_MAX_OFFSETS_PER_TRIGGER": "1000"}
    with AirflowServices(env, tmp_path) as services:
        deadline = time.monotonic() + 600
        while not (0 < rows(db)[0] < events and (pids := job_processes("load", env["KOS_SPARK_CHECKPOINT_DIR"]))):
            assert time.monotonic() < deadline and rows(db)[0] < events, (rows(db), services.logs())
            time.sleep(0.5)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed_at = rows(db)[0]

        deadline = time.monotonic() + 900
        while (run := first_run(services))["state"] not in ("success", "failed"):
            assert time.monotonic() < deadline, (run, services.logs())
            time.sleep(5)
    tries = attempts(env, run["run_id"])
    assert run["state"] == "success", services.logs()
    assert {task: len(logs) for task, logs in tries.items()} == {"ship": 1, "transform": 1, "load": 2, "metrics": 1,
                                                                 "report": 1}, {  # a try that failed, and why
        task: logs[0][-3000:] for task, logs in tries.items() if len(logs) > 1 and task != "load"}
    assert "/jobs/load.py --available-now. Error code is: -9." in tries["load"][0]  # the kill, seen by the task
    assert 0 < killed_at < events
    assert rows(db) == (events, events)
    start = datetime.fromisoformat(run["logical_date"]).replace(tzinfo=None)
    end = start + timedelta(minutes=15)
    count, services_seen = expected_metrics(log, start, end)
    assert table(db, f"SELECT period_start, period_end, bucket, events FROM metrics_runs WHERE period_start = "
                     f"'{start}'") == [(start, end, "minute", count)]
    top = table(db, f"SELECT service, starts FROM metrics_top_services WHERE period_start = '{start}' ORDER BY `rank`")
    assert len(top) == min(10, len(services_seen)) > 0  # [airflow] metrics_top, over the services the oracle saw
    assert [starts for _, starts in top] == sorted(services_seen.values(), reverse=True)[:len(top)]
    assert all(services_seen[service] == starts for service, starts in top)
    report = Path(env["KOS_AIRFLOW_REPORTS_DIR"]) / f"{start:%Y%m%dT%H%M%S}"
    assert (report / "top_services.csv").read_text().splitlines()[1:] == [
        f"{rank},{service},{starts}" for rank, (service, starts) in enumerate(top, 1)]


def first_run(services: AirflowServices) -> dict:
    """The DAG's first run (its state "none" until the scheduler has made one)."""
    runs = sorted(services.cli_json("dags", "list-runs", "kos_pipeline"), key=lambda r: r["run_after"])
    return runs[0] if runs else {"state": "none"}


def attempts(env: dict[str, str], run_id: str) -> dict[str, list[str]]:
    """Each task's attempt logs in the run, in order (Airflow writes one file per try)."""
    run = Path(env["AIRFLOW_HOME"]) / "logs" / "dag_id=kos_pipeline" / f"run_id={run_id}"
    return {task.name.removeprefix("task_id="): [a.read_text() for a in sorted(task.glob("attempt=*.log"))]
            for task in sorted(run.glob("task_id=*"))}
