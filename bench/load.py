"""Load benchmark: jobs/load.py from Kafka next to MariaDB's own LOAD DATA LOCAL INFILE of the same rows, contents
compared.

    python bench/load.py [--events 1000000] [--repeat 3] [--batch 250000] [--profile]

``--events`` generated process events (20 hosts, 7 processes, 500 services, 30 days) are written once as
``kos.v1.ProcessEvent`` records into a fresh topic, and once as a LOAD DATA file of the same rows. Each round,
side by side, into an empty ``process_events`` of the database kos_bench:

- the reference: one ``LOAD DATA LOCAL INFILE`` of the prepared file (the load account), timed alone;
- ``spark-submit jobs/load.py --available-now`` as `kos job load` submits it, over the topic from a fresh
  checkpoint, in batches of ``--batch`` records (``max_offsets_per_trigger``): its steady state is the full
  batches after the first (whose time holds the cold JVM), rows over their ``triggerExecution`` (the query's
  progress events in its Spark event log); with the first counted too, rows over every batch's time; of a steady
  batch, the time of its Spark job (read, decode, Arrow to the driver; ``load_job_spark_job_s``), the rest being
  the driver's ``LOAD DATA`` and commit;
- the same job taking everything in one batch (its own clock, query start to end).

Checked after every run: the rows the job says it added equal the events generated, and a checksum over every
column of every row equals the reference's. The floor of a steady batch, beside it: its rows loaded alone (the
first measured run's batches, read again at their offsets, written as the sink writes them, then loaded one after
the other from an empty table with nothing else running: ``insert_alone_steady_s``), and the CPU seconds each
process tree took in it, sampled every 0.1 s (the job's ``spark-submit``, MariaDB, the broker:
``load_job_steady_cpu_s``; their sum over the batch's seconds, ``load_job_steady_cores_busy``, of 2).
``--profile``: the load's steps timed one by one on a warm local
session (decode and bring to the driver as Arrow, the LOAD DATA file, MariaDB's LOAD DATA), to show where a
batch's time goes. Medians of ``--repeat`` rounds after a warm-up. Results: out/bench/load.json
(``job_share_of_load_data``, ``job_share_with_first_batch``; ``load-3M.json`` for ``--events 3000000``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from eventlog import batches_ms, progress  # noqa: E402
from eventlog import profile as spark_jobs  # noqa: E402
from fixtures import BENCH_DB, ScratchTopics, bench_database, servers, truncate  # noqa: E402
from processes import CpuSampler, medians  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobs import messages  # noqa: E402
from jobs.recipes import recipe  # noqa: E402
from kos import config as kos_config  # noqa: E402
from kos.kafka_client import spark_options  # noqa: E402
from kosctl.commands import spark_submit  # noqa: E402
from kosproto import to_protobuf  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.events_sink import FITTED, TIMES  # noqa: E402
from storage.events_sink import load_data_file as sink_file  # noqa: E402

# Every column the load writes; the checksum runs over all of them.
COLUMNS = ("event_time", "host", "process", "pid", "service", "action", "origin_source", "origin_file",
           "origin_offset", "kafka_topic", "kafka_partition", "kafka_offset", "raw_timestamp")
# LOAD DATA's columns for a file as the sink writes it (times as microseconds since the epoch).
SINK_COLUMNS = ("(" + ", ".join("@" + c if c.endswith("_us") else c for c in FITTED if c != "cut") + ") SET "
                + ", ".join(f"{c} = TIMESTAMPADD(MICROSECOND, @{c}_us, TIMESTAMP'1970-01-01 00:00:00')" for c in TIMES))


def generated_events(spark: SparkSession, n: int) -> DataFrame:
    """``n`` ProcessEvent structs as the transform writes them: 20 hosts, 7 processes, 500 services, 30 days."""
    seq = F.col("id")
    processes = F.array(*(F.lit(p) for p in ("systemd", "dbus-daemon", "cron", "sshd", "gdm-x-session",
                                              "NetworkManager", "snapd")))
    event_time = (F.lit("2026-03-01 00:00:00").cast("timestamp")
                  + F.make_interval(secs=((seq * 7919) % 2592000).cast("decimal(18,6)") + (seq % 1000000) / 1e6))
    return spark.range(n).select(F.struct(
        event_time.alias("event_time"),
        F.concat(F.lit("host-"), (seq % 20).cast("string")).alias("host"),
        processes[(seq * 31) % 7].alias("process"),
        F.when(seq % 17 != 0, seq % 32768).alias("pid"),
        F.concat(F.lit("service-"), ((seq * seq) % 500).cast("string"), F.lit(".service")).alias("service"),
        F.when(seq % 3 == 0, "ACTIVATED").otherwise("STARTED").alias("action"),
        F.struct(F.lit("bench").alias("source"), F.lit("bench-file").alias("file"), (seq * 120).alias("offset"))
        .alias("origin"),
        F.struct(F.lit("kos-raw-os-log").alias("topic"), (seq % 3).cast("int").alias("partition"),
                 seq.alias("offset"), (event_time + F.expr("INTERVAL 2 SECONDS")).alias("timestamp")).alias("raw"),
    ).alias("message"))


def offsets(position: str | dict | None) -> dict[str, dict[str, int]] | None:
    """A Kafka source's offsets in a progress report (JSON text or already parsed): {topic: {partition: offset}};
    None for the start of a first batch."""
    return json.loads(position) if isinstance(position, str) else position


def load_data_file(events: DataFrame, path: Path) -> None:
    """The events' rows as LOAD DATA's default text format (tab-separated, ``\\N`` for null)."""
    m = "message."
    rows = events.select(
        F.date_format(m + "event_time", "yyyy-MM-dd HH:mm:ss.SSSSSS"), m + "host", m + "process",
        F.coalesce(F.col(m + "pid").cast("string"), F.lit("\\N")), m + "service", m + "action", m + "origin.source",
        m + "origin.file", m + "origin.offset", m + "raw.topic", m + "raw.partition", m + "raw.offset",
        F.date_format(m + "raw.timestamp", "yyyy-MM-dd HH:mm:ss.SSSSSS"))
    with open(path, "w") as f:
        for row in rows.toLocalIterator():
            f.write("\t".join(str(v) for v in row) + "\n")


def load_data(db: Database, tsv: Path, columns: str = "") -> float:
    """Seconds of one LOAD DATA LOCAL INFILE of ``tsv`` and its commit."""
    import mysql.connector

    conn = mysql.connector.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                                   database=db.database, allow_local_infile=True, time_zone="+00:00",
                                   allow_local_infile_in_path=str(tsv.parent))
    try:
        started = time.perf_counter()
        conn.cursor().execute(f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE process_events CHARACTER SET utf8mb4 "
                              f"FIELDS TERMINATED BY '\\t' {columns or '(' + ', '.join(COLUMNS) + ')'}")
        conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


def checksum(db: Database) -> tuple[int, int]:
    """The rows of process_events and a checksum over every column the load writes (order-independent)."""
    columns = ", ".join(f"IFNULL(CAST(`{c}` AS CHAR), '<null>')" for c in COLUMNS)
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*), BIT_XOR(CRC32(CONCAT_WS('|', {columns}))) "
                    f"+ SUM(CRC32(CONCAT_WS('|', {columns}))) FROM process_events")
        count, digest = cur.fetchone()
        return int(count), int(digest or 0)


def load_job(cfg: kos_config.Config, topic: str, dead: str, batch: int) -> dict:
    """``spark-submit jobs/load.py --available-now`` over ``topic`` from a fresh checkpoint into kos_bench: its
    summary, and its batches from its event log."""
    with tempfile.TemporaryDirectory() as scratch:
        summary, event_log = Path(scratch) / "summary.json", Path(scratch) / "events"
        event_log.mkdir()
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, KOS_KAFKA_PARSED_TOPIC=topic,
                   KOS_KAFKA_DEAD_LETTER_TOPIC=dead, KOS_MYSQL_DATABASE=BENCH_DB,
                   KOS_SPARK_MAX_OFFSETS_PER_TRIGGER=str(batch),
                   KOS_SPARK_CHECKPOINT_DIR=str(Path(scratch) / "checkpoints"))
        argv = spark_submit(cfg, "load", "--available-now", "--summary", str(summary))
        argv[1:1] = ["--conf", f"spark.eventLog.dir={event_log.as_uri()}", "--conf", "spark.eventLog.enabled=true"]
        started = time.perf_counter()
        job = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=PROJECT)
        with CpuSampler({"spark-submit": job.pid, **servers(cfg)}) as cpu:
            output, _ = job.communicate()
        whole = time.perf_counter() - started
        if job.returncode != 0 or not summary.exists():
            raise SystemExit(f"the load job failed: {output[-3000:]}")
        log = next(event_log.iterdir())
        reports = progress(log)
        found = batches_ms(reports)
        for b, report in zip(found, reports, strict=True):
            begun = datetime.fromisoformat(report["timestamp"].replace("Z", "+00:00")).timestamp()
            b["cpu_s"] = cpu.between(begun, begun + report["durationMs"]["triggerExecution"] / 1000)
            b["offsets"] = [offsets(report["sources"][0][end]) for end in ("startOffset", "endOffset")]
        jobs = [job.get("ms", 0) for job in spark_jobs(log)["jobs"]]
        read = [b for b in found if b["rows"]]
        if len(jobs) == len(read):  # one Spark job a batch (no dead letters to send)
            for b, ms in zip(read, jobs, strict=True):
                b["spark_job"] = ms
        return dict(json.loads(summary.read_text()), whole=whole, batches_ms=found)


def steady_batches(summary: dict, batch: int) -> list[dict]:
    """The full batches after the first (a short last batch, the topic's remainder, holds the fixed cost of a
    batch over few rows)."""
    return [b for b in summary["batches_ms"][1:] if b["rows"] >= 0.9 * batch]


def steady(summary: dict, batch: int) -> tuple[int, float]:
    """Rows and seconds of the steady batches."""
    later = steady_batches(summary, batch)
    return sum(b["rows"] for b in later), sum(b["triggerExecution"] for b in later) / 1000


def steady_cpu(summary: dict, batch: int) -> dict[str, float]:
    """CPU seconds a steady batch takes in each process tree (the job's, MariaDB's, the broker's), on average."""
    later = steady_batches(summary, batch)
    return {name: sum(b["cpu_s"][name] for b in later) / len(later) for name in later[0]["cpu_s"]}


def loadable(table: pa.Table) -> pa.Table:
    """The rows of ``messages.load_rows`` that the sink writes (no reason to put them aside), as it takes them."""
    return table.filter(pc.invert(pc.is_valid(table["reason"]))).select(list(FITTED))


def insert_alone(cfg: kos_config.Config, spark: SparkSession, summary: dict, loader: Database,
                 owner: Database) -> dict[int, float]:
    """Each batch of a job run, its rows (read again from Kafka at the batch's offsets, decoded and written as the
    sink writes them) loaded alone into process_events as it was, one after the other from an empty table, nothing
    else running: seconds of each ``LOAD DATA`` and its commit. What MariaDB alone needs for the job's batches."""
    descriptors = cfg.path(cfg.kafka.descriptor_set).read_bytes()
    with tempfile.TemporaryDirectory() as spool:
        files = {}
        for b in (b for b in summary["batches_ms"] if b["rows"]):
            start, end = b["offsets"]
            topic, end = next(iter(end.items()))
            start = start[topic] if start else {partition: -2 for partition in end}  # -2: the earliest
            records = (spark.read.format("kafka").options(**spark_options(cfg)).option("subscribe", topic)
                       .option("includeHeaders", "true").option("startingOffsets", json.dumps({topic: start}))
                       .option("endingOffsets", json.dumps({topic: end})).load())
            files[b["batch"]] = Path(spool) / f"batch-{b['batch']}.tsv"
            files[b["batch"]].write_bytes(sink_file(loadable(messages.load_rows(records, descriptors).toArrow())))
        truncate(owner)
        return {batch: load_data(loader, tsv, SINK_COLUMNS) for batch, tsv in files.items()}


def every_batch(summary: dict) -> float:
    """Seconds of every batch that read rows, the first included."""
    return sum(b["triggerExecution"] for b in summary["batches_ms"] if b["rows"]) / 1000


def profile(cfg: kos_config.Config, spark: SparkSession, topic: str, loader: Database, owner: Database,
            repeat: int) -> dict[str, float]:
    """The load's steps one by one over the whole topic, warm, on the driver: decode and sort out into the rows
    as the sink writes them (Arrow), the LOAD DATA file, MariaDB's LOAD DATA of it. Median seconds of each."""
    descriptors = cfg.path(cfg.kafka.descriptor_set).read_bytes()
    batch = (spark.read.format("kafka").options(**spark_options(cfg)).option("subscribe", topic)
             .option("includeHeaders", "true").load().cache())
    batch.count()
    steps: dict[str, list[float]] = {"decode and sort out, to the driver as Arrow": [], "the LOAD DATA file": [],
                                     "MariaDB's LOAD DATA of it": []}
    for round_ in range(repeat + 1):
        truncate(owner)
        started = time.perf_counter()
        rows = loadable(messages.load_rows(batch, descriptors).toArrow())
        decoded_s = time.perf_counter() - started
        started = time.perf_counter()
        data = sink_file(rows)
        file_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as spool:
            tsv = Path(spool) / "rows.tsv"
            tsv.write_bytes(data)
            load_s = load_data(loader, tsv, SINK_COLUMNS)
        if round_:
            for name, seconds in zip(steps, (decoded_s, file_s, load_s), strict=True):
                steps[name].append(seconds)
    batch.unpersist()
    return {name: round(statistics.median(s), 2) for name, s in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=250_000, help="max_offsets_per_trigger of the steady runs")
    parser.add_argument("--profile", action="store_true", help="time the load's steps one by one")
    args = parser.parse_args()

    cfg = kos_config.load()
    owner, loader = bench_database(cfg)
    spark = (SparkSession.builder.master("local[2]").appName("kos-bench-load")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.jars.packages", ",".join(recipe(cfg, "load").packages))
             .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    events = generated_events(spark, args.events).cache()
    events.count()
    out = PROJECT / "out" / "bench"
    tsv = out / "load" / "events.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    load_data_file(events, tsv)
    descriptors = cfg.path(cfg.kafka.descriptor_set).read_bytes()

    reference: list[float] = []
    batched: list[dict] = []
    whole: list[dict] = []
    with ScratchTopics(cfg) as topics:
        topic, dead = topics.new("parsed"), topics.new("dl")
        (events.select(to_protobuf("message", messages.PROCESS_EVENT, binaryDescriptorSet=descriptors).alias("value"))
         .write.format("kafka").options(**spark_options(cfg)).option("topic", topic).save())
        expected = None

        def check(what: str, added: int | None = None) -> None:
            nonlocal expected
            found = checksum(owner)
            if added is not None and added != args.events:
                raise SystemExit(f"{what} added {added} rows, not {args.events}")
            if found[0] != args.events or (expected is not None and found != expected):
                raise SystemExit(f"{what}: the table holds {found[0]} rows with checksum {found[1]}, the reference "
                                 f"{expected}")
            expected = expected or found

        for round_ in range(args.repeat + 1):
            truncate(owner)
            seconds = load_data(loader, tsv)
            check("LOAD DATA")
            for runs, batch in ((batched, args.batch), (whole, 0)):
                truncate(owner)
                summary = load_job(cfg, topic, dead, batch)
                check(f"jobs/load.py (batches of {batch or 'everything'})", summary["added"])
                runs += [summary] if round_ else []
            reference += [seconds] if round_ else []
        alone = insert_alone(cfg, spark, batched[0], loader, owner)
        check("the job's batches loaded alone")
        steps = profile(cfg, spark, topic, loader, owner, args.repeat) if args.profile else {}
    spark.stop()

    r = statistics.median(reference)
    steady_rows, steady_s = map(statistics.median, zip(*(steady(s, args.batch) for s in batched), strict=True))
    w = statistics.median(s["seconds"] for s in whole)
    result = {
        "events": args.events, "rounds": args.repeat, "batch": args.batch,
        "load_data_s": round(r, 2), "load_data_per_s": round(args.events / r),
        "load_job_batches": batched[0]["batches"], "load_job_steady_rows": int(steady_rows),
        "load_job_steady_s": round(steady_s, 2), "load_job_per_s": round(steady_rows / steady_s),
        "load_job_first_batch_s": round(statistics.median(s["batches_ms"][0]["triggerExecution"] for s in batched)
                                        / 1000, 2),
        "load_job_batch_s": round(steady_s / max(1, round(steady_rows / args.batch)), 2),
        "load_job_one_batch_s": round(w, 2), "load_job_one_batch_per_s": round(args.events / w),
        "load_job_batches_ms": batched[0]["batches_ms"], "profile_s": steps,
    }
    # Of a steady batch, its Spark job (read, decode, to the driver as Arrow); the rest is the driver's LOAD DATA.
    spark_job = [b["spark_job"] for s in batched for b in s["batches_ms"][1:]
                 if b["rows"] >= 0.9 * args.batch and "spark_job" in b]
    result["load_job_spark_job_s"] = round(statistics.median(spark_job) / 1000, 2) if spark_job else None
    # The floor of a steady batch: its rows loaded alone, and the CPU each process took in it (of two cores).
    result["insert_alone_batch_s"] = {b: round(s, 2) for b, s in alone.items()}
    result["insert_alone_steady_s"] = round(statistics.median(
        alone[b["batch"]] for b in steady_batches(batched[0], args.batch)), 2)
    result["load_job_steady_cpu_s"] = medians([steady_cpu(s, args.batch) for s in batched])
    result["load_job_steady_cores_busy"] = round(sum(result["load_job_steady_cpu_s"].values())
                                                 / result["load_job_batch_s"], 2)
    result["job_share_of_load_data"] = round(result["load_job_per_s"] / result["load_data_per_s"], 2)
    with_first = statistics.median(every_batch(s) for s in batched)
    result["load_job_with_first_batch_per_s"] = round(args.events / with_first)
    result["job_share_with_first_batch"] = round(args.events / with_first / result["load_data_per_s"], 2)
    print(f"{args.events:,} events, medians of {args.repeat} rounds after a warm-up; every run's rows checked")
    print(f"  LOAD DATA LOCAL INFILE (reference)          {r:7.2f} s  {result['load_data_per_s']:>10,} events/s")
    print(f"  jobs/load.py, batches of {args.batch:,}, steady   {steady_s:7.2f} s  {result['load_job_per_s']:>10,} "
          f"events/s ({result['load_job_batch_s']} s a batch after the first, the first "
          f"{result['load_job_first_batch_s']} s): {result['job_share_of_load_data']}x LOAD DATA "
          f"({result['job_share_with_first_batch']}x with the first batch)")
    print(f"  jobs/load.py, one batch (its own clock)     {w:7.2f} s  {result['load_job_one_batch_per_s']:>10,} "
          "events/s")
    print(f"  of a steady batch: its rows loaded alone {result['insert_alone_steady_s']} s; CPU seconds "
          + ", ".join(f"{name} {v}" for name, v in result["load_job_steady_cpu_s"].items())
          + f" ({result['load_job_steady_cores_busy']} of the 2 cores busy)")
    for name, seconds in steps.items():
        print(f"  step: {name:40} {seconds:6.2f} s")
    size = "" if args.events == 1_000_000 else f"-{args.events / 1_000_000:g}M"
    (out / f"load{size}.json").write_text(json.dumps(result, indent=2))
    print(f"written to {out / f'load{size}.json'}")


if __name__ == "__main__":
    main()
