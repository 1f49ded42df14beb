"""KOS's MySQL: the schema, the accounts' connections, the sinks that write the pipeline's tables exactly once,
and the metrics tables. No Spark here: the jobs hand the sinks Arrow tables.

    database.py      connections as each account, MySQL errors as one sentence; schema.sql
    events_sink.py   process_events and load_ledger (the load)
    live_sink.py     live_starts, live_late, process_alerts and live_batches (the live query)
    metrics_tables.py  the metrics_* tables: a metrics run's results, stored and read back
"""
