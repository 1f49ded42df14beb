"""The `kos` command and the tools around the pipeline: the local stack, `kos pipeline`, the audit, Airflow glue."""
