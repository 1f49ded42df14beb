"""kos_metrics: every interval (hourly by default), the metrics of the interval just completed, then its report.

``metrics`` submits jobs/metrics.py for [data_interval_start, data_interval_end) to the
``spark_default`` connection and writes the ``metrics_*`` tables; ``report`` renders
``report.html``, CSV and PNG from those tables into ``[airflow] reports_dir/<interval start>``.
Runs never catch up and never overlap; a failed task is retried with growing delays.
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

with DAG(
    dag_id="kos_metrics",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable(cfg.airflow.metrics_schedule, timezone="UTC"),
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
    metrics = SparkSubmitOperator(
        task_id="metrics",
        application=str(cfg.project_dir / "jobs" / "metrics.py"),
        name="kos-metrics",
        conn_id="spark_default",
        packages=",".join(cfg.spark.job_packages("metrics")),
        application_args=[*interval, "--top", str(cfg.airflow.metrics_top), "--tables-only"],
    )
    report = BashOperator(
        task_id="report",
        cwd=str(cfg.project_dir),
        bash_command=" ".join(["kos report", *interval, "--out", shlex.quote(str(cfg.path(cfg.airflow.reports_dir)))
                               + "/{{ data_interval_start | ts_nodash }}"]),
    )
    metrics >> report
