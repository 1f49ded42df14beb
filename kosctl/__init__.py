"""The `kos` command (cli.py) and the tools around the pipeline: the local stack, `kos pipeline`, `kos run` and
its metrics and Alertmanager notifier, `kos status`, the audit, Airflow glue, generated syslogs."""
