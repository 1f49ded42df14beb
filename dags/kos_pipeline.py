"""kos_pipeline: every interval (15 minutes by default), the whole pipeline, one stage after the other.

``ship`` runs ``kos-shipper --once`` over ``[shipper] paths``; ``transform`` and ``load`` submit
jobs/transform.py and jobs/load.py with the available-now trigger to the ``spark_default``
connection (each continues from its checkpoint, so a retried or repeated task adds nothing twice);
``metrics`` computes the metrics of [data_interval_start, data_interval_end) into the MySQL tables
and ``report`` renders them into ``[airflow] reports_dir/<interval start>``. Runs never catch up and
never overlap; a failed task is retried with growing delays.

For transform and load running all the time (``--processing-time``), schedule only the metrics:
kos_metrics.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronDataIntervalTimetable

from kos import config as kos_config

cfg = kos_config.load()
interval = ["--from", "{{ data_interval_start | ts }}", "--to", "{{ data_interval_end | ts }}",
            "--bucket", cfg.airflow.metrics_bucket]


def job(name: str, *args: str) -> SparkSubmitOperator:
    return SparkSubmitOperator(
        task_id=name,
        application=str(cfg.project_dir / "jobs" / f"{name}.py"),
        name=f"kos-{name}",
        conn_id="spark_default",
        packages=",".join(cfg.spark.job_packages(name)),
        application_args=list(args),
    )


with DAG(
    dag_id="kos_pipeline",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable(cfg.airflow.pipeline_schedule, timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["kos"],
    default_args={
        "retries": cfg.airflow.retries,
        "retry_delay": timedelta(seconds=cfg.airflow.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
) as dag:
    ship = BashOperator(task_id="ship", cwd=str(cfg.project_dir), bash_command="kos-shipper --once --no-progress")
    transform = job("transform", "--available-now")
    load = job("load", "--available-now")
    metrics = job("metrics", *interval, "--top", str(cfg.airflow.metrics_top), "--tables-only")
    report = BashOperator(
        task_id="report",
        cwd=str(cfg.project_dir),
        bash_command=" ".join(["kos report", *interval, "--out", shlex.quote(str(cfg.path(cfg.airflow.reports_dir)))
                               + "/{{ data_interval_start | ts_nodash }}"]),
    )
    ship >> transform >> load >> metrics >> report
