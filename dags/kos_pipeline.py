"""kos_pipeline: every interval (15 minutes by default), the whole pipeline, one stage after the other.

``ship`` runs ``kos-shipper --once`` over ``[shipper] paths``; ``transform`` and ``load`` submit
jobs/transform.py and jobs/load.py with the available-now trigger to the ``spark_default``
connection (each continues from its checkpoint, so a retried or repeated task adds nothing twice);
``metrics`` computes the metrics of [data_interval_start, data_interval_end) into the MySQL tables
and ``report`` renders them into ``[airflow] reports_dir/<interval start>``. Runs never catch up and
never overlap; a failed task is retried with growing delays.

For transform and load running all the time (``kos run``, or ``--processing-time``), schedule only the
metrics: kos_metrics.
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

from kos import config as kos_config
from kosctl.airflow import dag_arguments, metrics_arguments, report_command, spark_task

cfg = kos_config.load()

with DAG(dag_id="kos_pipeline", doc_md=__doc__, **dag_arguments(cfg, cfg.airflow.pipeline_schedule)) as dag:
    ship = BashOperator(task_id="ship", cwd=str(cfg.project_dir), bash_command="kos-shipper --once --no-progress")
    transform = spark_task(cfg, "transform", "--available-now")
    load = spark_task(cfg, "load", "--available-now")
    metrics = spark_task(cfg, "metrics", *metrics_arguments(cfg))
    report = BashOperator(task_id="report", cwd=str(cfg.project_dir), bash_command=report_command(cfg))
    ship >> transform >> load >> metrics >> report
