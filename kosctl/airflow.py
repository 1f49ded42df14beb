"""Airflow for KOS: the environment its processes need, and `make airflow` (``airflow standalone``).

Everything Airflow keeps (metadata database, logs, generated passwords) lives under
``[airflow] home`` (git-ignored). The ``spark_default`` connection comes from an
environment variable built from ``[spark] master``, so pointing the DAGs at a cluster
is a config change (``KOS_SPARK_MASTER=spark://host:7077``), not a code change.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kos import config as kos_config
from kos.text import error_line

__all__ = ["INTERVAL", "dag_arguments", "environment", "main", "metrics_arguments", "report_command", "spark_task"]


def environment(cfg: kos_config.Config, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) plus what Airflow needs to run the KOS DAGs."""
    env = dict(os.environ if base is None else base)
    home = cfg.path(cfg.airflow.home)
    url = f"http://{cfg.stack.host}:{cfg.stack.airflow_port}"
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(cfg.project_dir / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__HOST": cfg.stack.host,
        "AIRFLOW__API__PORT": str(cfg.stack.airflow_port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": cfg.spark.master}),
        # The tasks call spark-submit and kos from the project's virtual environment.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
    })
    return env


# What both DAGs share: declared here once, imported by the DAG files (nothing here computes at parse time).
INTERVAL = ["--from", "{{ data_interval_start | ts }}", "--to", "{{ data_interval_end | ts }}"]


def dag_arguments(cfg: kos_config.Config, schedule: str) -> dict[str, Any]:
    """The DAG settings of every KOS DAG: a cron schedule in UTC, no catch-up, one run at a time, retries with
    growing delays."""
    from airflow.sdk import CronDataIntervalTimetable

    return {
        "schedule": CronDataIntervalTimetable(schedule, timezone="UTC"),
        "start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["kos"],
        "default_args": {
            "retries": cfg.airflow.retries,
            "retry_delay": timedelta(seconds=cfg.airflow.retry_delay_seconds),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=30),
        },
    }


def spark_task(cfg: kos_config.Config, name: str, *args: str) -> Any:
    """The Airflow task that submits ``jobs/<name>.py`` with its packages and KOS's jars (jobs/recipes.py) to the
    ``spark_default`` connection."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    from jobs.recipes import jars, recipe

    job = recipe(cfg, name)
    return SparkSubmitOperator(task_id=name, application=str(job.application), name=f"kos-{name}",
                               conn_id="spark_default", packages=",".join(job.packages),
                               jars=",".join(str(j) for j in jars()), application_args=list(args))


def metrics_arguments(cfg: kos_config.Config) -> list[str]:
    """jobs/metrics.py over the run's data interval, into the tables only."""
    return [*INTERVAL, "--bucket", cfg.airflow.metrics_bucket, "--top", str(cfg.airflow.metrics_top), "--tables-only"]


def report_command(cfg: kos_config.Config) -> str:
    """`kos report` of the run's data interval, into ``[airflow] reports_dir/<interval start>``."""
    out = shlex.quote(str(cfg.path(cfg.airflow.reports_dir))) + "/{{ data_interval_start | ts_nodash }}"
    return " ".join(["kos report", *INTERVAL, "--bucket", cfg.airflow.metrics_bucket, "--out", out])


def main() -> int:
    try:
        cfg = kos_config.load()
    except kos_config.ConfigError as exc:
        return error_line("kos airflow", str(exc))
    env = environment(cfg)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    print(f"Airflow UI: {env['AIRFLOW__API__BASE_URL']}  (DAGs kos_pipeline, kos_metrics; "
          f"Spark master {cfg.spark.master})\n"
          f"Log in as admin; the password is generated at first start into "
          f"{home / 'simple_auth_manager_passwords.json.generated'}\n"
          f"Airflow home: {home}. Stop with Ctrl-C.", flush=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    os.execve(airflow, [airflow, "standalone"], env)


if __name__ == "__main__":
    sys.exit(main())
