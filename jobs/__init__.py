"""The Spark applications (what spark-submit runs, the DAGs' tasks) and what they share.

    transform.py    raw syslog records -> ProcessEvent / DeadLetter records (Kafka to Kafka, all in the JVM)
    load.py         ProcessEvent records -> process_events, exactly once
    live.py         ProcessEvent records -> live_starts, live_late, process_alerts; kos-alerts
    metrics.py      process_events -> the metrics tables and the report (batch)
    continuous.py   transform, load and live in one application, each supervised (`kos run`)

    job.py          the skeleton: the two shapes of a job (a Kafka-sink query, a query writing each batch to a
                    sink opened before Spark) and how one runs, reports and fails in one line
    streaming.py    triggers, reading a topic, starting and awaiting a query
    session.py, progress.py, recipes.py (packages and jars of each application)
    parsing.py      the parsing rules; java_functions.py and java/ (the candidate search, in Java)
    messages.py     KOS's messages as Spark builds and reads them
    storms.py       the restart-storm state machine (pure); aggregations.py (the metrics' group-bys)
"""
