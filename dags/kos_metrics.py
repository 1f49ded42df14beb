"""kos_metrics: every interval (hourly by default), the metrics of the interval just completed, then its report.

``metrics`` submits jobs/metrics.py for [data_interval_start, data_interval_end) to the
``spark_default`` connection and writes the ``metrics_*`` tables; ``report`` renders
``report.html``, CSV and PNG from those tables into ``[airflow] reports_dir/<interval start>``.
Runs never catch up and never overlap; a failed task is retried with growing delays.
For transform and load running all the time (``kos run``, or processing-time); kos_pipeline runs every stage.
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

from kos import config as kos_config
from kosctl.airflow import dag_arguments, metrics_arguments, report_command, spark_task

cfg = kos_config.load()

with DAG(dag_id="kos_metrics", doc_md=__doc__, **dag_arguments(cfg, cfg.airflow.metrics_schedule)) as dag:
    metrics = spark_task(cfg, "metrics", *metrics_arguments(cfg))
    report = BashOperator(task_id="report", cwd=str(cfg.project_dir), bash_command=report_command(cfg))
    metrics >> report
