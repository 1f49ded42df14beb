"""Load benchmark: the load job's MySQL sink (jobs/events_table.write_events, as the load account) writing
N events, next to MariaDB's own LOAD DATA LOCAL INFILE of the same rows as the reference limit.

    python bench/load.py [--events 1000000] [--repeat 3]

Uses its own databases (kos_bench, kos_bench_stage) on the local MariaDB (`kos stack start`).
The events are generated and cached in Spark first, so only the write is timed; each run starts
from an empty table. Results: out/bench/load.json. (The load job's from_protobuf step is not
measured: it waits for the protobuf connector, see the README's Status.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobs.database import Database, ensure_schema  # noqa: E402
from jobs.events_table import write_events  # noqa: E402
from kos import config as kos_config  # noqa: E402
from kos.stack.mariadb import MariaDBStack  # noqa: E402

BENCH_DB, BENCH_STAGE = "kos_bench", "kos_bench_stage"
COLUMNS = ("event_time", "host", "process", "pid", "service", "action", "origin_source", "origin_file",
           "origin_offset", "kafka_topic", "kafka_partition", "kafka_offset")


def generated_events(spark: SparkSession, n: int):
    """``n`` parsed events as the transform produces them: 20 hosts, 7 processes, 500 services, 30 days."""
    seq = F.col("id")
    processes = F.array(*(F.lit(p) for p in ("systemd", "dbus-daemon", "cron", "sshd", "gdm-x-session",
                                              "NetworkManager", "snapd")))
    return spark.range(n).select(
        (F.lit("2026-03-01 00:00:00").cast("timestamp") + F.make_interval(
            secs=((seq * 7919) % 2592000).cast("decimal(18,6)") + (seq % 1000000) / 1e6)).alias("event_time"),
        F.concat(F.lit("host-"), (seq % 20).cast("string")).alias("host"),
        processes[(seq * 31) % 7].alias("process"),
        (seq % 32768).alias("pid"),
        F.concat(F.lit("service-"), ((seq * seq) % 500).cast("string"), F.lit(".service")).alias("service"),
        F.when(seq % 3 == 0, "ACTIVATED").otherwise("STARTED").alias("action"),
        F.lit("bench").alias("source"), F.lit("bench-file").alias("file"), (seq * 120).alias("line_offset"),
        F.lit("kos-parsed-os-log").alias("kafka_topic"), (seq % 3).cast("int").alias("kafka_partition"),
        seq.alias("kafka_offset"),
    )


def truncate(db: Database) -> None:
    with db.connect() as conn:
        conn.cursor().execute("TRUNCATE TABLE process_events")
        conn.commit()


def count(db: Database) -> int:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM process_events")
        return cur.fetchone()[0]


def load_data(db: Database, tsv: Path) -> None:
    import mysql.connector

    conn = mysql.connector.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                                   database=db.database, allow_local_infile=True, time_zone="+00:00",
                                   allow_local_infile_in_path=str(tsv.parent))
    try:
        conn.cursor().execute(f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE process_events "
                              f"FIELDS TERMINATED BY '\\t' ({', '.join(COLUMNS)})")
        conn.commit()
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    cfg = kos_config.load()
    MariaDBStack(cfg).root_sql("\n".join(
        [f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
         for name in (BENCH_DB, BENCH_STAGE)]
        + [f"GRANT {rights} ON {name}.* TO '{user}'@'{host}';"
           for user, rights, name in ((cfg.mysql.user, "ALL PRIVILEGES", BENCH_DB),
                                      (cfg.mysql.user, "ALL PRIVILEGES", BENCH_STAGE),
                                      (cfg.mysql.load_user, "SELECT, INSERT", BENCH_DB),
                                      (cfg.mysql.load_user, "ALL PRIVILEGES", BENCH_STAGE))
           for host in ("127.0.0.1", "localhost")]))
    owner = dataclasses.replace(Database.from_config(cfg), database=BENCH_DB, stage_database=BENCH_STAGE)
    loader = dataclasses.replace(Database.from_config(cfg, "load"), database=BENCH_DB, stage_database=BENCH_STAGE)
    ensure_schema(owner)

    spark = (SparkSession.builder.master("local[2]").appName("kos-bench-load")
             .config("spark.sql.session.timeZone", "UTC").config("spark.jars.packages", cfg.spark.jdbc_package)
             .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    events = generated_events(spark, args.events).cache()
    assert events.count() == args.events

    tsv = PROJECT / "out" / "bench" / "load" / "events.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    with open(tsv, "w") as f:
        for row in events.select(F.date_format("event_time", "yyyy-MM-dd HH:mm:ss.SSSSSS"), "host", "process", "pid",
                                 "service", "action", "source", "file", "line_offset", "kafka_topic",
                                 "kafka_partition", "kafka_offset").toLocalIterator():
            f.write("\t".join(str(v) for v in row) + "\n")

    def timed(write) -> float:
        truncate(owner)
        started = time.perf_counter()
        write()
        elapsed = time.perf_counter() - started
        assert count(owner) == args.events
        return elapsed

    sink = [timed(lambda i=i: write_events(events, i, loader, "bench")) for i in range(args.repeat + 1)][1:]
    reference = [timed(lambda: load_data(owner, tsv)) for _ in range(args.repeat + 1)][1:]
    spark.stop()

    s, r = statistics.median(sink), statistics.median(reference)
    result = {
        "events": args.events, "runs": args.repeat,
        "write_events_s": round(s, 2), "write_events_spread_s": round(max(sink) - min(sink), 2),
        "write_events_per_s": round(args.events / s), "load_data_s": round(r, 2),
        "load_data_spread_s": round(max(reference) - min(reference), 2), "load_data_per_s": round(args.events / r),
        "share_of_load_data": round(r / s, 2),
    }
    print(f"{args.events:,} events, median of {args.repeat} after a warm-up")
    print(f"  write_events (JDBC stage + merge, load account)  {s:7.2f} s  {args.events / s:>10,.0f} events/s")
    print(f"  LOAD DATA LOCAL INFILE (reference)               {r:7.2f} s  {args.events / r:>10,.0f} events/s")
    print(f"  sink / LOAD DATA                                 {r / s:7.2f}")
    (PROJECT / "out" / "bench" / "load.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
