"""Metrics benchmark: jobs/metrics.py over N rows of process_events, next to the same SQL run by MariaDB.

    python bench/metrics.py [--rows 10000000] [--repeat 3] [--bucket minute]

Uses its own database (kos_bench) on the local MariaDB (`kos stack start`), filled once with
generated rows (30 days, 20 hosts, 7 processes, 500 services). Reports the median wall time
of `spark-submit jobs/metrics.py` (and of an empty spark-submit, the JVM's share), and of the
three aggregations as plain SQL; the job's tables must hold the same answers as the SQL (checked; the
benchmark fails otherwise). Results: out/bench/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

from fixtures import BENCH_DB, bench_database  # noqa: E402

from kos import config as kos_config  # noqa: E402
from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, Results, fetch  # noqa: E402

FILL = """
INSERT INTO process_events (event_time, host, process, pid, service, action, origin_source, origin_file,
                            origin_offset, kafka_topic, kafka_partition, kafka_offset)
SELECT TIMESTAMP '2026-03-01 00:00:00' + INTERVAL ((seq * 7919) % 2592000) SECOND,
       CONCAT('host-', seq % 20),
       ELT(1 + (seq * 31) % 7, 'systemd', 'dbus-daemon', 'cron', 'sshd', 'gdm-x-session', 'NetworkManager', 'snapd'),
       seq % 32768,
       CONCAT('service-', (seq * seq) % 500),
       IF(seq % 3 = 0, 'ACTIVATED', 'STARTED'),
       'bench', 'bench-file', seq, 'kos-parsed-os-log', 0, seq
FROM seq_{start}_to_{end}
"""

SQL = {
    "top_services": "SELECT service, COUNT(*) AS n FROM process_events GROUP BY service ORDER BY n DESC, service "
                    "LIMIT 10",
    "top_processes": "SELECT process, COUNT(*) AS n FROM process_events GROUP BY process ORDER BY n DESC, process "
                     "LIMIT 10",
    "starts_per_bucket": "SELECT DATE_FORMAT(event_time, '%Y-%m-%d %H:%i:00') AS b, host, COUNT(*) FROM "
                         "process_events GROUP BY b, host WITH ROLLUP",
}


def same_answers(job: Results, sql: dict[str, list[tuple]]) -> None:
    """The job's stored results against the SQL's rows (per-minute ones only: the SQL buckets by minute)."""
    assert [(s, n) for _, s, n in job.services] == sql["top_services"], "top services differ"
    assert [(p, n) for _, p, n in job.processes] == sql["top_processes"], "top processes differ"
    if job.bucket == "minute":
        expected = sorted((datetime.fromisoformat(b), host or "", n) for b, host, n in sql["starts_per_bucket"]
                          if b is not None)
        assert sorted(job.buckets) == expected, "starts per minute differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bucket", default="minute")
    args = parser.parse_args()

    cfg = kos_config.load()
    db, _ = bench_database(cfg)  # the owner fills the table; the job runs as the metrics account
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM process_events")
        (have,) = cur.fetchone()
        if have != args.rows:
            print(f"filling {BENCH_DB}.process_events with {args.rows:,} rows ...", flush=True)
            cur.execute("TRUNCATE TABLE process_events")
            step = 1_000_000
            for start in range(1, args.rows + 1, step):
                cur.execute(FILL.format(start=start, end=min(start + step - 1, args.rows)))
                conn.commit()

    env = dict(os.environ, KOS_MYSQL_DATABASE=BENCH_DB, PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable)
    submit = [str(Path(sys.executable).with_name("spark-submit")), "--master", "local[2]", "--driver-memory", "4g",
              "--packages", "com.mysql:mysql-connector-j:9.5.0"]
    empty = PROJECT / "out" / "bench" / "empty_job.py"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.write_text("from pyspark.sql import SparkSession\nSparkSession.builder.getOrCreate().range(1).count()\n")

    def timed(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=PROJECT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    job = [*submit, "jobs/metrics.py", "--bucket", args.bucket, "--out", str(PROJECT / "out" / "bench" / "metrics")]
    timed(job)  # warm-up
    job_times = [timed(job) for _ in range(args.repeat)]
    startup = statistics.median(timed([*submit, str(empty)]) for _ in range(args.repeat))

    sql_times = []
    with db.connect() as conn:
        cur = conn.cursor()
        for _ in range(args.repeat + 1):
            started = time.perf_counter()
            answers = {}
            for name, statement in SQL.items():
                cur.execute(statement)
                answers[name] = cur.fetchall()
            sql_times.append(time.perf_counter() - started)
    sql_times = sql_times[1:]  # the first run warms the buffer pool
    same_answers(fetch(db, Period(UNBOUNDED_FROM, UNBOUNDED_TO), args.bucket), answers)

    job_median, sql_median = statistics.median(job_times), statistics.median(sql_times)
    result = {
        "rows": args.rows, "bucket": args.bucket, "runs": args.repeat,
        "metrics_job_s": round(job_median, 2), "metrics_job_spread_s": round(max(job_times) - min(job_times), 2),
        "spark_submit_startup_s": round(startup, 2),
        "metrics_job_minus_startup_s": round(job_median - startup, 2),
        "mariadb_sql_s": round(sql_median, 2), "mariadb_sql_spread_s": round(max(sql_times) - min(sql_times), 2),
        "ratio_job_to_sql": round(job_median / sql_median, 2),
    }
    print(f"{args.rows:,} rows, bucket {args.bucket}, median of {args.repeat}")
    print(f"  spark-submit jobs/metrics.py   {job_median:8.2f} s  (of which JVM + session start-up {startup:.2f} s)")
    print(f"  MariaDB, the same three SQLs   {sql_median:8.2f} s")
    print(f"  ratio                          {result['ratio_job_to_sql']:8.2f}x")
    (PROJECT / "out" / "bench" / "metrics.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
