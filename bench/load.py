"""Load benchmark: the load job's MySQL sink (jobs/events_table.write_events, as the load account) writing
N events, next to MariaDB's own LOAD DATA LOCAL INFILE of the same rows as the reference limit; then the
whole load job (Kafka -> from_protobuf -> MySQL) over the same events as kos.v1.ProcessEvent records.

    python bench/load.py [--events 1000000] [--repeat 3]

Uses its own databases (kos_bench, kos_bench_stage) on the local MariaDB (`kos stack start`).
The events are generated and cached in Spark first, so only the write is timed; each run starts
from an empty table. The job runs through spark-submit with available-now on a fresh checkpoint;
its own clock (query start to end) is what counts. Results: out/bench/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers import pyarrow and KOS

from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from scratch import BENCH_DB, BENCH_STAGE, ScratchTopics, bench_database, truncate  # noqa: E402

from jobs import messages  # noqa: E402
from jobs.database import Database  # noqa: E402
from jobs.events_table import write_events  # noqa: E402
from jobs.protobuf import to_protobuf  # noqa: E402
from kos import config as kos_config  # noqa: E402
from kos.kafka_client import spark_options  # noqa: E402

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


def load_job(cfg: kos_config.Config, events: DataFrame, owner: Database, repeat: int) -> list[float]:
    """The events as ProcessEvent records in a fresh topic; spark-submit jobs/load.py over them, ``repeat`` times
    (plus a warm-up), each into an empty table from a fresh checkpoint: the job's own seconds."""
    with ScratchTopics(cfg) as topics:
        return _load_job(cfg, events, owner, repeat, topics.new("parsed"), topics.new("dl"))


def _load_job(cfg: kos_config.Config, events: DataFrame, owner: Database, repeat: int, topic: str,
              dead_letter_topic: str) -> list[float]:
    structs = events.select(F.struct(
        "event_time", "host", "process", "pid", "service", "action",
        F.struct(F.col("source").alias("source"), F.col("file").alias("file"), F.col("line_offset").alias("offset"))
        .alias("origin"),
        F.struct(F.col("kafka_topic").alias("topic"), F.col("kafka_partition").alias("partition"),
                 F.col("kafka_offset").alias("offset"), F.col("event_time").alias("timestamp")).alias("raw"),
    ).alias("message"))
    (structs.select(to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=messages.DESCRIPTORS
                                .read_bytes()).alias("value"))
     .write.format("kafka").options(**spark_options(cfg)).option("topic", topic).save())
    seconds = []
    for _ in range(repeat + 1):
        truncate(owner)
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_KAFKA_PARSED_TOPIC=topic,
                   KOS_KAFKA_DEAD_LETTER_TOPIC=dead_letter_topic, KOS_MYSQL_DATABASE=BENCH_DB,
                   KOS_MYSQL_STAGE_DATABASE=BENCH_STAGE,
                   KOS_SPARK_CHECKPOINT_DIR=str(PROJECT / "out" / "bench" / "checkpoints" / uuid.uuid4().hex))
        done = subprocess.run([str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]",
                               "--driver-memory", "4g", "--packages", ",".join(cfg.spark.job_packages("load")),
                               str(PROJECT / "jobs" / "load.py"), "--available-now"],
                              env=env, capture_output=True, text=True)
        match = re.search(r"kos-load: (\d+) records, (\d+) rows added.* ([\d.]+) s \(", done.stdout)
        if done.returncode != 0 or not match or int(match.group(2)) != count(owner):
            raise SystemExit(f"the load job failed: {(done.stdout + done.stderr)[-2000:]}")
        seconds.append(float(match.group(3)))
    return seconds[1:]


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
    owner, loader = bench_database(cfg)

    spark = (SparkSession.builder.master("local[2]").appName("kos-bench-load")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.jars.packages", ",".join(cfg.spark.job_packages("load")))
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

    spool = PROJECT / "out" / "bench" / "load"
    sink = [timed(lambda i=i: write_events(events, i, loader, "bench", spool)) for i in range(args.repeat + 1)][1:]
    reference = [timed(lambda: load_data(owner, tsv)) for _ in range(args.repeat + 1)][1:]
    job = load_job(cfg, events, owner, args.repeat)
    spark.stop()
    j = statistics.median(job)

    s, r = statistics.median(sink), statistics.median(reference)
    result = {
        "events": args.events, "runs": args.repeat,
        "write_events_s": round(s, 2), "write_events_spread_s": round(max(sink) - min(sink), 2),
        "write_events_per_s": round(args.events / s), "load_data_s": round(r, 2),
        "load_data_spread_s": round(max(reference) - min(reference), 2), "load_data_per_s": round(args.events / r),
        "share_of_load_data": round(r / s, 2),
        "load_job_s": round(j, 2), "load_job_per_s": round(args.events / j),
    }
    print(f"{args.events:,} events, median of {args.repeat} after a warm-up")
    print(f"  write_events (ledger + LOAD DATA, load account)  {s:7.2f} s  {args.events / s:>10,.0f} events/s")
    print(f"  LOAD DATA LOCAL INFILE (reference)               {r:7.2f} s  {args.events / r:>10,.0f} events/s")
    print(f"  sink / LOAD DATA                                 {r / s:7.2f}")
    print(f"  jobs/load.py from Kafka (its own clock)          {j:7.2f} s  {args.events / j:>10,.0f} events/s")
    (PROJECT / "out" / "bench" / "load.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
